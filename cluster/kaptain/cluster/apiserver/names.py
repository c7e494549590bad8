"""Name and key syntax checks of `k8s.io/apimachinery/pkg/util/validation`, with its exact messages.

Each `is_*` function returns the list of problems (empty when the value is valid), as the Go
functions do; callers turn them into field errors.
"""

from __future__ import annotations

import re

__all__ = [
    "DNS1035_LABEL_MAX_LENGTH",
    "DNS1123_LABEL_MAX_LENGTH",
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "LABEL_VALUE_MAX_LENGTH",
    "QUALIFIED_NAME_MAX_LENGTH",
    "is_config_map_key",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_env_var_name",
    "is_qualified_name",
    "is_valid_label_value",
    "is_valid_path_segment_name",
    "is_valid_port_name",
    "is_valid_port_num",
    "max_len_error",
    "regex_error",
]

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
QUALIFIED_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_QNAME_CHAR_FMT = "[A-Za-z0-9]"
_QNAME_EXT_CHAR_FMT = "[-A-Za-z0-9_.]"
_QUALIFIED_NAME_FMT = "(" + _QNAME_CHAR_FMT + _QNAME_EXT_CHAR_FMT + "*)?" + _QNAME_CHAR_FMT
_QUALIFIED_NAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_MAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_ENV_VAR_NAME_MSG = (
    "a valid environment variable name must consist only of printable ASCII characters other than '='"
)

_DNS1123_LABEL = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = re.compile(_DNS1035_LABEL_FMT)
_QUALIFIED_NAME = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT)
_CONFIG_MAP_KEY = re.compile(_CONFIG_MAP_KEY_FMT)


def max_len_error(length: int) -> str:
    """`MaxLenError`.

    Args:
        length: The limit.

    Returns:
        `must be no more than <length> characters`.
    """
    return f"must be no more than {length} characters"


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """`RegexError`: a message with examples and the regex used for validation.

    Args:
        message: What a valid value looks like.
        fmt: The regular expression (without anchors).
        examples: Valid examples.

    Returns:
        E.g. `... (e.g. 'my-name' or '123-abc', regex used for validation is '...')`.
    """
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    quoted = " or ".join(f"'{e}'" for e in examples)
    return f"{message} (e.g. {quoted}, regex used for validation is '{fmt}')"


def _full(pattern: re.Pattern[str], value: str) -> bool:
    # Go's MatchString with ^...$ anchors; `$` in Python would also accept a trailing newline.
    return pattern.fullmatch(value) is not None


def is_dns1123_label(value: str) -> list[str]:
    """`IsDNS1123Label`: lowercase alphanumerics and '-', at most 63 characters.

    Args:
        value: The name.

    Returns:
        The problems; empty when valid.
    """
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _full(_DNS1123_LABEL, value):
        if _full(_DNS1123_SUBDOMAIN, value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """`IsDNS1123Subdomain`: dot-separated DNS-1123 labels, at most 253 characters.

    Args:
        value: The name.

    Returns:
        The problems; empty when valid.
    """
    errs: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _full(_DNS1123_SUBDOMAIN, value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """`IsDNS1035Label`: like a DNS-1123 label but starting with a letter.

    Args:
        value: The name.

    Returns:
        The problems; empty when valid.
    """
    errs: list[str] = []
    if len(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _full(_DNS1035_LABEL, value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_valid_path_segment_name(value: str) -> list[str]:
    """`path.IsValidPathSegmentName`: anything usable as one URL path segment.

    Args:
        value: The name.

    Returns:
        The problems; empty when valid.
    """
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{ch}'" for ch in ("/", "%") if ch in value]


def is_qualified_name(value: str) -> list[str]:
    """`IsQualifiedName`: `[prefix/]name` as label and annotation keys use.

    Args:
        value: The key.

    Returns:
        The problems; empty when valid.
    """
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX_LENGTH:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if not _full(_QUALIFIED_NAME, name):
        errs.append(
            "name part "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """`IsValidLabelValue`: empty, or a qualified-name-like string of at most 63 characters.

    Args:
        value: The label value.

    Returns:
        The problems; empty when valid.
    """
    errs: list[str] = []
    if len(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _full(_LABEL_VALUE, value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_config_map_key(value: str) -> list[str]:
    """`IsConfigMapKey`: keys of ConfigMap and Secret data.

    Args:
        value: The key.

    Returns:
        The problems; empty when valid.
    """
    errs: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _full(_CONFIG_MAP_KEY, value):
        errs.append(regex_error(_CONFIG_MAP_KEY_MSG, _CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    errs.extend(_chdir_prefix(value))
    return errs


def is_env_var_name(value: str) -> list[str]:
    """`IsRelaxedEnvVarName` (the rule since Kubernetes 1.32): printable ASCII except '='.

    Args:
        value: The environment variable name.

    Returns:
        The problems; empty when valid.
    """
    errs: list[str] = []
    if not value:
        errs.append("environment variable name must be non-empty")
    if any(ord(ch) > 126 or ord(ch) < 32 or ch == "=" for ch in value):
        errs.append(_ENV_VAR_NAME_MSG)
    return errs


_PORT_NAME_CHARSET = re.compile("[-a-z0-9]+")
_PORT_NAME_LETTER = re.compile("[a-z]")


def is_valid_port_name(value: str) -> list[str]:
    """`IsValidPortName`: an IANA_SVC_NAME (at most 15 lowercase alphanumerics and '-', one letter).

    Args:
        value: The port name.

    Returns:
        The problems; empty when valid.
    """
    errs: list[str] = []
    if len(value) > 15:
        errs.append(max_len_error(15))
    if not _full(_PORT_NAME_CHARSET, value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER.search(value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_port_num(port: int) -> list[str]:
    """`IsValidPortNum`: 1 to 65535.

    Args:
        port: The port number.

    Returns:
        The problems; empty when valid.
    """
    return [] if 1 <= port <= 65535 else ["must be between 1 and 65535, inclusive"]
