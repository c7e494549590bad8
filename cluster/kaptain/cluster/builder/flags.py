"""Kaniko's command line (`/kaniko/executor` flags), parsed the way Kaniko's pflag does.

Value flags take `--flag=value` or `--flag value` (and `-c`, `-f`, `-d`, `-v` short forms);
boolean flags take `--flag` or `--flag=true|false`; repeatable flags (`--destination`, `--label`,
`--build-arg`, `--registry-certificate`, ...) accumulate. Flags that only tune how real Kaniko
snapshots or caches a filesystem are accepted and have no effect here (`IGNORED_*`). Anything else
is an error, as with Kaniko.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VALUE_FLAGS = {
    "context": "c",
    "context-sub-path": None,
    "dockerfile": "f",
    "destination": "d",
    "label": None,
    "build-arg": None,
    "cache-dir": None,
    "cache-repo": None,
    "cache-ttl": None,
    "registry-certificate": None,
    "skip-tls-verify-registry": None,
    "insecure-registry": None,
    "verbosity": "v",
    "digest-file": None,
    "image-name-with-digest-file": None,
    "image-name-tag-with-digest-file": None,
    "target": None,
    "log-format": None,
    "push-retry": None,
    "image-fs-extract-retry": None,
    "snapshot-mode": None,
    "custom-platform": None,
    "ignore-path": None,
    "kaniko-dir": None,
}
BOOL_FLAGS = {
    "cache",
    "no-push",
    "insecure",
    "insecure-pull",
    "skip-tls-verify",
    "skip-tls-verify-pull",
    "reproducible",
    "cleanup",
    "single-snapshot",
    "use-new-run",
    "log-timestamp",
    "compressed-caching",
    "force",
    "ignore-var-run",
    "skip-unused-stages",
    "cache-copy-layers",
    "cache-run-layers",
}
REPEATABLE = {
    "destination",
    "label",
    "build-arg",
    "registry-certificate",
    "skip-tls-verify-registry",
    "insecure-registry",
    "ignore-path",
}
# Accepted for compatibility; they tune real Kaniko's snapshotting, retries or cache repository.
IGNORED_VALUE_FLAGS = {
    "cache-repo",
    "push-retry",
    "image-fs-extract-retry",
    "snapshot-mode",
    "custom-platform",
    "ignore-path",
    "kaniko-dir",
    "log-format",
}
IGNORED_BOOL_FLAGS = {
    "cleanup",
    "single-snapshot",
    "use-new-run",
    "compressed-caching",
    "force",
    "ignore-var-run",
    "skip-unused-stages",
    "cache-copy-layers",
    "cache-run-layers",
}
_SHORT = {short: name for name, short in VALUE_FLAGS.items() if short}
VERBOSITIES = ("panic", "fatal", "error", "warn", "info", "debug", "trace")
_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}


class FlagError(ValueError):
    """A command line Kaniko would reject."""


@dataclass
class Options:
    """The build as the command line describes it (names follow Kaniko's flags)."""

    context: str = "dir:///workspace/"
    context_sub_path: str = ""
    dockerfile: str = "Dockerfile"
    destinations: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    build_args: list[str] = field(default_factory=list)
    cache: bool = False
    cache_dir: str | None = None
    cache_ttl_seconds: float = 336 * 3600.0
    registry_certificates: dict[str, str] = field(default_factory=dict)
    skip_tls_verify: bool = False
    skip_tls_verify_pull: bool = False
    skip_tls_verify_registries: list[str] = field(default_factory=list)
    insecure: bool = False
    insecure_pull: bool = False
    insecure_registries: list[str] = field(default_factory=list)
    no_push: bool = False
    verbosity: str = "info"
    log_timestamp: bool = False
    digest_file: str | None = None
    image_name_with_digest_file: str | None = None
    image_name_tag_with_digest_file: str | None = None
    target: str | None = None
    reproducible: bool = False
    ignored: list[str] = field(default_factory=list)


def parse_flags(argv: list[str]) -> Options:
    """Parses Kaniko's flags.

    Args:
        argv: the arguments after the program name.

    Returns:
        The options.

    Raises:
        FlagError: an unknown flag, a missing or malformed value, or a positional argument.
    """
    values: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            if i < len(argv):
                raise FlagError(f"unexpected argument {argv[i]!r}: the executor takes flags only")
            break
        name, value = _split(arg)
        if name in BOOL_FLAGS:
            if value is not None and value.lower() not in _TRUE | _FALSE:
                raise FlagError(f'invalid argument "{value}" for "--{name}" flag: expected true or false')
            values.setdefault(name, []).append("true" if value is None else value.lower())
            continue
        if name not in VALUE_FLAGS:
            raise FlagError(f"unknown flag: {arg.split('=', 1)[0]}")
        if value is None:
            if i >= len(argv):
                raise FlagError(f"flag needs an argument: --{name}")
            value = argv[i]
            i += 1
        values.setdefault(name, []).append(value)
    return _options(values)


def _split(arg: str) -> tuple[str, str | None]:
    if arg.startswith("--") and len(arg) > 2:
        name, eq, value = arg[2:].partition("=")
        return name, (value if eq else None)
    if arg.startswith("-") and len(arg) >= 2 and arg[1] != "-":
        short, rest = arg[1], arg[2:]
        if short not in _SHORT:
            raise FlagError(f"unknown shorthand flag: {short!r} in {arg}")
        return _SHORT[short], (rest.removeprefix("=") if rest else None)
    raise FlagError(f"unexpected argument {arg!r}: the executor takes flags only")


def _options(values: dict[str, list[str]]) -> Options:
    opts = Options()

    def last(name: str) -> str | None:
        got = values.get(name)
        return got[-1] if got else None

    def flag(name: str) -> bool:
        got = last(name)
        return got is not None and got in _TRUE

    opts.context = last("context") or opts.context
    opts.context_sub_path = last("context-sub-path") or ""
    opts.dockerfile = last("dockerfile") or opts.dockerfile
    opts.destinations = values.get("destination", [])
    for label in values.get("label", []):
        key, eq, value = label.partition("=")
        if not eq or not key:
            raise FlagError(f"invalid --label {label!r}: expected key=value")
        opts.labels[key] = value
    opts.build_args = values.get("build-arg", [])
    opts.cache = flag("cache")
    opts.cache_dir = last("cache-dir")
    ttl = last("cache-ttl")
    if ttl is not None:
        opts.cache_ttl_seconds = parse_duration(ttl)
    for cert in values.get("registry-certificate", []):
        host, eq, path = cert.partition("=")
        if not eq or not host or not path:
            raise FlagError(f"invalid --registry-certificate {cert!r}: expected registry=/path/to/cert.pem")
        opts.registry_certificates[host] = path
    opts.skip_tls_verify = flag("skip-tls-verify")
    opts.skip_tls_verify_pull = flag("skip-tls-verify-pull")
    opts.skip_tls_verify_registries = values.get("skip-tls-verify-registry", [])
    opts.insecure = flag("insecure")
    opts.insecure_pull = flag("insecure-pull")
    opts.insecure_registries = values.get("insecure-registry", [])
    opts.no_push = flag("no-push")
    verbosity = (last("verbosity") or "info").lower()
    if verbosity not in VERBOSITIES:
        raise FlagError(f"invalid --verbosity {verbosity!r}: one of {', '.join(VERBOSITIES)}")
    opts.verbosity = verbosity
    opts.log_timestamp = flag("log-timestamp")
    opts.digest_file = last("digest-file")
    opts.image_name_with_digest_file = last("image-name-with-digest-file")
    opts.image_name_tag_with_digest_file = last("image-name-tag-with-digest-file")
    opts.target = last("target")
    opts.reproducible = flag("reproducible")
    opts.ignored = sorted(n for n in values if n in IGNORED_VALUE_FLAGS or n in IGNORED_BOOL_FLAGS)
    if not opts.destinations and not opts.no_push:
        raise FlagError("you must provide --destination, or use --no-push")
    return opts


def parse_duration(text: str) -> float:
    """A Go duration (`336h`, `1h30m`, `90s`, `1.5h`) in seconds.

    Args:
        text: the duration.

    Returns:
        Seconds.

    Raises:
        FlagError: not a duration.
    """
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total = 0.0
    number = ""
    rest = text.strip()
    if not rest:
        raise FlagError("empty duration")
    i = 0
    while i < len(rest):
        ch = rest[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if rest.startswith("ms", i) else ch
        if unit not in units or not number:
            raise FlagError(f"invalid duration {text!r}")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise FlagError(f"invalid duration {text!r}: missing unit")
    return total
