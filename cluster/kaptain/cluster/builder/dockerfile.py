"""Dockerfile parsing: instructions with line numbers, stages, and Docker's variable substitution.

Follows the Dockerfile reference (https://docs.docker.com/reference/dockerfile/): parser
directives (`# escape=`), line continuations, comments, JSON (exec) and shell forms, `--flag=value`
options on FROM/COPY/ADD/RUN, and the `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}`
substitution with single/double quotes and escapes for the instructions Docker substitutes in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kaptain.cluster.builder.errors import DockerfileError

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_FLAG = re.compile(r"^--([a-z][a-z-]*)(?:=(.*))?$")
FLAGGED = {"FROM", "COPY", "ADD", "RUN"}


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction.

    Attributes:
        keyword: the instruction, upper case (`RUN`).
        rest: its arguments without leading `--flag=value` options, continuations joined.
        line: the 1-based line the instruction starts on.
        flags: the `--flag=value` options (FROM, COPY, ADD, RUN).
        escape: the escape character in force.
    """

    keyword: str
    rest: str
    line: int
    flags: dict[str, str] = field(default_factory=dict)
    escape: str = "\\"

    @property
    def text(self) -> str:
        """The instruction as written (for logs and cache keys)."""
        flags = "".join(f"--{k}={v} " for k, v in self.flags.items())
        return f"{self.keyword} {flags}{self.rest}".rstrip()

    def exec_form(self) -> list[str] | None:
        """The JSON-array form of the arguments, or None for the shell form."""
        stripped = self.rest.strip()
        if not stripped.startswith("["):
            return None
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError:
            return None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return parsed
        return None


@dataclass
class Stage:
    """A build stage: its FROM and the instructions after it."""

    index: int
    base: str
    name: str | None
    source: Instruction
    instructions: list[Instruction] = field(default_factory=list)


def parse_dockerfile(text: str) -> list[Instruction]:
    """Splits a Dockerfile into instructions.

    Args:
        text: the Dockerfile.

    Returns:
        The instructions in order.

    Raises:
        DockerfileError: a line that is not an instruction, or a heredoc.
    """
    lines = text.splitlines()
    escape = "\\"
    start = 0
    for i, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if not match:
            break
        if match.group(1).lower() == "escape":
            escape = match.group(2)
            if escape not in ("\\", "`"):
                raise DockerfileError(i + 1, f"invalid escape directive {escape!r} (must be \\ or `)")
        start = i + 1
    instructions: list[Instruction] = []
    i = start
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        first = i + 1
        parts = []
        current = lines[i].rstrip()
        while current.endswith(escape):
            parts.append(current[: -len(escape)])
            i += 1
            # Comment and empty lines inside a continuation are dropped, as Docker does.
            while i < len(lines) and (not lines[i].strip() or lines[i].strip().startswith("#")):
                i += 1
            current = lines[i].rstrip() if i < len(lines) else ""
        parts.append(current)
        i += 1
        instructions.append(_instruction(" ".join(p.strip() for p in parts), first, escape))
    return instructions


def _instruction(joined: str, line: int, escape: str) -> Instruction:
    keyword, _, rest = joined.strip().partition(" ")
    if not re.fullmatch(r"[A-Za-z]+", keyword):
        raise DockerfileError(line, f"unknown instruction: {keyword}")
    keyword = keyword.upper()
    rest = rest.strip()
    if "<<" in rest and re.search(r"<<-?\s*[\"']?[A-Za-z_]", rest):
        raise DockerfileError(line, f"{keyword} with a heredoc is not supported by the local builder")
    flags: dict[str, str] = {}
    if keyword in FLAGGED:
        while rest.startswith("--"):
            token, _, remainder = rest.partition(" ")
            match = _FLAG.match(token)
            if not match:
                raise DockerfileError(line, f"malformed option {token!r} on {keyword}")
            flags[match.group(1)] = match.group(2) or ""
            rest = remainder.strip()
    return Instruction(keyword=keyword, rest=rest, line=line, flags=flags, escape=escape)


def split_stages(
    instructions: list[Instruction], global_args: dict[str, str]
) -> tuple[list[Instruction], list[Stage]]:
    """Splits instructions into the global ARGs before the first FROM and the stages.

    Args:
        instructions: the parsed Dockerfile.
        global_args: values of the ARGs declared before FROM (defaults and `--build-arg`), used
            to substitute in FROM lines.

    Returns:
        The leading ARG instructions and the stages.

    Raises:
        DockerfileError: no FROM, or an instruction other than ARG before the first FROM.
    """
    head: list[Instruction] = []
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = split_words(ins.rest, global_args, ins.escape)
            if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
                raise DockerfileError(ins.line, f"FROM takes an image and an optional 'AS name': {ins.text}")
            name = words[2].lower() if len(words) == 3 else None
            stages.append(Stage(index=len(stages), base=words[0], name=name, source=ins))
        elif not stages:
            if ins.keyword != "ARG":
                raise DockerfileError(
                    ins.line, f"{ins.keyword} before the first FROM (only ARG may come first)"
                )
            head.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise DockerfileError(0, "the Dockerfile has no FROM instruction")
    return head, stages


