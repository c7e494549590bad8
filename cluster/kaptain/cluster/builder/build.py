"""Running a Dockerfile: instructions in order, producing one layer with the build's new files.

The build's new files live in an "upper" directory (COPY/ADD results, WORKDIR directories, and the
packages pip installed, under `/.kaptain/site-packages/<n>`, n being the depth of the image chain);
the parent image's files, if any, are the read-only "lower" directory. At the end the upper
directory becomes one gzip layer on top of the parent's layers.
"""

from __future__ import annotations

import json
import os
import posixpath
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kaptain.cluster.builder.base import BaseSpec, resolve_base
from kaptain.cluster.builder.cache import CacheKey, RunCache, checksum_files
from kaptain.cluster.builder.context import dockerignore
from kaptain.cluster.builder.dockerfile import (
    Instruction,
    expand,
    parse_dockerfile,
    select_stage,
    split_stages,
    split_words,
)
from kaptain.cluster.builder.errors import BuildError, DockerfileError
from kaptain.cluster.builder.files import CopyRequest, copy_into
from kaptain.cluster.builder.flags import Options
from kaptain.cluster.builder.image import BuiltImage, ImageState, assemble
from kaptain.cluster.builder.layer import write_layer
from kaptain.cluster.builder.log import BuildLog
from kaptain.cluster.builder.paths import input_path
from kaptain.cluster.builder.pip import PipEnvironment, prepare_args
from kaptain.cluster.builder.registry_client import TransportOptions
from kaptain.cluster.builder.shell import ShellError, parse_run, run_script
from kaptain.cluster.images.config import SITE_PACKAGES_ROOT
from kaptain.cluster.images.mapping import BaseImageMapping

METADATA = {"USER", "EXPOSE", "VOLUME", "STOPSIGNAL", "MAINTAINER"}
SUPPORTED = {"ARG", "ENV", "LABEL", "WORKDIR", "COPY", "ADD", "RUN", "ENTRYPOINT", "CMD"} | METADATA


@dataclass(frozen=True)
class BuildSettings:
    """Where a build keeps things and how it reaches registries."""

    cache_dir: Path
    pip_cache_dir: Path
    transport: TransportOptions
    mapping: BaseImageMapping


