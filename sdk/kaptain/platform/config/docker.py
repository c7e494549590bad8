"""Docker registry credentials from a standard ``config.json``."""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pydantic import SecretStr

from kaptain.platform.config.provider import FileBasedConfigurationProvider

__all__ = ["DOCKER_CONFIG_KEY", "DockerConfigurationProvider", "DockerCredentials", "normalize_registry"]

DOCKER_CONFIG_KEY = "config.json"
"""The key of the Docker configuration in the Secret body (Kaniko reads it under this name)."""

_DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)


@dataclass(frozen=True, slots=True)
class DockerCredentials:
    """A username and password (or token) for one registry.

    Attributes:
        registry: The registry as :func:`normalize_registry` spells it.
        username: The user name.
        password: The password or access token, masked in ``repr``/``str``.
    """

    registry: str
    username: str
    password: SecretStr


def normalize_registry(registry: str) -> str:
    """The canonical spelling of a registry, so that differently written keys compare equal.

    Drops the scheme and any path, lowercases the host, and maps every Docker Hub alias
    (``https://index.docker.io/v1/``, ``registry-1.docker.io``, …) to ``docker.io``.

    Args:
        registry: A registry as found in ``config.json`` or in an image reference.

    Returns:
        ``host[:port]`` in lowercase, or ``docker.io``.
    """
    host = registry.strip()
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0].lower()
    return "docker.io" if host in _DOCKER_HUB_ALIASES else host


class DockerConfigurationProvider(FileBasedConfigurationProvider):
    """Docker credentials for pulling and pushing the images of builds, training and tuning.

    It takes a standard Docker ``config.json``::

        {"auths": {"https://index.docker.io/v1/": {"auth": "<base64 of username:password>"}}}

    where ``auth`` is ``echo -n "<username>:<password>" | base64``; entries with separate
    ``username`` and ``password`` keys are understood too. By default it reads
    ``$HOME/.docker/config.json`` (or ``$DOCKER_CONFIG/config.json`` when ``DOCKER_CONFIG`` is
    set, as the Docker CLI does); :meth:`from_file` reads another file. In a notebook the file can
    be written ad hoc or mounted from a Secret.

    The JSON is checked when the provider is created, and kept masked: ``repr`` shows only the
    registries it has credentials for.

    Args:
        config_json: The content of the ``config.json``.

    Raises:
        ValueError: ``config_json`` is not a JSON object of the shape above. The message gives
            the position or the registry at fault, never the content.
    """

    __slots__ = ("_config_json", "_credentials")

    def __init__(self, config_json: str) -> None:
        if not isinstance(config_json, str):
            raise ValueError(f"config_json must be a string (got {type(config_json).__name__})")
        self._credentials = _parse_config(config_json)
        self._config_json = SecretStr(config_json)

    @classmethod
    def from_file(cls, path: str) -> Self:
        """Read a Docker ``config.json``.

        Args:
            path: Path of the file (``~`` is expanded).

        Returns:
            A provider holding the file's configuration.

        Raises:
            FileNotFoundError: There is no such file.
            ValueError: The file is not a valid Docker configuration.
        """
        resolved, text = cls._read_file(path, what="Docker config.json")
        try:
            return cls(text)
        except ValueError as exc:
            message = f"{resolved}: {exc}"
        raise ValueError(message)

    @classmethod
    def default(cls) -> Self:
        """Read ``$DOCKER_CONFIG/config.json``, or ``$HOME/.docker/config.json`` if unset.

        Raises:
            FileNotFoundError: The file does not exist.
            ValueError: The file is not a valid Docker configuration.
        """
        return cls.from_file(str(cls.default_path()))

    @classmethod
    def from_credentials(cls, registry: str, username: str, password: str | SecretStr) -> Self:
        """A configuration holding one registry's username and password.

        Args:
            registry: The registry, e.g. ``"registry.local:5000"`` or ``"https://index.docker.io/v1/"``.
            username: The user name.
            password: The password or access token.

        Returns:
            A provider whose ``config.json`` has a single ``auths`` entry.

        Raises:
            ValueError: ``registry`` or ``username`` is blank, or ``username`` contains ``:``.
        """
        if not registry.strip():
            raise ValueError("registry must not be blank")
        if not username.strip() or ":" in username:
            raise ValueError("username must not be blank and must not contain ':'")
        secret = password.get_secret_value() if isinstance(password, SecretStr) else password
        auth = base64.b64encode(f"{username}:{secret}".encode()).decode("ascii")
        key = _DOCKER_HUB_KEY if normalize_registry(registry) == "docker.io" else registry.strip()
        return cls(json.dumps({"auths": {key: {"auth": auth}}}))

    @staticmethod
    def default_path() -> Path:
        """Where :meth:`default` reads from: ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``."""
        directory = os.environ.get("DOCKER_CONFIG", "").strip()
        return (
            Path(directory).expanduser() / "config.json"
            if directory
            else Path.home() / ".docker" / "config.json"
        )

    @property
    def config_json(self) -> SecretStr:
        """The ``config.json`` content, masked (``.get_secret_value()`` reveals it)."""
        return self._config_json

    @property
    def registries(self) -> tuple[str, ...]:
        """The registries with credentials, normalized (see :func:`normalize_registry`)."""
        return tuple(self._credentials)

    def credentials_for(self, registry: str) -> DockerCredentials | None:
        """The credentials for a registry.

        Args:
            registry: The registry in any spelling (``https://…``, ``host:port``, ``docker.io``),
                or an image's registry host.

        Returns:
            The credentials, or None when the configuration has none for that registry.
        """
        return self._credentials.get(normalize_registry(registry))

    def get_secret_body(self) -> dict[str, str]:
        """The Secret data: ``{"config.json": <the configuration, unchanged>}``."""
        return {DOCKER_CONFIG_KEY: self._config_json.get_secret_value()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DockerConfigurationProvider):
            return NotImplemented
        return self._config_json.get_secret_value() == other._config_json.get_secret_value()

    def __hash__(self) -> int:
        return hash(self._config_json)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(registries={list(self.registries)!r}, config_json={self._config_json!r})"
        )