def select_stage(stages: list[Stage], target: str | None) -> Stage:
    """The one stage to build: the `--target` stage or the last, if it needs no other stage.

    Stages that the chosen stage does not use are skipped (as BuildKit does); a chosen stage that
    builds FROM another stage or copies `--from` one is a real multi-stage build, which the local
    builder does not run.

    Args:
        stages: all stages.
        target: `--target`, or None for the last stage.

    Returns:
        The stage.

    Raises:
        DockerfileError: unknown target, or a real multi-stage build.
    """
    if target is None:
        chosen = stages[-1]
    else:
        named = [s for s in stages if s.name == target.lower()]
        if not named:
            raise DockerfileError(0, f"--target {target}: no stage named {target!r}")
        chosen = named[0]
    names = {s.name for s in stages if s.name} | {str(s.index) for s in stages}
    if chosen.base.lower() in names:
        raise DockerfileError(
            chosen.source.line,
            f"FROM {chosen.base}: multi-stage builds are not supported by the local builder",
        )
    for ins in chosen.instructions:
        if ins.keyword in ("COPY", "ADD") and "from" in ins.flags:
            raise DockerfileError(
                ins.line, f"{ins.keyword} --from={ins.flags['from']}: multi-stage builds are not supported"
            )
        if ins.keyword == "FROM":
            raise DockerfileError(ins.line, "multi-stage builds are not supported by the local builder")
    return chosen


def expand(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Substitutes variables and removes quotes, keeping whitespace (one word).

    Args:
        text: the text.
        env: the variables in scope (ARG and ENV).
        escape: the escape character.

    Returns:
        The processed text.

    Raises:
        DockerfileError: unterminated quote or `${`.
    """
    words = _process(text, env, escape, split=False)
    return words[0] if words else ""


def split_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Splits on unquoted whitespace, substituting variables and removing quotes.

    Args:
        text: the text.
        env: the variables in scope.
        escape: the escape character.

    Returns:
        The words.

    Raises:
        DockerfileError: unterminated quote or `${`.
    """
    return _process(text, env, escape, split=True)


def _process(text: str, env: Mapping[str, str], escape: str, *, split: bool) -> list[str]:
    words: list[str] = []
    word: list[str] = []
    in_word = False
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if split and ch.isspace():
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            i += 1
            continue
        in_word = True
        if ch == escape and i + 1 < n:
            word.append(text[i + 1])
            i += 2
        elif ch == "'":
            end = text.find("'", i + 1)
            if end == -1:
                raise DockerfileError(0, f"unterminated single quote in {text!r}")
            word.append(text[i + 1 : end])
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == escape and i + 1 < n and text[i + 1] in ('"', "$", escape):
                    word.append(text[i + 1])
                    i += 2
                elif text[i] == "$":
                    value, i = substitute_variable(text, i, env, escape)
                    word.append(value)
                else:
                    word.append(text[i])
                    i += 1
            if i >= n:
                raise DockerfileError(0, f"unterminated double quote in {text!r}")
            i += 1
        elif ch == "$":
            value, i = substitute_variable(text, i, env, escape)
            word.append(value)
        else:
            word.append(ch)
            i += 1
    if in_word or not split:
        words.append("".join(word))
    return words


def substitute_variable(text: str, i: int, env: Mapping[str, str], escape: str = "\\") -> tuple[str, int]:
    """Expands the variable reference starting at `text[i]` (a `$`).

    Args:
        text: the text.
        i: the index of the `$`.
        env: the variables in scope (unset ones expand to "").
        escape: the escape character.

    Returns:
        The value and the index just after the reference (a lone `$` stays `$`).

    Raises:
        DockerfileError: a `${` without `}`.
    """
    if i + 1 < len(text) and text[i + 1] == "{":
        end = text.find("}", i + 2)
        if end == -1:
            raise DockerfileError(0, f"missing '}}' in {text!r}")
        body = text[i + 2 : end]
        for op in (":-", ":+"):
            if op in body:
                name, word = body.split(op, 1)
                value = env.get(name, "")
                replacement = expand(word, env, escape)
                if op == ":-":
                    return (value if value else replacement), end + 1
                return (replacement if value else ""), end + 1
        return env.get(body, ""), end + 1
    match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i + 1 :])
    if not match:
        return "$", i + 1
    return env.get(match.group(0), ""), i + 1 + match.end()
