"""Docker image references: parsing and checking.

A reference is ``[registry/]path[:tag][@digest]`` following the grammar of the Docker
distribution project, with one extra rule: everything must be lowercase, registry host included,
so that the same image is never spelled two ways.

* ``registry`` is ``host[:port]``; the first component counts as a registry when it contains a
  ``.`` or a ``:``, or is ``localhost``.
* ``path`` is ``/``-separated components of lowercase letters and digits, joined inside a
  component by ``.``, ``_``, ``__`` or any number of ``-``.
* ``tag`` is up to 128 characters of letters, digits, ``_``, ``.`` and ``-``, not starting with
  ``.`` or ``-``.
* ``digest`` is ``sha256:`` followed by 64 hex digits (or another algorithm with its hex digest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DOCKER_HUB", "ImageReference", "parse_image_reference"]

DOCKER_HUB = "docker.io"
"""The registry of references that name none."""

_MAX_NAME_LENGTH = 255
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_HOST = re.compile(
    r"(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])(?:\.(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9]))*(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_TAG_RULE = "must be up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-f]{32,}")


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A parsed Docker image reference.

    Attributes:
        registry: ``host[:port]`` of the registry, or None when the reference names none
            (Docker Hub).
        repository: The path inside the registry, e.g. ``kaptain/mnist``.
        tag: The tag, or None.
        digest: The digest (``sha256:…``), or None.
    """

    registry: str | None
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The reference without tag and digest: ``[registry/]repository``."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def registry_host(self) -> str:
        """The registry to talk to: :attr:`registry`, or :data:`DOCKER_HUB` when there is none."""
        return self.registry or DOCKER_HUB

    def with_tag(self, tag: str) -> ImageReference:
        """The same image with another tag (and no digest).

        Raises:
            ValueError: ``tag`` is not a valid tag.
        """
        if _TAG.fullmatch(tag) is None:
            raise ValueError(f"tag {_TAG_RULE} (got {tag!r})")
        return ImageReference(self.registry, self.repository, tag, None)

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse_image_reference(
    reference: str, *, field: str = "image", allow_digest: bool = True
) -> ImageReference:
    """Parse and check a Docker image reference.

    Args:
        reference: The reference, e.g. ``"registry.local:5000/kaptain/mnist:0.0.1"``.
        field: The name used in error messages.
        allow_digest: Whether ``@digest`` may be given (a push destination takes none).

    Returns:
        The parsed reference.

    Raises:
        ValueError: The reference breaks the grammar, is not lowercase, or has a digest where
            none is allowed.
    """
    if not isinstance(reference, str):
        raise ValueError(f"{field} must be a string (got {type(reference).__name__})")
    rest = reference.strip()
    if not rest:
        raise ValueError(f"{field} must not be blank")
    digest: str | None = None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not allow_digest:
            raise ValueError(
                f"{field} must not contain a digest ('@...'), only an optional tag (got {reference!r})"
            )
        if _DIGEST.fullmatch(digest) is None:
            raise ValueError(
                f"{field} has an invalid digest; expected e.g. 'sha256:<64 hex>' (got {reference!r})"
            )
    tag: str | None = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if _TAG.fullmatch(tag) is None:
            raise ValueError(f"{field} has an invalid tag: a tag {_TAG_RULE} (got {reference!r})")
    if rest != rest.lower():
        raise ValueError(f"{field} must be lowercase, except in the tag (got {reference!r})")
    if len(rest) > _MAX_NAME_LENGTH:
        raise ValueError(f"{field} must name a repository of at most {_MAX_NAME_LENGTH} characters")
    parts = rest.split("/")
    registry: str | None = None
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0)
        if _HOST.fullmatch(registry) is None:
            raise ValueError(f"{field} has an invalid registry host {registry!r}; expected host[:port]")
    if not all(_COMPONENT.fullmatch(part) for part in parts):
        raise ValueError(
            f"{field} must be '/'-separated components of lowercase letters and digits, joined by "
            f"'.', '_', '__' or '-' (got {reference!r})"
        )
    return ImageReference(registry, "/".join(parts), tag, digest)
