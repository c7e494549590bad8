"""Container image references (`[host[:port]/]path[:tag][@sha256:hex]`) as Docker parses them.

Follows the grammar of the Docker distribution `reference` package: the first path component is
a registry host when it contains a `.` or a `:` or is `localhost`; a tag follows the last `:` after
the last `/`; a digest follows `@`. Docker Hub images have a short ("familiar") form
(`python:3.11`) and a normalized one (`docker.io/library/python:3.11`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_LOCAL_HOSTNAMES = {"127.0.0.1", "localhost", "[::1]", "::1"}

# Path components and tags exactly as the distribution reference grammar allows them.
PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{PATH_COMPONENT}(?:/{PATH_COMPONENT})*$")
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


class ReferenceError(ValueError):
    """An image reference that does not follow the reference grammar."""


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference.

    Attributes:
        host: the registry host (with port) or None when the reference names none.
        repository: the repository path (`kaptain/mnist`, `library/python` only if written so).
        tag: the tag, or None.
        digest: `sha256:<hex>`, or None.
    """

    host: str | None
    repository: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parses a reference.

        Args:
            text: e.g. `127.0.0.1:5000/kaptain/mnist:v1`, `python:3.11`, `repo@sha256:...`.

        Returns:
            The parsed reference.

        Raises:
            ReferenceError: the text is not a valid reference.
        """
        rest = text.strip()
        if not rest:
            raise ReferenceError("empty image reference")
        digest: str | None = None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            if not DIGEST_RE.match(digest):
                raise ReferenceError(f"invalid digest in image reference {text!r}")
        host: str | None = None
        first, sep, remainder = rest.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
            host, rest = first, remainder
        tag: str | None = None
        last_slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > last_slash:
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not TAG_RE.match(tag):
                raise ReferenceError(f"invalid tag in image reference {text!r}")
        if not REPOSITORY_RE.match(rest):
            raise ReferenceError(f"invalid repository name in image reference {text!r}")
        return cls(host=host, repository=rest, tag=tag, digest=digest)

    @property
    def is_docker_hub(self) -> bool:
        """Whether the reference points at Docker Hub (no host, or one of its aliases)."""
        return self.host is None or self.host in _HUB_ALIASES

    def is_loopback(self) -> bool:
        """Whether the host is this machine (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`)."""
        if self.host is None:
            return False
        hostname = self.host.rsplit(":", 1)[0] if not self.host.endswith("]") else self.host
        return hostname in _LOCAL_HOSTNAMES

    def familiar(self) -> str:
        """The short form Docker prints (`python:3.11`, `pytorch/pytorch:2.1`, `gcr.io/x/y:1`)."""
        if self.is_docker_hub:
            repository = self.repository.removeprefix("library/")
            return self._with_suffix(repository)
        return self._with_suffix(f"{self.host}/{self.repository}")

    def normalized(self) -> str:
        """The fully qualified form (`docker.io/library/python:3.11`), `latest` when untagged."""
        if self.is_docker_hub:
            repository = self.repository if "/" in self.repository else f"library/{self.repository}"
            name = f"{DOCKER_HUB}/{repository}"
        else:
            name = f"{self.host}/{self.repository}"
        tag = self.tag if self.tag is not None or self.digest is not None else "latest"
        return _join(name, tag, self.digest)

    def __str__(self) -> str:
        name = self.repository if self.host is None else f"{self.host}/{self.repository}"
        return _join(name, self.tag, self.digest)

    def _with_suffix(self, name: str) -> str:
        return _join(name, self.tag, self.digest)


def _join(name: str, tag: str | None, digest: str | None) -> str:
    text = name
    if tag is not None:
        text += f":{tag}"
    if digest is not None:
        text += f"@{digest}"
    return text
