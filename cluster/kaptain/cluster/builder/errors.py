"""The builder's error type: a message for the build log, never carrying credentials."""

from __future__ import annotations


class BuildError(Exception):
    """The build cannot go on; the message says why (Kaniko prints "error building image: ...")."""


class DockerfileError(BuildError):
    """A Dockerfile the local builder cannot build.

    Args:
        line: the 1-based line of the offending instruction (0 when not tied to a line).
        message: what is wrong.
    """

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"Dockerfile line {line}: {message}" if line else message)
        self.line = line
