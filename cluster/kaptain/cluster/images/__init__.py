"""Images on the embedded cluster: resolving references to unpacked registry images or to the host's
Python runtime through one configurable base-image mapping (see `mapping.py` for its format).

Public API: `ImageStore`, `ResolvedImage`, `BaseImageMapping`, `BaseImage`, `ImageReference`,
`ImageConfig`.
"""

from kaptain.cluster.images.config import ImageConfig
from kaptain.cluster.images.mapping import BaseImage, BaseImageMapping, MappingError
from kaptain.cluster.images.reference import ImageReference, ReferenceError
from kaptain.cluster.images.resolved import ResolvedImage
from kaptain.cluster.images.store import ImageStore

__all__ = [
    "BaseImage",
    "BaseImageMapping",
    "ImageConfig",
    "ImageReference",
    "ImageStore",
    "MappingError",
    "ReferenceError",
    "ResolvedImage",
]