class Builder:
    """Builds one image from a context directory.

    Args:
        options: the command line.
        context: the build context directory.
        work: a private scratch directory (removed by the caller).
        settings: caches, transport and mapping.
        log: the build log.
    """

    def __init__(
        self, options: Options, context: Path, work: Path, settings: BuildSettings, log: BuildLog
    ) -> None:
        self.options = options
        self.context = context
        self.work = work
        self.settings = settings
        self.log = log
        self.upper = work / "upper"
        self.upper.mkdir(parents=True)
        self.excluded = dockerignore(context)
        self.cache = RunCache(settings.cache_dir, options.cache_ttl_seconds)
        self.args: dict[str, str] = {}
        self.build_args = _build_args(options.build_args)
        self.base: BaseSpec | None = None
        self.state = ImageState()
        self.pip: PipEnvironment | None = None
        self._current: Instruction | None = None
        self._global_defaults: dict[str, str] = {}

    def build(self) -> BuiltImage:
        """Runs the build.

        Returns:
            The image.

        Raises:
            BuildError: anything that stops the build (DockerfileError for the Dockerfile).
        """
        instructions = parse_dockerfile(self._dockerfile().read_text())
        global_args = self._global_args(instructions)
        _head, stages = split_stages(instructions, global_args)
        stage = select_stage(stages, self.options.target)
        _validate(stage.instructions)
        self.log.info(f"Building stage '{stage.base}' [idx: '{stage.index}', base-idx: '-1']")
        base = resolve_base(
            stage.base,
            self.settings.mapping,
            self.settings.cache_dir,
            self.settings.transport,
            insecure_pull=self.options.insecure_pull,
            log=self.log,
        )
        self.base = base
        self.state = ImageState.from_base(base)
        self._global_defaults = global_args
        key = CacheKey(base.identity)
        for ins in stage.instructions:
            self.log.info(ins.text)
            self._execute(ins, key)
        return self._finish(base)

    # Instructions

    def _execute(self, ins: Instruction, key: CacheKey) -> None:
        scope = self._scope()
        kw = ins.keyword
        if kw == "ARG":
            for word in split_words(ins.rest, scope, ins.escape):
                name, eq, default = word.partition("=")
                value = self.build_args.get(name, default if eq else self._global_defaults.get(name, ""))
                self.args[name] = value
            key.add(ins.text, json.dumps(self.args, sort_keys=True))
        elif kw in ("ENV", "LABEL"):
            pairs = _pairs(ins, scope)
            target = self.state.env if kw == "ENV" else self.state.labels
            for name, value in pairs:
                target[name] = value
                if kw == "LABEL":
                    self.log.info(f"Applying label {name}={value}")
            key.add(ins.text, json.dumps(pairs))
        elif kw == "WORKDIR":
            path = expand(ins.rest, scope, ins.escape)
            workdir = posixpath.normpath(posixpath.join(self.state.workdir or "/", path))
            self.state.workdir = workdir
            self.log.info(f"Changed working directory to {workdir}")
            if not self._image_path_is_dir(workdir):
                self.log.info(f"Creating directory {workdir}")
                self._upper(workdir).mkdir(parents=True, exist_ok=True)
            key.add(ins.text, workdir)
        elif kw in ("COPY", "ADD"):
            key.add(ins.text, self._copy(ins, scope))
        elif kw == "RUN":
            self._run(ins, scope, key)
        elif kw in ("ENTRYPOINT", "CMD"):
            argv = ins.exec_form()
            if argv is None:
                argv = ["/bin/sh", "-c", ins.rest]
            if kw == "ENTRYPOINT":
                self.state.entrypoint = argv
                # Docker: an ENTRYPOINT resets the CMD inherited from the base.
                self.state.cmd = []
            else:
                self.state.cmd = argv
            key.add(ins.text)
        else:
            self._metadata(ins, scope)
            key.add(ins.text)
        self.state.history.append(ins.text)

    def _metadata(self, ins: Instruction, scope: Mapping[str, str]) -> None:
        if ins.keyword == "USER":
            self.state.user = expand(ins.rest, scope, ins.escape)
        elif ins.keyword == "EXPOSE":
            for port in split_words(ins.rest, scope, ins.escape):
                self.state.exposed_ports[port if "/" in port else f"{port}/tcp"] = {}
        elif ins.keyword == "VOLUME":
            paths = ins.exec_form() or split_words(ins.rest, scope, ins.escape)
            for path in paths:
                self.state.volumes[path] = {}
        elif ins.keyword == "STOPSIGNAL":
            self.state.stop_signal = expand(ins.rest, scope, ins.escape)
        elif ins.keyword == "MAINTAINER":
            self.state.author = ins.rest
        self.log.debug(f"{ins.keyword} recorded as image metadata")

    def _copy(self, ins: Instruction, scope: Mapping[str, str]) -> str:
        for flag in ("chown", "chmod"):
            if flag in ins.flags:
                self.log.info(
                    f"{ins.keyword} --{flag} ignored: image files belong to the user running the pod"
                )
        words = ins.exec_form()
        words = (
            [expand(w, scope, ins.escape) for w in words]
            if words
            else split_words(ins.rest, scope, ins.escape)
        )
        if len(words) < 2:
            raise DockerfileError(ins.line, f"{ins.keyword} needs at least one source and a destination")
        request = CopyRequest(
            sources=words[:-1],
            dest=words[-1],
            workdir=self.state.workdir,
            add=ins.keyword == "ADD",
            line=ins.line,
        )
        copied = copy_into(request, self.context, self.upper, self.excluded, self._image_path_is_dir)
        return checksum_files(self.context, copied)

    def _run(self, ins: Instruction, scope: Mapping[str, str], key: CacheKey) -> None:
        command: str | list[str] = ins.exec_form() or ins.rest
        try:
            nodes = parse_run(command, scope)
        except ShellError as e:
            raise DockerfileError(ins.line, f"{ins.text}: {e}") from e
        run_key = key.add(ins.text, json.dumps(dict(scope), sort_keys=True))
        if self.options.cache:
            self.log.info(f"Checking for cached layer {run_key}...")
            cached = self.cache.lookup(run_key)
            if cached is not None:
                self.log.info(f"Using caching version of cmd: {ins.text}")
                self._pip_environment(ins).restore(cached)
                return
            self.log.info(f"No cached layer found for cmd {ins.text}")
        shown = command if isinstance(command, list) else ["/bin/sh", "-c", command]
        self.log.info(f"Running: [{' '.join(shown)}]")
        started = time.monotonic()
        self._current = ins
        run_script(nodes, self, self.state.workdir or "/")
        self.log.info(f"RUN took {time.monotonic() - started:.1f}s")
        if self.options.cache:
            scratch = self.cache.scratch()
            self._pip_environment(ins).save(scratch)
            self.cache.store(run_key, scratch, ins.text)
            self.log.info(f"Pushing layer {run_key} to cache now")

    # ShellHost

    def exists(self, image_path: str, op: str) -> bool:
        """File tests of `if [ ... ]` against the image's files (new, then inherited)."""
        path = self._locate(image_path)
        if path is None:
            return False
        if op == "-f":
            return path.is_file()
        if op == "-d":
            return path.is_dir()
        if op == "-s":
            return path.is_file() and path.stat().st_size > 0
        if op == "-r":
            return os.access(path, os.R_OK)
        return True

    def pip_install(self, args: list[str], env: dict[str, str], cwd: str) -> None:
        """Runs `pip install` for the current RUN."""
        assert self._current is not None, "pip_install runs only inside a RUN"
        pip = self._pip_environment(self._current)

        def locate(path: str) -> Path | None:
            return self._locate(posixpath.normpath(posixpath.join(cwd, path)))

        prepared = prepare_args(args, locate, self.log)
        host_cwd = self._locate(cwd)
        if host_cwd is None or not host_cwd.is_dir():
            host_cwd = self._upper(cwd)
            host_cwd.mkdir(parents=True, exist_ok=True)
        pip.install(prepared, {**self._scope(), **env}, host_cwd)

    def echo(self, text: str) -> None:
        """`echo` in a RUN."""
        self.log.raw(text + "\n")

    # Helpers

    def _finish(self, base: BaseSpec) -> BuiltImage:
        python_path = list(base.python_path)
        if self.pip is not None and self.pip.created:
            depth = len(base.python_path)
            target = f"{SITE_PACKAGES_ROOT}/{depth}"
            if self.pip.export(self._upper(target)):
                python_path.insert(0, target)
                self.log.info(f"Installed packages go to {target}")
        layer = None
        if any(self.upper.iterdir()):
            self.log.info("Taking snapshot of files...")
            layer = write_layer(
                self.upper, self.work / "layer.tar.gz", reproducible=self.options.reproducible
            )
        labels = dict(self.options.labels)
        for name, value in labels.items():
            self.log.info(f"Applying label {name}={value}")
        self.state.labels.update(labels)
        return assemble(self.state, base, layer, python_path, reproducible=self.options.reproducible)

    def _pip_environment(self, ins: Instruction) -> PipEnvironment:
        assert self.base is not None
        if self.base.python is None:
            raise DockerfileError(
                ins.line, f"{ins.text}: FROM {self.base.reference} has no Python runtime for pip"
            )
        if self.pip is None:
            lower = self.base.lower
            parents = [lower / p.lstrip("/") for p in self.base.python_path] if lower is not None else []
            self.pip = PipEnvironment(
                self.base.python, self.work, parents, self.settings.pip_cache_dir, self.log
            )
        return self.pip

    def _scope(self) -> dict[str, str]:
        return {**self.args, **self.state.env}

    def _upper(self, image_path: str) -> Path:
        rel = posixpath.normpath("/" + image_path).lstrip("/")
        return self.upper / rel if rel else self.upper

    def _locate(self, image_path: str) -> Path | None:
        rel = posixpath.normpath("/" + image_path).lstrip("/")
        upper = self.upper / rel
        if upper.exists():
            return upper
        lower = self.base.lower if self.base is not None else None
        if lower is not None and (lower / rel).exists():
            return lower / rel
        return None

    def _image_path_is_dir(self, image_path: str) -> bool:
        path = self._locate(image_path)
        return path is not None and path.is_dir()

    def _dockerfile(self) -> Path:
        name = self.options.dockerfile
        path = input_path(name) if os.path.isabs(name) and input_path(name).is_file() else self.context / name
        if not path.is_file():
            raise BuildError(f"Dockerfile {name} does not exist in the build context")
        return path

    def _global_args(self, instructions: list[Instruction]) -> dict[str, str]:
        values: dict[str, str] = {}
        for ins in instructions:
            if ins.keyword == "FROM":
                break
            if ins.keyword == "ARG":
                for word in split_words(ins.rest, values, ins.escape):
                    name, eq, default = word.partition("=")
                    values[name] = self.build_args.get(name, default if eq else "")
        return values


