"""Checks of the properties given to :class:`kaptain.model.models.Model`.

Every check raises :class:`~kaptain.exceptions.InvalidModelProperty` naming the property and the
rule it broke; the rest of the SDK can rely on a constructed model being valid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from kaptain.exceptions import InvalidModelProperty
from kaptain.model.frameworks import ModelFramework
from kaptain.platform.images import parse_image_reference
from kaptain.platform.naming import name_fragment, validate_model_id

__all__ = [
    "check_base_image",
    "check_extra_files",
    "check_framework",
    "check_image_name",
    "check_labels",
    "check_model_id",
    "check_name",
    "check_path",
    "check_serving_config",
    "check_text",
]


def check_text(value: object, prop: str) -> str:
    """A required string property: not None, a string, not blank. Returns it stripped."""
    if value is None:
        raise InvalidModelProperty(f"{prop} must not be None", property_name=prop)
    if not isinstance(value, str):
        raise InvalidModelProperty(
            f"{prop} must be a string (got {type(value).__name__})", property_name=prop
        )
    if not value.strip():
        raise InvalidModelProperty(f"{prop} must not be blank", property_name=prop)
    return value.strip()


def check_model_id(value: object) -> str:
    """The model id: see :func:`kaptain.platform.naming.validate_model_id`."""
    text = check_text(value, "id")
    try:
        return validate_model_id(text)
    except ValueError as exc:
        raise InvalidModelProperty(str(exc), property_name="id") from None


def check_name(value: object) -> str:
    """The model name: free text from which a Kubernetes name fragment can be derived."""
    text = check_text(value, "name")
    try:
        name_fragment(text)
    except ValueError as exc:
        raise InvalidModelProperty(str(exc), property_name="name") from None
    return text


def check_framework(value: object) -> ModelFramework:
    """A :class:`ModelFramework`, or its value or member name in any case (``"pytorch"``)."""
    if isinstance(value, ModelFramework):
        return value
    text = check_text(value, "framework").lower()
    for member in ModelFramework:
        if text in (member.value, member.name.lower()):
            return member
    supported = ", ".join(member.value for member in ModelFramework)
    raise InvalidModelProperty(
        f"framework must be a ModelFramework or one of: {supported} (got {value!r})",
        property_name="framework",
    )


def check_image_name(value: object) -> str:
    """The image to build: a Docker reference with an optional tag and no digest."""
    return _image(value, "image_name", allow_digest=False)


def check_base_image(value: object) -> str:
    """The image to build from: any Docker reference."""
    return _image(value, "base_image", allow_digest=True)


def check_path(value: object, prop: str, base_dir: str, *, directory_ok: bool) -> str:
    """A path that must exist inside ``base_dir``.

    Args:
        value: The path, relative to ``base_dir`` or absolute inside it.
        prop: The property name for messages.
        base_dir: The directory the path must stay inside.
        directory_ok: Whether a directory is acceptable (else it must be a regular file).

    Returns:
        The path relative to ``base_dir`` in POSIX form, normalized (``./a/../b.py`` → ``b.py``).

    Raises:
        InvalidModelProperty: The path is blank, leaves ``base_dir`` (also through a symbolic
            link), names ``base_dir`` itself, does not exist, or is a directory where a file is
            needed.
    """
    text = check_text(value, prop)
    base = Path(os.path.normpath(base_dir))
    candidate = Path(text).expanduser()
    full = Path(os.path.normpath(candidate if candidate.is_absolute() else base / candidate))
    if not full.is_relative_to(base):
        raise InvalidModelProperty(
            f"{prop} must stay inside base_dir {str(base)!r} (got {text!r})", property_name=prop
        )
    relative = full.relative_to(base)
    if relative == Path("."):
        raise InvalidModelProperty(
            f"{prop} must name an entry inside base_dir, not base_dir itself", property_name=prop
        )
    resolved = full.resolve()
    if not resolved.is_relative_to(base.resolve()):
        raise InvalidModelProperty(
            f"{prop} must stay inside base_dir; {text!r} leads outside through a symbolic link",
            property_name=prop,
        )
    if not resolved.exists():
        raise InvalidModelProperty(
            f"{prop} must exist under base_dir {str(base)!r} (got {text!r})", property_name=prop
        )
    if not directory_ok and not resolved.is_file():
        raise InvalidModelProperty(f"{prop} must be a regular file (got {text!r})", property_name=prop)
    return relative.as_posix()


def check_extra_files(value: object, base_dir: str) -> list[str]:
    """Auxiliary files and directories: each must exist inside ``base_dir``; no repeats."""
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidModelProperty(
            f"extra_files must be a list of paths (got {type(value).__name__})", property_name="extra_files"
        )
    checked: list[str] = []
    for index, entry in enumerate(value):
        path = check_path(entry, f"extra_files[{index}]", base_dir, directory_ok=True)
        if path in checked:
            raise InvalidModelProperty(
                f"extra_files must not list {path!r} twice", property_name=f"extra_files[{index}]"
            )
        checked.append(path)
    return checked


def check_labels(value: object) -> list[str] | None:
    """Custom labels: None, or a list of non-blank strings."""
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidModelProperty(
            f"labels must be a list of strings (got {type(value).__name__})", property_name="labels"
        )
    return [check_text(label, f"labels[{index}]") for index, label in enumerate(value)]


def check_serving_config(value: object) -> dict[str, str] | None:
    """Model server settings: None, or a dict of non-blank string keys to string values."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidModelProperty(
            f"serving_config must be a dict of strings (got {type(value).__name__})",
            property_name="serving_config",
        )
    checked: dict[str, str] = {}
    for key, item in value.items():
        name = check_text(key, "serving_config key")
        if not isinstance(item, str):
            raise InvalidModelProperty(
                f"serving_config[{name!r}] must be a string (got {type(item).__name__})",
                property_name="serving_config",
            )
        checked[name] = item
    return checked


def _image(value: object, prop: str, *, allow_digest: bool) -> str:
    text = check_text(value, prop)
    try:
        parse_image_reference(text, field=prop, allow_digest=allow_digest)
    except ValueError as exc:
        raise InvalidModelProperty(str(exc), property_name=prop) from None
    return text
