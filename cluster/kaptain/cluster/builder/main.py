"""The executor's entry point: Kaniko's command line, build, push, digest files, exit code."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from kaptain.cluster.builder.build import Builder, BuildSettings
from kaptain.cluster.builder.context import fetch_context
from kaptain.cluster.builder.errors import BuildError
from kaptain.cluster.builder.flags import FlagError, Options, parse_flags
from kaptain.cluster.builder.image import BuiltImage
from kaptain.cluster.builder.log import BuildLog
from kaptain.cluster.builder.paths import data_dir, input_path, output_path
from kaptain.cluster.builder.push import check_push_access, push_image
from kaptain.cluster.builder.registry_client import TransportOptions
from kaptain.cluster.images.mapping import BaseImageMapping, MappingError
from kaptain.cluster.images.reference import ImageReference, ReferenceError

USAGE = """Usage:
  python -m kaptain.cluster.builder [flags]   (Kaniko's executor flags)

Flags:
  -c, --context string            dir://path, tar://path.tar.gz, s3://bucket/key.tar.gz or a path
      --context-sub-path string   sub path within the context
  -f, --dockerfile string         Dockerfile path, relative to the context (default "Dockerfile")
  -d, --destination stringArray   registry/repository:tag to push to (repeatable)
      --label stringArray         key=value label (repeatable)
      --build-arg stringArray     ARG=value (repeatable)
      --cache                     reuse cached RUN results
      --cache-dir string          cache directory (default <data-dir>/build-cache)
      --cache-ttl duration        cache entry lifetime (default 336h)
      --registry-certificate      registry=/path/ca.pem (repeatable)
      --skip-tls-verify           do not verify registry certificates
      --insecure                  push over plain HTTP
      --insecure-registry string  registry reachable over plain HTTP (repeatable)
      --insecure-pull             pull over plain HTTP
      --no-push                   build only
      --target string             the stage to build
      --reproducible              strip timestamps
      --digest-file string        write the image digest here
      --image-name-with-digest-file string      write <image>@<digest> lines here
      --image-name-tag-with-digest-file string  write <image:tag>@<digest> lines here
  -v, --verbosity string          panic|fatal|error|warn|info|debug|trace (default "info")
"""


def main(argv: list[str] | None = None) -> int:
    """Runs the builder.

    Args:
        argv: the arguments (default `sys.argv[1:]`).

    Returns:
        The exit code: 0 on success, 1 on a usage or build error.
    """
    args = sys.argv[1:] if argv is None else argv
    if "-h" in args or "--help" in args:
        print(USAGE)
        return 0
    try:
        options = parse_flags(args)
    except FlagError as e:
        print(f"Error: {e}", file=sys.stderr)
        print("Run 'python -m kaptain.cluster.builder --help' for usage.", file=sys.stderr)
        return 1
    log = BuildLog(options.verbosity, timestamps=options.log_timestamp)
    try:
        _run(options, log)
    except BuildError as e:
        log.error(f"error building image: {e}")
        return 1
    return 0


def _run(options: Options, log: BuildLog) -> None:
    started = time.monotonic()
    destinations = [_destination(d) for d in options.destinations]
    data = data_dir()
    cache_dir = input_path(options.cache_dir) if options.cache_dir else data / "build-cache"
    for directory in (cache_dir, data / "pip-cache", data / "builds"):
        directory.mkdir(parents=True, exist_ok=True)
    try:
        mapping = BaseImageMapping.load(data)
    except MappingError as e:
        raise BuildError(f"base-image mapping: {e}") from e
    for name in options.ignored:
        log.debug(f"--{name} has no effect on the local builder")
    transport = TransportOptions(
        certificates=options.registry_certificates,
        skip_verify=options.skip_tls_verify or options.skip_tls_verify_pull,
        skip_verify_registries=options.skip_tls_verify_registries,
        insecure_registries=options.insecure_registries,
    )
    settings = BuildSettings(
        cache_dir=cache_dir, pip_cache_dir=data / "pip-cache", transport=transport, mapping=mapping
    )
    push_transport = TransportOptions(
        certificates=options.registry_certificates,
        skip_verify=options.skip_tls_verify,
        skip_verify_registries=options.skip_tls_verify_registries,
        insecure_registries=options.insecure_registries,
    )
    if not options.no_push:
        for destination in destinations:
            check_push_access(destination, push_transport, insecure=options.insecure, log=log)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=data / "builds"))
    try:
        context = fetch_context(options.context, options.context_sub_path, work, log)
        image = Builder(options, context, work / "build", settings, log).build()
        if options.no_push:
            log.info("Skipping push to container registry due to --no-push flag")
        else:
            for destination in destinations:
                push_image(image, destination, push_transport, insecure=options.insecure, log=log)
            log.info(f"Pushed image to {len(destinations)} destinations")
        _write_digest_files(options, image, destinations)
        log.info(f"Image digest: {image.manifest_digest}")
        log.info(f"Build finished in {time.monotonic() - started:.1f}s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _destination(text: str) -> ImageReference:
    try:
        ref = ImageReference.parse(text)
    except ReferenceError as e:
        raise BuildError(f"invalid --destination {text}: {e}") from e
    if ref.digest is not None:
        raise BuildError(f"invalid --destination {text}: push by tag, not by digest")
    if ref.host is None:
        raise BuildError(f"invalid --destination {text}: name the registry (host:port/repository:tag)")
    return ref


def _write_digest_files(options: Options, image: BuiltImage, destinations: list[ImageReference]) -> None:
    digest = image.manifest_digest
    outputs: list[tuple[str | None, str]] = [
        (options.digest_file, digest),
        (
            options.image_name_with_digest_file,
            "".join(f"{d.host}/{d.repository}@{digest}\n" for d in destinations),
        ),
        (
            options.image_name_tag_with_digest_file,
            "".join(f"{d.host}/{d.repository}:{d.tag or 'latest'}@{digest}\n" for d in destinations),
        ),
    ]
    for name, content in outputs:
        if name:
            path = output_path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
