"""Kubernetes `$(VAR)` expansion for env values, command and args.

A port of `k8s.io/kubernetes/third_party/forked/golang/expansion`: `$(NAME)` is replaced by the
variable's value when it is defined and left as is otherwise, `$$` is an escaped `$`, and any
other `$` stays literal.
"""

from __future__ import annotations

from collections.abc import Mapping


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Expands `$(VAR)` references in `text`.

    Args:
        text: The string to expand.
        variables: The defined variables.

    Returns:
        The expanded string.
    """
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_variable(text[cursor + 1 :])
            if is_var:
                out.append(variables.get(read, f"$({read})"))
            else:
                out.append(read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _read_variable(rest: str) -> tuple[str, bool, int]:
    """Returns (text or name, whether it is a variable name, characters consumed after `$`)."""
    if rest[0] == "$":
        return "$", False, 1
    if rest[0] == "(":
        closing = rest.find(")", 1)
        if closing != -1:
            return rest[1:closing], True, closing + 1
        return "$(", False, 1
    return "$" + rest[0], False, 1