def _validate(instructions: list[Instruction]) -> None:
    for ins in instructions:
        if ins.keyword not in SUPPORTED:
            raise DockerfileError(
                ins.line,
                f"{ins.keyword} is not supported by the local builder (supported: {', '.join(sorted(SUPPORTED))})",
            )
        if ins.keyword == "RUN":
            if "mount" in ins.flags or "network" in ins.flags or "security" in ins.flags:
                raise DockerfileError(
                    ins.line, f"{ins.text}: RUN options are not supported by the local builder"
                )
            try:
                parse_run(ins.exec_form() or ins.rest, {})
            except ShellError as e:
                raise DockerfileError(ins.line, f"{ins.text}: {e}") from e
        if ins.keyword == "ADD":
            for word in ins.exec_form() or ins.rest.split()[:-1]:
                if "://" in word:
                    raise DockerfileError(
                        ins.line, f"ADD {word}: downloading URLs is not supported by the local builder"
                    )


def _pairs(ins: Instruction, scope: Mapping[str, str]) -> list[tuple[str, str]]:
    words = split_words(ins.rest, scope, ins.escape)
    if words and "=" not in words[0]:
        # Legacy form `ENV key value with spaces`.
        name, _, rest = ins.rest.strip().partition(" ")
        return [(name, expand(rest.strip(), scope, ins.escape))]
    pairs = []
    for word in words:
        name, eq, value = word.partition("=")
        if not eq or not name:
            raise DockerfileError(ins.line, f"{ins.keyword} expects key=value pairs, got {word!r}")
        pairs.append((name, value))
    return pairs


def _build_args(values: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values:
        name, eq, value = item.partition("=")
        # `--build-arg NAME` takes the value from the environment, as Docker does.
        result[name] = value if eq else os.environ.get(name, "")
    return result
