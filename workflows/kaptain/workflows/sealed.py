"""Credentials that travel through Temporal encrypted: the `Sealed` field type and its `Sealer`.

Workflow inputs, results, activity arguments and heartbeat details are stored in the workflow
history in plaintext JSON and shown in the UI. Registry passwords and storage keys therefore never
enter them as such: the SDK seals them (Fernet: AES-128-CBC + HMAC-SHA256) with a key it shares
with the worker, workflows pass the opaque token along, and only the activity that writes the
Kubernetes Secret or talks to storage opens it.

The key is, in order of precedence:

* ``KAPTAIN_ENCRYPTION_KEY``: a urlsafe-base64 32-byte Fernet key (for workers on other machines);
* ``<data dir>/encryption.key``: created with mode 0600 on first use, so the SDK and a worker on
  the same machine (the embedded default) agree without configuration.

`cryptography` is imported lazily, so this module also loads inside the workflow sandbox, where
nothing is ever sealed or opened.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["ENCRYPTION_KEY_ENV", "KEY_FILE_NAME", "Sealed", "Sealer", "UnsealError"]

ENCRYPTION_KEY_ENV: Final = "KAPTAIN_ENCRYPTION_KEY"
KEY_FILE_NAME: Final = "encryption.key"


class Sealed(BaseModel):
    """An encrypted string. Its `repr` and `str` never show the token's content.

    Attributes:
        token: The Fernet token (urlsafe base64).
    """

    model_config = ConfigDict(frozen=True)

    token: str

    def __repr__(self) -> str:
        return "Sealed(<encrypted>)"

    def __str__(self) -> str:
        return "<encrypted>"


class UnsealError(Exception):
    """A sealed value cannot be opened with this key (wrong key or damaged token)."""


class Sealer:
    """Seals and opens `Sealed` values with one Fernet key.

    Args:
        key: A urlsafe-base64 32-byte Fernet key.

    Raises:
        ValueError: ``key`` is not a valid Fernet key (the message does not include it).
    """

    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet

        try:
            self._fernet: Fernet = Fernet(key)
        except (ValueError, TypeError):
            raise ValueError("the encryption key is not a urlsafe-base64 32-byte Fernet key") from None

    @classmethod
    def load(cls, home: Path) -> Sealer:
        """The sealer of this installation: ``$KAPTAIN_ENCRYPTION_KEY`` or ``<home>/encryption.key``.

        The key file is created (mode 0600, atomically) when neither exists.

        Args:
            home: Kaptain's data dir.

        Raises:
            ValueError: The configured key is invalid.
            OSError: The key file cannot be read or created.
        """
        configured = os.environ.get(ENCRYPTION_KEY_ENV, "").strip()
        if configured:
            return cls(configured.encode("ascii"))
        return cls(_read_or_create_key_file(home / KEY_FILE_NAME))

    def seal(self, plaintext: str) -> Sealed:
        """Encrypt ``plaintext``."""
        return Sealed(token=self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii"))

    def unseal(self, sealed: Sealed) -> str:
        """Decrypt a sealed value.

        Raises:
            UnsealError: The value was sealed with another key, or is damaged.
        """
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(sealed.token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise UnsealError(
                "sealed credentials cannot be opened: the worker's encryption key differs from the SDK's "
                f"(set the same {ENCRYPTION_KEY_ENV} for both, or share <data dir>/{KEY_FILE_NAME})"
            ) from None


def _read_or_create_key_file(path: Path) -> bytes:
    from cryptography.fernet import Fernet

    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # Write under a temporary name and link it into place: a concurrent creator either wins the
    # link (and we read its key) or loses it, so two processes never end up with different keys.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key + b"\n")
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()
