"""Installing an image's Python packages with pip, isolated from the host and from other images.

Each build gets a throwaway virtual environment created from the base image's interpreter. A
`.pth` file in it makes visible, in this order, the site-packages of the image's parents and the
interpreter's own `sys.path` (what the base image "has": torch for `pytorch/pytorch`, ...). So
pip skips requirements the base already satisfies, installs everything else into the venv only
(pip never uninstalls what lies outside the environment it runs in), and the host stays
untouched. Afterwards the venv's site-packages, minus that `.pth`, become the image's
`/.kaptain/site-packages/<n>`.

pip runs with the host's pip configuration (`PIP_INDEX_URL`, `pip.conf`: a local mirror works)
and a shared download/wheel cache (`<data-dir>/pip-cache`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path

from kaptain.cluster.builder.errors import BuildError
from kaptain.cluster.builder.log import BuildLog

BASE_PTH = "_kaptain_image_base.pth"
# Variables that would make the build's pip look at, or write to, somewhere other than the venv.
_HOST_ONLY = {
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PIP_TARGET",
    "PIP_PREFIX",
    "PIP_USER",
    "PIP_ROOT",
}
_IMAGE_ENV_SKIPPED = {"PATH", "HOME", "LD_LIBRARY_PATH"} | _HOST_ONLY
_DROPPED = {"--no-cache-dir", "--no-cache", "--user"}
_REJECTED = {"--target", "-t", "--prefix", "--root", "--editable", "-e"}
_FILE_OPTIONS = {"-r", "--requirement", "-c", "--constraint"}

Locate = Callable[[str], Path | None]


class PipEnvironment:
    """The build's private virtual environment for `pip install`.

    Args:
        python: the base image's interpreter.
        work: a scratch directory (the venv is created in it).
        parent_paths: site-packages of the images this one builds on, highest priority first.
        cache_dir: pip's cache directory.
        log: the build log.
    """

    def __init__(
        self, python: str, work: Path, parent_paths: list[Path], cache_dir: Path, log: BuildLog
    ) -> None:
        self.python = python
        self.venv = work / "venv"
        self.parent_paths = parent_paths
        self.cache_dir = cache_dir
        self.log = log
        self._site_dirs: list[Path] = []

    @property
    def created(self) -> bool:
        """Whether the venv exists (the first `pip install` creates it)."""
        return bool(self._site_dirs)

    def create(self) -> None:
        """Creates the venv and its `.pth` (idempotent).

        Raises:
            BuildError: the interpreter cannot create a venv.
        """
        if self.created:
            return
        env = _clean_env(os.environ)
        _run([self.python, "-m", "venv", "--without-pip", str(self.venv)], env)
        venv_python = str(self.venv / "bin" / "python")
        query = "import json, sys, sysconfig; p = sysconfig.get_paths(); print(json.dumps([p['purelib'], p['platlib'], sys.path]))"
        venv_info = json.loads(_run([venv_python, "-c", query], env))
        host_info = json.loads(_run([self.python, "-c", query], env))
        self._site_dirs = list(dict.fromkeys(Path(p) for p in venv_info[:2]))
        for d in self._site_dirs:
            d.mkdir(parents=True, exist_ok=True)
        known = set(venv_info[2])
        host_paths = [p for p in host_info[2] if p and p not in known and os.path.isdir(p)]
        lines = [str(p) for p in self.parent_paths]
        if host_paths:
            lines.append(f"import site; list(map(site.addsitedir, {host_paths!r}))")
        (self._site_dirs[0] / BASE_PTH).write_text("\n".join(lines) + "\n")

    def install(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        """Runs `pip install` in the venv, streaming its output to the build log.

        Args:
            args: pip's arguments (already prepared by `prepare_args`).
            env: the image's environment (ENV, ARG) and the command's assignments.
            cwd: the host directory standing for the RUN's working directory.

        Raises:
            BuildError: pip failed.
        """
        self.create()
        command = [
            str(self.venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            *args,
            "--cache-dir",
            str(self.cache_dir),
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--no-input",
            "--progress-bar",
            "off",
        ]
        full_env = _clean_env(os.environ)
        full_env.update({k: v for k, v in env.items() if k not in _IMAGE_ENV_SKIPPED})
        full_env["PYTHONNOUSERSITE"] = "1"
        with subprocess.Popen(
            command,
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                self.log.raw(line)
            code = process.wait()
        if code != 0:
            raise BuildError(f"pip install exited with code {code}")

    def save(self, archive: Path) -> None:
        """Writes the installed packages to a tar archive (for the layer cache).

        Args:
            archive: the archive to write.
        """
        with tarfile.open(archive, "w") as tar:
            for index, directory in enumerate(self._site_dirs):
                for entry in sorted(directory.iterdir()):
                    if entry.name != BASE_PTH:
                        tar.add(entry, arcname=f"{index}/{entry.name}")

    def restore(self, archive: Path) -> None:
        """Replaces the installed packages with those saved by `save`.

        Args:
            archive: the archive.

        Raises:
            BuildError: the archive is unreadable.
        """
        self.create()
        for directory in self._site_dirs:
            for entry in directory.iterdir():
                if entry.name != BASE_PTH:
                    shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        staging = self.venv / "restore"
        try:
            with tarfile.open(archive, "r") as tar:
                tar.extractall(staging, filter="tar")
        except (tarfile.TarError, OSError) as e:
            raise BuildError(f"cached layer {archive.name} is unreadable: {e}") from e
        for index, directory in enumerate(self._site_dirs):
            source = staging / str(index)
            if source.is_dir():
                for entry in source.iterdir():
                    entry.rename(directory / entry.name)
        shutil.rmtree(staging)

    def export(self, dest: Path) -> bool:
        """Moves the installed packages into the image's site-packages directory.

        Args:
            dest: `<upper>/.kaptain/site-packages/<n>`.

        Returns:
            True when anything was installed.
        """
        moved = False
        for directory in self._site_dirs:
            for entry in sorted(directory.iterdir()):
                if entry.name == BASE_PTH:
                    continue
                dest.mkdir(parents=True, exist_ok=True)
                target = dest / entry.name
                if target.exists():
                    continue
                entry.rename(target)
                moved = True
        return moved


def prepare_args(args: list[str], locate: Locate, log: BuildLog) -> list[str]:
    """Adapts `pip install` arguments to an image build.

    Requirement/constraint files and local paths are resolved in the image being built (its
    new files first, then its parents'); `--no-cache-dir` and `--user` are dropped (the cache is
    shared on purpose; the image's site-packages is the only target).

    Args:
        args: the arguments after `install`.
        locate: maps an image path (relative ones are taken from the RUN's directory) to a host
            path, or None when the image has no such file.
        log: the build log.

    Returns:
        The arguments to pass to pip.

    Raises:
        BuildError: options choosing another install location, editable installs, or a missing
            requirements file.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        name, eq, value = arg.partition("=")
        if name in _DROPPED:
            log.info(
                f"pip option {name} ignored: packages go to the image's site-packages, the cache is shared"
            )
            continue
        if name in _REJECTED:
            raise BuildError(f"pip option {name} is not supported in an image build")
        short_file = next((o for o in ("-r", "-c") if arg.startswith(o) and len(arg) > 2), None)
        if name in _FILE_OPTIONS or short_file:
            if short_file:
                option, path = short_file, arg[2:]
            elif eq:
                option, path = name, value
            else:
                if i >= len(args):
                    raise BuildError(f"pip option {name} needs a file")
                option, path = name, args[i]
                i += 1
            host = locate(path)
            if host is None or not host.is_file():
                raise BuildError(f"pip: requirements file {path} does not exist in the image")
            out += [option, str(host)]
            continue
        if not arg.startswith("-") and (arg in (".", "..") or arg.startswith(("./", "../", "/"))):
            host = locate(arg)
            if host is None:
                raise BuildError(f"pip: {arg} does not exist in the image")
            out.append(str(host))
            continue
        out.append(arg)
    return out


def _run(argv: list[str], env: dict[str, str]) -> str:
    try:
        result = subprocess.run(
            argv, env=env, cwd="/", capture_output=True, text=True, check=False, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BuildError(f"cannot run {argv[0]}: {e}") from e
    if result.returncode != 0:
        raise BuildError(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout


def _clean_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in _HOST_ONLY}