def _parse_config(config_json: str) -> dict[str, DockerCredentials]:
    """Parse the ``auths`` of a config.json; errors give positions and registries, never content."""
    problem: str | None = None
    document: Any = None
    try:
        document = json.loads(config_json)
    except json.JSONDecodeError as exc:
        # The decode error keeps the whole document in `.doc`, so it must not become our cause.
        problem = f"config_json is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    if problem is not None:
        raise ValueError(problem)
    if not isinstance(document, dict):
        raise ValueError(f"config_json must be a JSON object (got {type(document).__name__})")
    auths = document.get("auths", {})
    if not isinstance(auths, dict):
        raise ValueError("config_json: 'auths' must be an object mapping registries to credentials")
    found: dict[str, DockerCredentials] = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            raise ValueError(f"config_json: auths[{key!r}] must be an object")
        credentials = _entry_credentials(key, entry)
        if credentials is not None:
            found[credentials.registry] = credentials
    return found


def _entry_credentials(key: str, entry: dict[str, Any]) -> DockerCredentials | None:
    registry = normalize_registry(key)
    auth = entry.get("auth")
    if auth not in (None, ""):
        if not isinstance(auth, str):
            raise ValueError(f"config_json: auths[{key!r}].auth must be a string")
        decoded: str | None = None
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = None
        if decoded is None or ":" not in decoded:
            raise ValueError(f"config_json: auths[{key!r}].auth must be base64 of 'username:password'")
        user, _, secret = decoded.partition(":")
        return DockerCredentials(registry, user, SecretStr(secret))
    username, password = entry.get("username"), entry.get("password")
    if username is None and password is None:
        # An entry without secrets is how credential helpers mark registries; nothing to use here.
        return None
    if not isinstance(username, str) or not isinstance(password, str):
        raise ValueError(f"config_json: auths[{key!r}] must give both 'username' and 'password' as strings")
    return DockerCredentials(registry, username, SecretStr(password))
