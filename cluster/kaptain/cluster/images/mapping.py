"""The mapping from well-known base images to this machine's Python runtime.

Pods and builds on the embedded cluster do not run container images: a reference such as
`python:3.11` or `pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime` stands for "a Python with these
libraries", which on a laptop is the interpreter the cluster runs with (where torch, tensorflow or
kserve are installed). This module is the one place that decides which references are such base
images and what they run with; the kubelet (through `ImageStore`) and the local Kaniko builder both
use it.

Default entries (first match wins), all mapped to the interpreter running the cluster
(`sys.executable`):

    python:*                          docker.io/library/python:*
    pytorch/pytorch:*                 tensorflow/tensorflow:*
    mesosphere/kubeflow:*             kserve/*
    gcr.io/kaniko-project/executor*   (entrypoint: <python> -m kaptain.cluster.builder)

A pod whose image is the Kaniko executor therefore runs the local builder with Kaniko's own
arguments. Its entry also sets `DOCKER_CONFIG=/kaniko/.docker/` (Kaniko's default, an image path),
`KAPTAIN_DATA_DIR` (the cluster's data dir: pip cache and build cache) and passes
`KAPTAIN_IMAGE_MAP` through.

Patterns are `fnmatch` patterns (`*` also matches `/`), tried against the reference as written,
its familiar form (`python:3.11`) and its normalized form (`docker.io/library/python:3.11`; an
untagged reference gets `:latest`). Digest references match as `name@sha256:<hex>`.

Configuration, checked before the defaults (the environment first, then the file):

- the file `<data-dir>/images.yaml` (YAML or JSON), and
- the environment variable `KAPTAIN_IMAGE_MAP`: inline JSON/YAML (starting with `{`) or the
  path of such a file.

Format: an object whose keys are patterns, in priority order. A value is

- a string: the path of the Python interpreter to run;
- `null` or `true`: the default interpreter (`sys.executable` of the cluster);
- `false`: the pattern is *not* a base image (a way to switch a default entry off; matching
  references then resolve like any unknown image);
- an object with the optional keys `python` (interpreter path), `env` (object of strings, the
  image's environment), `entrypoint` and `cmd` (lists of strings; `{python}` in them is replaced
  by the interpreter path) and `workingDir` (string).

Example `images.yaml`:

    "python:3.7*": /opt/python3.7/bin/python3.7
    "my-org/trainer-base:*":
      python: /opt/venvs/trainer/bin/python
      env: {OMP_NUM_THREADS: "1"}
    "tensorflow/tensorflow:*": false
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kaptain.cluster.images.reference import ImageReference, ReferenceError

ENV_VAR = "KAPTAIN_IMAGE_MAP"
FILE_NAME = "images.yaml"
PYTHON_PLACEHOLDER = "{python}"
KANIKO_PATTERN = "gcr.io/kaniko-project/executor*"
BUILDER_MODULE = "kaptain.cluster.builder"

_DEFAULT_PATTERNS = (
    "python:*",
    "docker.io/library/python:*",
    "pytorch/pytorch:*",
    "tensorflow/tensorflow:*",
    "mesosphere/kubeflow:*",
    "kserve/*",
)
_ENTRY_KEYS = {"python", "env", "entrypoint", "cmd", "workingDir"}


class MappingError(ValueError):
    """A mapping file or `KAPTAIN_IMAGE_MAP` value that does not follow the documented format."""


@dataclass(frozen=True)
class BaseImage:
    """What a base image runs with on this machine.

    Attributes:
        pattern: the mapping pattern that matched.
        python: the interpreter that `python`/`python3` in the image stand for.
        env: the image's environment.
        entrypoint: the image's ENTRYPOINT (already with `{python}` substituted).
        cmd: the image's CMD.
        working_dir: the image's WORKDIR ("" when unset).
    """

    pattern: str
    python: str
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    working_dir: str = ""


@dataclass(frozen=True)
class _Entry:
    pattern: str
    image: BaseImage | None  # None: the pattern is switched off


class BaseImageMapping:
    """An ordered list of pattern → runtime entries; the first matching entry wins.

    Args:
        entries: the entries in priority order (build them with `load` or `defaults`).
        default_python: the interpreter used where nothing else names one (`sys.executable`).
    """

    def __init__(self, entries: Sequence[_Entry], *, default_python: str | None = None) -> None:
        self._entries = list(entries)
        self.default_python = default_python or sys.executable

    @classmethod
    def defaults(cls, *, python: str | None = None, data_dir: Path | None = None) -> BaseImageMapping:
        """The built-in entries only.

        Args:
            python: the interpreter base images run with; default `sys.executable`.
            data_dir: the cluster's data dir, passed to the Kaniko builder as `KAPTAIN_DATA_DIR`.

        Returns:
            The mapping.
        """
        default_python = python or sys.executable
        return cls(_default_entries(default_python, data_dir, None), default_python=default_python)

    @classmethod
    def load(
        cls,
        data_dir: Path | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        python: str | None = None,
    ) -> BaseImageMapping:
        """The mapping configured for a data dir: `KAPTAIN_IMAGE_MAP`, then `images.yaml`, then defaults.

        Args:
            data_dir: where `images.yaml` may be; None for no file.
            environ: the environment to read `KAPTAIN_IMAGE_MAP` from; default `os.environ`.
            python: the default interpreter; default `sys.executable`.

        Returns:
            The mapping.

        Raises:
            MappingError: a configuration source is malformed or names a missing interpreter.
        """
        env = os.environ if environ is None else environ
        default_python = python or sys.executable
        entries: list[_Entry] = []
        raw_env = env.get(ENV_VAR, "").strip()
        if raw_env:
            if raw_env.startswith("{"):
                entries += _parse(_load_text(raw_env, ENV_VAR), default_python, ENV_VAR)
            else:
                entries += _parse(_load_file(Path(raw_env)), default_python, raw_env)
        if data_dir is not None and (data_dir / FILE_NAME).is_file():
            path = data_dir / FILE_NAME
            entries += _parse(_load_file(path), default_python, str(path))
        entries += _default_entries(default_python, data_dir, raw_env or None)
        return cls(entries, default_python=default_python)

    def match(self, reference: str | ImageReference) -> BaseImage | None:
        """The base image a reference stands for.

        Args:
            reference: an image reference.

        Returns:
            The runtime of the first matching entry, or None when no entry matches (or the
            matching entry is switched off).
        """
        forms = _forms(reference)
        for entry in self._entries:
            if any(fnmatch.fnmatchcase(form, entry.pattern) for form in forms):
                return entry.image
        return None

    @property
    def patterns(self) -> list[str]:
        """The patterns in priority order (for diagnostics)."""
        return [entry.pattern for entry in self._entries]


def _forms(reference: str | ImageReference) -> list[str]:
    text = str(reference)
    try:
        parsed = reference if isinstance(reference, ImageReference) else ImageReference.parse(text)
    except ReferenceError:
        return [text]
    return list(dict.fromkeys([text, parsed.familiar(), parsed.normalized()]))


def _default_entries(python: str, data_dir: Path | None, image_map: str | None) -> list[_Entry]:
    entries = [_Entry(pattern, BaseImage(pattern=pattern, python=python)) for pattern in _DEFAULT_PATTERNS]
    kaniko_env = {"DOCKER_CONFIG": "/kaniko/.docker/"}
    if data_dir is not None:
        kaniko_env["KAPTAIN_DATA_DIR"] = str(data_dir)
    if image_map is not None:
        kaniko_env[ENV_VAR] = image_map
    kaniko = BaseImage(
        pattern=KANIKO_PATTERN,
        python=python,
        env=kaniko_env,
        entrypoint=[python, "-m", BUILDER_MODULE],
        working_dir="/workspace",
    )
    entries.append(_Entry(KANIKO_PATTERN, kaniko))
    return entries


def _load_text(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise MappingError(f"{source}: not valid JSON/YAML: {e}") from e


def _load_file(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as e:
        raise MappingError(f"cannot read image mapping {path}: {e.strerror}") from e
    return _load_text(text, str(path))


def _parse(data: Any, default_python: str, source: str) -> list[_Entry]:
    if data is None:
        return []
    if not isinstance(data, dict):
        raise MappingError(f"{source}: expected an object of pattern -> runtime, got {type(data).__name__}")
    entries: list[_Entry] = []
    for pattern, value in data.items():
        if not isinstance(pattern, str) or not pattern:
            raise MappingError(f"{source}: patterns must be non-empty strings, got {pattern!r}")
        entries.append(_Entry(pattern, _parse_value(pattern, value, default_python, source)))
    return entries


def _parse_value(pattern: str, value: Any, default_python: str, source: str) -> BaseImage | None:
    where = f"{source}: entry {pattern!r}"
    if value is False:
        return None
    if value is None or value is True:
        return BaseImage(pattern=pattern, python=default_python)
    if isinstance(value, str):
        return BaseImage(pattern=pattern, python=_check_python(value, where))
    if not isinstance(value, dict):
        raise MappingError(f"{where}: expected a string, null, a boolean or an object")
    unknown = set(value) - _ENTRY_KEYS
    if unknown:
        raise MappingError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_ENTRY_KEYS)})")
    python = default_python if value.get("python") is None else _check_python(value["python"], where)
    env = value.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
        raise MappingError(f"{where}: env must be an object of strings")
    working_dir = value.get("workingDir") or ""
    if not isinstance(working_dir, str):
        raise MappingError(f"{where}: workingDir must be a string")
    return BaseImage(
        pattern=pattern,
        python=python,
        env={k: str(v) for k, v in env.items()},
        entrypoint=_argv(value.get("entrypoint"), python, f"{where}: entrypoint"),
        cmd=_argv(value.get("cmd"), python, f"{where}: cmd"),
        working_dir=working_dir,
    )


def _argv(value: Any, python: str, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MappingError(f"{where} must be a list of strings")
    return [v.replace(PYTHON_PLACEHOLDER, python) for v in value]


def _check_python(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise MappingError(f"{where}: python must be a path")
    if not os.access(value, os.X_OK):
        raise MappingError(f"{where}: python interpreter {value} does not exist or is not executable")
    return value


def dump(mapping: Mapping[str, Any]) -> str:
    """Serializes a mapping configuration (pattern → value) as JSON for `KAPTAIN_IMAGE_MAP`.

    Args:
        mapping: pattern → value, as documented in the module docstring.

    Returns:
        JSON text.
    """
    return json.dumps(dict(mapping))
