"""Registry credentials: checking the cluster token and writing Docker client configuration."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable

USERNAME = "kaptain"


def basic_authorizer(token: str, *, username: str = USERNAME) -> Callable[[str | None], bool]:
    """An `authorize` callback for `create_registry_app` that accepts the cluster token.

    Accepted: `Authorization: Basic base64(<username>:<token>)` (what Docker clients send from
    `config.json`) and `Authorization: Bearer <token>`. Comparison is constant-time.

    Args:
        token: the cluster's bearer token.
        username: the Basic-auth user name.

    Returns:
        The callback.
    """
    expected_basic = f"{username}:{token}".encode()
    expected_bearer = token.encode()

    def authorize(header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return hmac.compare_digest(value.strip().encode(), expected_bearer)
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(decoded, expected_basic)
        return False

    return authorize


def docker_config_auth(registry_host: str, token: str, *, username: str = USERNAME) -> str:
    """The Docker `config.json` content that authenticates to this registry.

    Args:
        registry_host: `127.0.0.1:PORT` as it appears in image references.
        token: the cluster's bearer token.
        username: the Basic-auth user name.

    Returns:
        JSON text: `{"auths": {"<host>": {"auth": base64("<username>:<token>")}}}`.
    """
    auth = base64.b64encode(f"{username}:{token}".encode()).decode()
    return json.dumps({"auths": {registry_host: {"auth": auth}}}, indent=2)
