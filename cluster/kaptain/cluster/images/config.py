"""Image config blobs (Docker/OCI image config JSON) and Kaptain's runtime marker in them.

Images built by the local Kaniko carry, besides the standard fields, a top-level `kaptain` object
(unknown top-level fields are ignored by Docker and OCI tools):

    "kaptain": {
      "base": "python:3.11",                        # the mapped base image the chain started FROM
      "python": "/usr/bin/python3",                 # the interpreter it mapped to at build time
      "pythonPath": ["/.kaptain/site-packages/1",   # site-packages dirs (image paths), this
                     "/.kaptain/site-packages/0"]   # image's first, then its parents'
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MARKER_KEY = "kaptain"
SITE_PACKAGES_ROOT = "/.kaptain/site-packages"


class ConfigError(ValueError):
    """A config blob that is not an image config."""


@dataclass(frozen=True)
class ImageConfig:
    """The runtime-relevant fields of an image config.

    Attributes:
        env: `Env` as a dict.
        entrypoint: `Entrypoint`.
        cmd: `Cmd`.
        working_dir: `WorkingDir`.
        labels: `Labels`.
        user: `User`.
        diff_ids: `rootfs.diff_ids` (digests of the uncompressed layers).
        base: the Kaptain marker's base image reference, or None.
        python: the Kaptain marker's interpreter, or None.
        python_path: the Kaptain marker's site-packages image paths, highest priority first.
        raw: the whole parsed config.
    """

    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    user: str = ""
    diff_ids: list[str] = field(default_factory=list)
    base: str | None = None
    python: str | None = None
    python_path: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes) -> ImageConfig:
        """Parses a config blob.

        Args:
            data: the blob.

        Returns:
            The config.

        Raises:
            ConfigError: the blob is not a JSON object.
        """
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"image config is not JSON: {e}") from e
        if not isinstance(raw, dict):
            raise ConfigError("image config is not a JSON object")
        config = raw.get("config") or {}
        marker = raw.get(MARKER_KEY) or {}
        rootfs = raw.get("rootfs") or {}
        return cls(
            env=env_dict(config.get("Env") or []),
            entrypoint=_strings(config.get("Entrypoint")),
            cmd=_strings(config.get("Cmd")),
            working_dir=str(config.get("WorkingDir") or ""),
            labels={str(k): str(v) for k, v in (config.get("Labels") or {}).items()},
            user=str(config.get("User") or ""),
            diff_ids=_strings(rootfs.get("diff_ids")),
            base=marker.get("base") if isinstance(marker.get("base"), str) else None,
            python=marker.get("python") if isinstance(marker.get("python"), str) else None,
            python_path=_strings(marker.get("pythonPath")),
            raw=raw,
        )


def env_dict(env: list[str]) -> dict[str, str]:
    """`["K=V", ...]` as a dict (later entries win, as in Docker).

    Args:
        env: the config's `Env`.

    Returns:
        The dict.
    """
    result: dict[str, str] = {}
    for item in env:
        key, _, value = str(item).partition("=")
        if key:
            result[key] = value
    return result


def env_list(env: dict[str, str]) -> list[str]:
    """A dict as the config's `["K=V", ...]`.

    Args:
        env: the environment.

    Returns:
        The list, in insertion order.
    """
    return [f"{k}={v}" for k, v in env.items()]


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v) for v in value]
