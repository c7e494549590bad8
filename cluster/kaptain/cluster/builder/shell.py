"""The RUN commands the local builder understands: installing Python packages with pip.

A model image's RUN lines install requirements; the builder runs them without a shell or a Linux
userland, so it reads the `/bin/sh -c` command itself and accepts this small language:

- `pip install ...`, `pip3 install ...`, `pip3.11 install ...`, `python -m pip install ...`
  (any path to them, e.g. `/usr/local/bin/pip`), optionally with `NAME=value` prefixes;
- `if [ -e FILE ]; then ...; [else ...;] fi` (also `-f`, `-d`, `-s`, `-r`, `!`, and `test`),
  the idiom of Kaptain's generated Dockerfile;
- `cd DIR`, `echo ...`, `true`, `:` and `set -e`-style option settings;
- commands joined with `&&`, `;` or newlines (any failure fails the build).

Anything else (pipes, redirections, `||`, subshells, command substitution, other programs) is
rejected with a message naming the command.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kaptain.cluster.builder.dockerfile import substitute_variable

_PIP = re.compile(r"^pip(\d+(\.\d+)?)?$")
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SEPARATORS = {";", "&&", "\n"}
_TEST_OPS = {"-e", "-f", "-d", "-s", "-r"}
HELP = (
    "RUN may only install Python packages: pip/pip3/python -m pip install ..., optionally inside "
    "`if [ -e FILE ]; then ...; fi`, chained with && or ;"
)


class ShellError(ValueError):
    """A RUN command outside the supported language."""


@dataclass(frozen=True)
class PipInstall:
    """`pip install <args>` with optional environment assignments."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Echo:
    """`echo <words>`."""

    text: str


@dataclass(frozen=True)
class ChangeDir:
    """`cd <path>`."""

    path: str


@dataclass(frozen=True)
class FileTest:
    """`[ -e path ]` and friends."""

    op: str
    path: str
    negate: bool = False


@dataclass(frozen=True)
class If:
    """`if <test>; then <body>; else <orelse>; fi`."""

    test: FileTest
    body: list[Node]
    orelse: list[Node]


Node = PipInstall | Echo | ChangeDir | If


class ShellHost(Protocol):
    """What running a RUN command needs from the build."""

    def exists(self, image_path: str, op: str) -> bool:
        """Evaluates a file test (`-e`, `-f`, `-d`, `-s`, `-r`) on an image path."""
        ...

    def pip_install(self, args: list[str], env: dict[str, str], cwd: str) -> None:
        """Runs `pip install args` with the working directory `cwd` (an image path)."""
        ...

    def echo(self, text: str) -> None:
        """Prints a line to the build log."""
        ...


def parse_run(command: str | list[str], env: Mapping[str, str]) -> list[Node]:
    """Parses a RUN command (shell form string or exec form list).

    Args:
        command: the command.
        env: the build's variables (ENV and ARG), substituted like `/bin/sh` would.

    Returns:
        The commands to run.

    Raises:
        ShellError: the command uses anything outside the supported language.
    """
    if isinstance(command, list):
        if (
            command[:2] in (["/bin/sh", "-c"], ["sh", "-c"], ["/bin/bash", "-c"], ["bash", "-c"])
            and len(command) == 3
        ):
            return parse_run(command[2], env)
        node = _command(list(command), {})
        return [] if node is None else [node]
    tokens = _tokenize(_substitute(command, env))
    nodes, pos = _parse_list(tokens, 0, set())
    if pos != len(tokens):
        raise ShellError(f"unexpected {tokens[pos]!r}. {HELP}")
    return nodes


def run_script(nodes: list[Node], host: ShellHost, cwd: str) -> str:
    """Runs parsed commands.

    Args:
        nodes: from `parse_run`.
        host: the build.
        cwd: the working directory (an image path).

    Returns:
        The working directory afterwards (unchanged for the next instruction, as in Docker; returned
        for nested bodies).
    """
    for node in nodes:
        if isinstance(node, PipInstall):
            host.pip_install(node.args, node.env, cwd)
        elif isinstance(node, Echo):
            host.echo(node.text)
        elif isinstance(node, ChangeDir):
            cwd = posixpath.normpath(posixpath.join(cwd, node.path))
        else:
            path = posixpath.normpath(posixpath.join(cwd, node.test.path))
            holds = host.exists(path, node.test.op) != node.test.negate
            cwd = run_script(node.body if holds else node.orelse, host, cwd)
    return cwd


