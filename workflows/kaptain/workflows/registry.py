"""Contract of the registry activity: does the registry hold an image, and with which labels?"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from kaptain.workflows.specs import RegistrySpec

__all__ = ["CHECKSUM_LABEL", "FIND_IMAGE", "ImageInfo", "ImageQuery"]

FIND_IMAGE: Final = "kaptain.find_image"

CHECKSUM_LABEL: Final = "checksum"
"""The image label holding the model's content checksum (``LABEL checksum=<md5>``)."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ImageQuery(BaseModel):
    """Look an image up by name and tag.

    Attributes:
        image: ``registry/repository:tag``.
        registry: Credentials and CA of the registry.
    """

    model_config = _FROZEN

    image: str
    registry: RegistrySpec


class ImageInfo(BaseModel):
    """What the registry says about an image.

    Attributes:
        exists: Whether the tag exists.
        digest: The manifest's digest, when it exists.
        labels: The image config's labels (``checksum`` among them).
    """

    model_config = _FROZEN

    exists: bool
    digest: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
