"""The JSONPath subset of CRD `additionalPrinterColumns`.

Kubernetes evaluates printer columns with its own JSONPath dialect
(https://kubernetes.io/docs/reference/kubectl/jsonpath/). The forms found in real CRDs are
supported: `.a.b`, `['a.b']`, `[n]`, slices `[a:b]` (negative bounds too), `[*]`, recursive `..a`
and filters `[?(@.a.b == 'x')]` with `==`, `!=`, `<`, `<=`, `>`, `>=` against string, number and
boolean literals, or `[?(@.a)]` for existence. Missing keys yield no result, as for printer columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_FIELD = re.compile(r"[A-Za-z0-9_\-$]+")
_FILTER = re.compile(r"^@((?:\.[A-Za-z0-9_\-]+|\['[^']*'\])*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*$")
_MISSING = object()

Step = Callable[[Any], Iterator[Any]]


class JsonPathError(ValueError):
    """A JSONPath expression this evaluator cannot parse."""


@dataclass(frozen=True)
class JsonPath:
    """A compiled expression.

    Attributes:
        source: The expression as written.
    """

    source: str
    _steps: tuple[Step, ...]

    def find(self, obj: Any) -> list[Any]:
        """Evaluates the expression.

        Args:
            obj: The JSON document.

        Returns:
            Every matched value, in document order.
        """
        nodes: list[Any] = [obj]
        for step in self._steps:
            nodes = [out for node in nodes for out in step(node)]
            if not nodes:
                break
        return nodes


@lru_cache(maxsize=512)
def compile_path(expression: str) -> JsonPath:
    """Compiles a printer-column JSONPath.

    Args:
        expression: E.g. `.status.conditions[-1:].type`; `{...}` around it is accepted.

    Returns:
        The compiled path (cached: CRDs use few distinct expressions).

    Raises:
        JsonPathError: When the expression is malformed.
    """
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[Step] = []
    i = 0
    while i < len(text):
        if text.startswith("..", i):
            match = _FIELD.match(text, i + 2)
            if match is None:
                raise JsonPathError(f"expected a field name after '..' in {expression!r}")
            steps.append(_recursive(match.group(0)))
            i = match.end()
        elif text[i] == ".":
            match = _FIELD.match(text, i + 1)
            if match is None:
                raise JsonPathError(f"expected a field name at offset {i + 1} in {expression!r}")
            steps.append(_field(match.group(0)))
            i = match.end()
        elif text[i] == "[":
            end = _closing_bracket(text, i, expression)
            steps.append(_bracket(text[i + 1 : end].strip(), expression))
            i = end + 1
        else:
            raise JsonPathError(f"unexpected {text[i]!r} at offset {i} in {expression!r}")
    return JsonPath(expression, tuple(steps))


def _closing_bracket(text: str, start: int, expression: str) -> int:
    quote: str | None = None
    depth = 0
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0:
                return i
    raise JsonPathError(f"unbalanced brackets in {expression!r}")


def _field(name: str) -> Step:
    def step(node: Any) -> Iterator[Any]:
        if isinstance(node, dict):
            value = node.get(name, _MISSING)
            if value is not _MISSING:
                yield value

    return step


def _recursive(name: str) -> Step:
    def step(node: Any) -> Iterator[Any]:
        stack = [node]
        while stack:
            current = stack.pop(0)
            if isinstance(current, dict):
                if name in current:
                    yield current[name]
                stack.extend(current.values())
            elif isinstance(current, list):
                stack.extend(current)

    return step


def _bracket(inner: str, expression: str) -> Step:
    if inner == "*":
        return _wildcard
    if inner.startswith("?(") and inner.endswith(")"):
        return _filter(inner[2:-1].strip(), expression)
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _field(inner[1:-1])
    if ":" in inner:
        return _slice(inner, expression)
    try:
        index = int(inner)
    except ValueError as exc:
        raise JsonPathError(f"unsupported subscript [{inner}] in {expression!r}") from exc
    return _index(index)


def _wildcard(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        yield from node.values()
    elif isinstance(node, list):
        yield from node


def _index(index: int) -> Step:
    def step(node: Any) -> Iterator[Any]:
        if isinstance(node, list) and -len(node) <= index < len(node):
            yield node[index]

    return step


def _slice(inner: str, expression: str) -> Step:
    parts = inner.split(":")
    if len(parts) > 3:
        raise JsonPathError(f"bad slice [{inner}] in {expression!r}")
    try:
        bounds = [int(p) if p.strip() else None for p in parts]
    except ValueError as exc:
        raise JsonPathError(f"bad slice [{inner}] in {expression!r}") from exc
    start, stop = bounds[0], bounds[1]
    stride = bounds[2] if len(bounds) == 3 else None

    def step(node: Any) -> Iterator[Any]:
        if isinstance(node, list):
            yield from node[start:stop:stride]

    return step


def _filter(condition: str, expression: str) -> Step:
    match = _FILTER.match(condition)
    if match is None:
        raise JsonPathError(f"unsupported filter ?({condition}) in {expression!r}")
    sub_path, operator, literal_text = match.group(1), match.group(2), match.group(3)
    inner = compile_path(sub_path) if sub_path else None
    literal = _literal(literal_text, expression) if operator else None

    def test(item: Any) -> bool:
        found = inner.find(item) if inner is not None else [item]
        if not found:
            return False
        if operator is None:
            return True
        return any(_compare(value, operator, literal) for value in found)

    def step(node: Any) -> Iterator[Any]:
        items = node if isinstance(node, list) else list(node.values()) if isinstance(node, dict) else []
        yield from (item for item in items if test(item))

    return step


def _literal(text: str, expression: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError as exc:
        raise JsonPathError(f"unsupported literal {text!r} in {expression!r}") from exc


def _compare(value: Any, operator: str, literal: Any) -> bool:
    if operator == "==":
        return bool((value == literal and type(value) is type(literal)) or _numbers_equal(value, literal))
    if operator == "!=":
        return not _compare(value, "==", literal)
    if isinstance(value, bool) or isinstance(literal, bool):
        return False
    if isinstance(value, int | float) and isinstance(literal, int | float):
        pair: tuple[Any, Any] = (value, literal)
    elif isinstance(value, str) and isinstance(literal, str):
        pair = (value, literal)
    else:
        return False
    left, right = pair
    if operator == "<":
        return bool(left < right)
    if operator == "<=":
        return bool(left <= right)
    if operator == ">":
        return bool(left > right)
    return bool(left >= right)


def _numbers_equal(value: Any, literal: Any) -> bool:
    numeric = (int, float)
    return (
        isinstance(value, numeric)
        and isinstance(literal, numeric)
        and not isinstance(value, bool)
        and not isinstance(literal, bool)
        and value == literal
    )


def format_value(value: Any) -> str:
    """Renders one matched value the way kubectl's JSONPath printer does.

    Args:
        value: A matched value.

    Returns:
        Strings as is, booleans lower case, containers as compact JSON.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)