def _substitute(text: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    in_double = False
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])
            i += 2
        elif ch == "'" and not in_double:
            end = text.find("'", i + 1)
            end = len(text) - 1 if end == -1 else end
            out.append(text[i : end + 1])
            i = end + 1
        elif ch == '"':
            in_double = not in_double
            out.append(ch)
            i += 1
        elif ch == "`" or text.startswith("$(", i):
            raise ShellError(f"command substitution is not supported. {HELP}")
        elif ch == "$":
            value, i = substitute_variable(text, i, env)
            if in_double:
                out.append(value.replace("\\", "\\\\").replace('"', '\\"'))
            else:
                # Unquoted expansions are split into fields, never re-parsed as syntax.
                out.append(" ".join(shlex.quote(field) for field in value.split()))
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _tokenize(text: str) -> list[str]:
    lexer = shlex.shlex(text.replace("\n", " ; "), posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError as e:
        raise ShellError(f"cannot parse command: {e}") from e


def _parse_list(tokens: list[str], pos: int, terminators: set[str]) -> tuple[list[Node], int]:
    nodes: list[Node] = []
    while pos < len(tokens):
        token = tokens[pos]
        if token in _SEPARATORS:
            pos += 1
            continue
        if token in terminators:
            return nodes, pos
        if token == "if":
            node, pos = _parse_if(tokens, pos + 1)
            nodes.append(node)
            continue
        words: list[str] = []
        while pos < len(tokens) and tokens[pos] not in _SEPARATORS:
            if _is_operator(tokens[pos]):
                if words:
                    _command(words, {})  # an unsupported program is the clearer message
                raise ShellError(f"the shell operator {tokens[pos]!r} is not supported. {HELP}")
            words.append(tokens[pos])
            pos += 1
        command = _command(words, {})
        if command is not None:
            nodes.append(command)
    return nodes, pos


def _parse_if(tokens: list[str], pos: int) -> tuple[If, int]:
    words: list[str] = []
    while pos < len(tokens) and tokens[pos] not in _SEPARATORS and tokens[pos] != "then":
        words.append(tokens[pos])
        pos += 1
    test = _file_test(words)
    while pos < len(tokens) and tokens[pos] in _SEPARATORS:
        pos += 1
    if pos >= len(tokens) or tokens[pos] != "then":
        raise ShellError(f"`if` without `then`. {HELP}")
    body, pos = _parse_list(tokens, pos + 1, {"else", "fi"})
    orelse: list[Node] = []
    if pos < len(tokens) and tokens[pos] == "else":
        orelse, pos = _parse_list(tokens, pos + 1, {"fi"})
    if pos >= len(tokens) or tokens[pos] != "fi":
        raise ShellError(f"`if` without `fi`. {HELP}")
    return If(test=test, body=body, orelse=orelse), pos + 1


def _file_test(words: list[str]) -> FileTest:
    if words[:1] == ["["]:
        if words[-1:] != ["]"]:
            raise ShellError(f"`[` without `]`. {HELP}")
        words = words[1:-1]
    elif words[:1] == ["test"]:
        words = words[1:]
    else:
        raise ShellError(
            f"only file tests (`[ -e FILE ]`) are supported as `if` conditions, got {' '.join(words)!r}"
        )
    negate = words[:1] == ["!"]
    if negate:
        words = words[1:]
    if len(words) != 2 or words[0] not in _TEST_OPS:
        raise ShellError(f"unsupported test {' '.join(words)!r}: use -e, -f, -d, -s or -r FILE")
    return FileTest(op=words[0], path=words[1], negate=negate)


def _is_operator(token: str) -> bool:
    return bool(token) and all(c in ";&|<>()" for c in token)


def _command(words: list[str], env: dict[str, str]) -> Node | None:
    assignments = dict(env)
    while words and _ASSIGNMENT.match(words[0]):
        name, _, value = words[0].partition("=")
        assignments[name] = value
        words = words[1:]
    if not words:
        return None
    program = posixpath.basename(words[0])
    if program in ("true", ":"):
        return None
    if program == "set" and all(w.startswith(("-", "+")) for w in words[1:]):
        return None
    if program == "echo":
        return Echo(" ".join(words[1:]))
    if program == "cd":
        if len(words) > 2:
            raise ShellError("cd takes one directory")
        return ChangeDir(words[1] if len(words) == 2 else "/")
    if _PYTHON.match(program):
        rest = words[1:]
        while rest[:1] and rest[0] in ("-u", "-B", "-E", "-s", "-I"):
            rest = rest[1:]
        if rest[:2] == ["-m", "pip"]:
            return _pip(rest[2:], assignments, " ".join(words))
    if _PIP.match(program):
        return _pip(words[1:], assignments, " ".join(words))
    raise ShellError(f"`{words[0]}` is not supported by the local builder. {HELP}")


def _pip(args: list[str], env: dict[str, str], text: str) -> PipInstall:
    if "install" not in args:
        raise ShellError(f"`{text}`: only `pip install` is supported. {HELP}")
    index = args.index("install")
    general = args[:index]
    if any(not a.startswith("-") for a in general):
        raise ShellError(f"`{text}`: only `pip install` is supported. {HELP}")
    return PipInstall(args=args[index + 1 :] + general, env=env)
