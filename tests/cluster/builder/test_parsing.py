"""The builder's parsers: Kaniko flags, Dockerfiles, variable substitution, RUN commands, .dockerignore."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kaptain.cluster.builder.context import dockerignore
from kaptain.cluster.builder.dockerfile import (
    expand,
    parse_dockerfile,
    select_stage,
    split_stages,
    split_words,
)
from kaptain.cluster.builder.errors import BuildError, DockerfileError
from kaptain.cluster.builder.flags import FlagError, parse_duration, parse_flags
from kaptain.cluster.builder.log import BuildLog
from kaptain.cluster.builder.pip import prepare_args
from kaptain.cluster.builder.shell import (
    ChangeDir,
    Echo,
    FileTest,
    If,
    PipInstall,
    ShellError,
    parse_run,
    run_script,
)


def test_kaniko_flags() -> None:
    opts = parse_flags(
        [
            "--dockerfile=Dockerfile.gpu",
            "-c",
            "s3://bucket/ctx.tar.gz",
            "--destination=reg:5000/a:1",
            "-d",
            "reg:5000/a:latest",
            "--label",
            "checksum=abc",
            "--label=team=ml=ops",
            "--cache",
            "--cache-ttl=6h30m",
            "--registry-certificate",
            "reg:5000=/certs/ca.pem",
            "--skip-tls-verify=false",
            "--insecure-registry=reg:5000",
            "--build-arg=VERSION=2",
            "-v=debug",
            "--snapshot-mode=redo",
            "--cleanup",
        ]
    )
    assert opts.dockerfile == "Dockerfile.gpu"
    assert opts.context == "s3://bucket/ctx.tar.gz"
    assert opts.destinations == ["reg:5000/a:1", "reg:5000/a:latest"]
    assert opts.labels == {"checksum": "abc", "team": "ml=ops"}
    assert opts.cache is True
    assert opts.cache_ttl_seconds == 6 * 3600 + 30 * 60
    assert opts.registry_certificates == {"reg:5000": "/certs/ca.pem"}
    assert opts.skip_tls_verify is False
    assert opts.insecure_registries == ["reg:5000"]
    assert opts.build_args == ["VERSION=2"]
    assert opts.verbosity == "debug"
    assert opts.ignored == ["cleanup", "snapshot-mode"]
    defaults = parse_flags(["--no-push"])
    assert (defaults.context, defaults.dockerfile, defaults.cache) == (
        "dir:///workspace/",
        "Dockerfile",
        False,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--no-push", "--bogus"], "unknown flag: --bogus"),
        (["--no-push", "-x"], "unknown shorthand flag"),
        (["--no-push", "--context"], "flag needs an argument: --context"),
        (["--no-push", "--cache=maybe"], 'invalid argument "maybe" for "--cache"'),
        (["--no-push", "positional"], "takes flags only"),
        (["--no-push", "--label", "novalue"], "expected key=value"),
        (["--no-push", "--verbosity=loud"], "invalid --verbosity"),
        (["--no-push", "--registry-certificate=host"], "registry=/path/to/cert.pem"),
        (["--no-push", "--cache-ttl=5 days"], "invalid duration"),
        (["--context=."], "you must provide --destination"),
    ],
)
def test_bad_flags(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError, match=message):
        parse_flags(argv)


def test_durations() -> None:
    assert parse_duration("336h") == 336 * 3600
    assert parse_duration("1.5h") == 5400
    assert parse_duration("90s") == 90
    assert parse_duration("250ms") == 0.25


def test_dockerfile_lines_continuations_and_flags() -> None:
    text = (
        "# escape=\\\n"
        "ARG BASE=python:3.11\n"
        "\n"
        "# a comment\n"
        "FROM --platform=linux/amd64 ${BASE} AS build\n"
        "RUN pip install \\\n"
        "    # comment inside a continuation\n"
        "    texttable \\\n"
        "    termcolor\n"
        "COPY --chown=1000:1000 . /app\n"
        'entrypoint ["python", "-u", "main.py"]\n'
    )
    instructions = parse_dockerfile(text)
    assert [(i.keyword, i.line) for i in instructions] == [
        ("ARG", 2),
        ("FROM", 5),
        ("RUN", 6),
        ("COPY", 10),
        ("ENTRYPOINT", 11),
    ]
    assert instructions[1].flags == {"platform": "linux/amd64"}
    assert instructions[2].rest == "pip install texttable termcolor"
    assert instructions[3].flags == {"chown": "1000:1000"} and instructions[3].rest == ". /app"
    assert instructions[4].exec_form() == ["python", "-u", "main.py"]
    assert instructions[2].exec_form() is None
    head, stages = split_stages(instructions, {"BASE": "python:3.11"})
    assert [h.keyword for h in head] == ["ARG"]
    assert (stages[0].base, stages[0].name) == ("python:3.11", "build")


def test_backtick_escape_directive() -> None:
    instructions = parse_dockerfile("# escape=`\nFROM python:3.11\nRUN pip install `\n  texttable\n")
    assert instructions[1].rest == "pip install texttable"
    assert instructions[1].escape == "`"


def test_stage_selection() -> None:
    text = "FROM python:3.11 AS tools\nRUN pip install x\nFROM python:3.11 AS final\nCOPY . /app\n"
    _, stages = split_stages(parse_dockerfile(text), {})
    assert select_stage(stages, None).name == "final", "an unused earlier stage is skipped"
    assert select_stage(stages, "tools").name == "tools"
    with pytest.raises(DockerfileError, match="no stage named"):
        select_stage(stages, "missing")
    text = "FROM python:3.11 AS deps\nRUN pip install x\nFROM deps\nCOPY . /app\n"
    _, stages = split_stages(parse_dockerfile(text), {})
    with pytest.raises(DockerfileError, match="line 3: FROM deps: multi-stage builds are not supported"):
        select_stage(stages, None)
    text = "FROM python:3.11 AS a\nFROM python:3.11\nCOPY --from=a /x /y\n"
    _, stages = split_stages(parse_dockerfile(text), {})
    with pytest.raises(DockerfileError, match="line 3: COPY --from=a"):
        select_stage(stages, None)
    with pytest.raises(DockerfileError, match="before the first FROM"):
        split_stages(parse_dockerfile("RUN pip install x\nFROM python:3.11\n"), {})
    with pytest.raises(DockerfileError, match="no FROM"):
        split_stages(parse_dockerfile("ARG X=1\n"), {})


def test_variable_substitution_and_quotes() -> None:
    env = {"NAME": "mnist", "EMPTY": "", "SPACED": "a b"}
    assert expand("/models/$NAME/${NAME}.pt", env) == "/models/mnist/mnist.pt"
    assert expand("${MISSING:-default} ${NAME:-default} ${EMPTY:-fallback}", env) == "default mnist fallback"
    assert expand("${NAME:+set}|${MISSING:+set}", env) == "set|"
    assert expand("'$NAME' \"$NAME\" \\$NAME", env) == "$NAME mnist $NAME"
    assert split_words("a=1 b=\"two words\" c=$SPACED d='$NAME'", env) == [
        "a=1",
        "b=two words",
        "c=a b",
        "d=$NAME",
    ], "pairs are split before substitution, as Docker does"
    with pytest.raises(DockerfileError, match="unterminated"):
        split_words('a="open', env)


def test_run_language() -> None:
    assert parse_run(
        "if [ -e requirements.txt ]; then pip install --no-cache -r requirements.txt; fi", {}
    ) == [
        If(
            test=FileTest("-e", "requirements.txt"),
            body=[PipInstall(["--no-cache", "-r", "requirements.txt"])],
            orelse=[],
        )
    ]
    nodes = parse_run(
        "set -ex && cd /app && PIP_NO_INPUT=1 python3 -m pip install -U pip && pip3.11 --no-cache-dir install x; "
        'echo "done $V"',
        {"V": "1"},
    )
    assert nodes == [
        ChangeDir("/app"),
        PipInstall(["-U", "pip"], {"PIP_NO_INPUT": "1"}),
        PipInstall(["x", "--no-cache-dir"]),
        Echo("done 1"),
    ]
    assert parse_run(["pip", "install", "a b"], {}) == [PipInstall(["a b"])]
    assert parse_run(["/bin/sh", "-c", "pip install x"], {}) == [PipInstall(["x"])]
    assert parse_run("if test ! -f a.txt\nthen pip install y\nelse echo no\nfi", {})[0] == If(
        test=FileTest("-f", "a.txt", negate=True),
        body=[PipInstall(["y"])],
        orelse=[Echo("no")],
    )


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("apt-get update", "`apt-get` is not supported"),
        ("pip install x > log.txt", "operator '>'"),
        ("pip install x || true", "operator '||'"),
        ("pip install x | tee", "operator '|'"),
        ("pip install $(cat reqs)", "command substitution"),
        ("pip uninstall x", "only `pip install`"),
        ("if [ -e a ]; then pip install x", "without `fi`"),
        ("if [ $X = 1 ]; then pip install x; fi", "unsupported test"),
        ("curl http://x | sh", "`curl` is not supported"),
        ("pip install 'unterminated", "cannot parse"),
    ],
)
def test_run_rejections(command: str, message: str) -> None:
    with pytest.raises(ShellError, match=message):
        parse_run(command, {})


class _Host:
    def __init__(self, files: set[str]) -> None:
        self.files = files
        self.calls: list[tuple[str, list[str]]] = []

    def exists(self, image_path: str, op: str) -> bool:
        return image_path in self.files

    def pip_install(self, args: list[str], env: dict[str, str], cwd: str) -> None:
        self.calls.append((cwd, args))

    def echo(self, text: str) -> None:
        self.calls.append(("echo", [text]))


def test_run_script_evaluates_conditions_in_the_working_directory() -> None:
    idiom = parse_run("if [ -e requirements.txt ]; then pip install -r requirements.txt; fi", {})
    host = _Host({"/kaptain/requirements.txt"})
    run_script(idiom, host, "/kaptain")
    assert host.calls == [("/kaptain", ["-r", "requirements.txt"])]
    empty = _Host(set())
    run_script(idiom, empty, "/kaptain")
    assert empty.calls == []
    moved = _Host({"/srv/sub/r.txt"})
    run_script(parse_run("cd sub && if [ -f r.txt ]; then pip install -r r.txt; fi", {}), moved, "/srv")
    assert moved.calls == [("/srv/sub", ["-r", "r.txt"])]


def test_dockerignore(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text(
        "# comment\n*.pyc\n/secrets\ndata/**\n!data/keep/**\n**/__pycache__\nlogs/?.log\n"
    )
    excluded = dockerignore(tmp_path)
    assert excluded("a.pyc")
    assert not excluded("pkg/a.pyc"), "* does not cross directories"
    assert excluded("secrets") and excluded("secrets/key.pem")
    assert excluded("data/raw/x.csv")
    assert not excluded("data/keep/model.pt")
    assert excluded("pkg/deep/__pycache__/m.cpython-311.pyc")
    assert excluded("logs/1.log") and not excluded("logs/10.log")
    assert not excluded("trainer.py")
    assert not dockerignore(tmp_path / "nothing")("anything")


def test_pip_arguments_are_adapted_to_the_image(tmp_path: Path) -> None:
    requirements = tmp_path / "upper" / "kaptain" / "requirements.txt"
    requirements.parent.mkdir(parents=True)
    requirements.write_text("x\n")

    def locate(image_path: str) -> Path | None:
        path = tmp_path / "upper" / image_path.lstrip("/")
        return path if path.exists() else None

    log = BuildLog(stream=io.StringIO())
    adapted = prepare_args(
        [
            "--no-cache",
            "-r",
            "/kaptain/requirements.txt",
            "--requirement=/kaptain/requirements.txt",
            "-U",
            "pkg==1",
        ],
        locate,
        log,
    )
    assert adapted == ["-r", str(requirements), "--requirement", str(requirements), "-U", "pkg==1"]
    assert prepare_args(["-r/kaptain/requirements.txt", "/kaptain"], locate, log) == [
        "-r",
        str(requirements),
        str(requirements.parent),
    ]
    for bad, message in (
        (["--target", "/x", "pkg"], "--target is not supported"),
        (["-e", "."], "-e is not supported"),
        (["--prefix=/usr", "pkg"], "--prefix is not supported"),
        (["-r", "missing.txt"], "requirements file missing.txt does not exist"),
    ):
        with pytest.raises(BuildError, match=message):
            prepare_args(bad, locate, log)
