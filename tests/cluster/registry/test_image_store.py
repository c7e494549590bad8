"""Resolving image references: pushed images by tag and digest, the base-image mapping, unknowns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kaptain.cluster.images import BaseImageMapping, ImageReference, ImageStore, MappingError, ReferenceError
from kaptain.cluster.images.mapping import ENV_VAR
from kaptain.cluster.registry.storage import DOCKER_MANIFEST, OCI_INDEX, RegistryStorage
from kaptain.cluster.registry.unpack import materialize_manifest
from tests.cluster.registry.images import Entry, make_config, make_layer, make_manifest


def _push(storage: RegistryStorage, repo: str, tag: str, layers: list[bytes], config: bytes) -> str:
    for blob in [*layers, config]:
        storage.put_blob(blob)
    stored = storage.put_manifest(repo, tag, make_manifest(config, layers), DOCKER_MANIFEST)
    materialize_manifest(storage, stored)
    return stored.digest


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def pushed(data_dir: Path) -> str:
    storage = RegistryStorage(data_dir)
    layer = make_layer(
        [
            Entry("kaptain/trainer.py", b"print('trained')\n"),
            Entry(".kaptain/site-packages/0/helper_pkg.py", b"VALUE = 42\n"),
        ]
    )
    config = make_config(
        [layer],
        env=["MODE=train", "EMPTY="],
        entrypoint=["python", "-u", "trainer.py"],
        cmd=["--epochs=1"],
        working_dir="/kaptain",
        labels={"checksum": "0" * 32},
        marker={
            "base": "python:3.11",
            "python": "/nonexistent/python",
            "pythonPath": ["/.kaptain/site-packages/0"],
        },
    )
    return _push(storage, "kaptain/mnist", "v1", [layer], config)


def test_pushed_image_resolves_by_tag_digest_and_host_alias(data_dir: Path, pushed: str) -> None:
    store = ImageStore(data_dir, mapping=BaseImageMapping.defaults())
    by_tag = store.resolve("127.0.0.1:5000/kaptain/mnist:v1")
    assert by_tag is not None
    assert by_tag.rootfs is not None
    assert (by_tag.rootfs / "kaptain" / "trainer.py").is_file()
    assert by_tag.env == {"MODE": "train", "EMPTY": ""}
    assert by_tag.entrypoint == ["python", "-u", "trainer.py"]
    assert by_tag.cmd == ["--epochs=1"]
    assert by_tag.working_dir == "/kaptain"
    assert by_tag.labels == {"checksum": "0" * 32}
    assert by_tag.digest == pushed
    # The base python:3.11 maps to this interpreter now; the recorded one is not used.
    assert by_tag.python == sys.executable
    assert by_tag.base == "python:*"
    assert by_tag.site_packages == by_tag.rootfs / ".kaptain" / "site-packages" / "0"
    for reference in (
        f"localhost:5000/kaptain/mnist@{pushed}",
        f"127.0.0.1:1234/kaptain/mnist:v1@{pushed}",
        "kaptain/mnist:v1",
        f"kaptain/mnist@{pushed}",
    ):
        resolved = store.resolve(reference)
        assert resolved is not None, reference
        assert resolved.digest == pushed
        assert resolved.reference == reference
    assert store.resolve("127.0.0.1:5000/kaptain/mnist:v2") is None
    assert store.resolve("127.0.0.1:5000/kaptain/other:v1") is None
    assert store.resolve("kaptain/mnist") is None, "no latest tag was pushed"


def test_registry_hosts_restrict_what_counts_as_local(data_dir: Path, pushed: str) -> None:
    store = ImageStore(data_dir, mapping=BaseImageMapping.defaults(), registry_hosts={"127.0.0.1:5000"})
    assert store.resolve("127.0.0.1:5000/kaptain/mnist:v1") is not None
    assert store.resolve("localhost:5000/kaptain/mnist:v1") is None


def test_image_packages_import_with_python_env_only(data_dir: Path, pushed: str) -> None:
    resolved = ImageStore(data_dir, mapping=BaseImageMapping.defaults()).resolve("kaptain/mnist:v1")
    assert resolved is not None
    code = ["-c", "import helper_pkg; print(helper_pkg.VALUE)"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ok = subprocess.run(
        [resolved.executable("python"), *code],
        env={**env, **resolved.python_env()},
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.stdout.strip() == "42", ok.stderr
    missing = subprocess.run(
        [resolved.executable("python3"), *code], env=env, capture_output=True, text=True, check=False
    )
    assert missing.returncode != 0 and "ModuleNotFoundError" in missing.stderr


def test_resolved_image_paths_and_private_copy(data_dir: Path, pushed: str, tmp_path: Path) -> None:
    resolved = ImageStore(data_dir, mapping=BaseImageMapping.defaults()).resolve("kaptain/mnist:v1")
    assert resolved is not None and resolved.rootfs is not None
    container = resolved.copy_rootfs(tmp_path / "container")
    assert (container / "kaptain" / "trainer.py").read_text() == "print('trained')\n"
    assert not (container / ".kaptain").exists(), "site-packages are used in place, not copied"
    assert resolved.host_path("/kaptain/trainer.py", container) == container / "kaptain" / "trainer.py"
    assert resolved.host_path("trainer.py", container) == container / "kaptain" / "trainer.py"
    assert resolved.host_path("/../../etc/passwd", container) == container / "etc" / "passwd"
    assert resolved.host_path("/kaptain") == resolved.rootfs / "kaptain"
    for name in ("python", "python3", "python3.11", "/usr/local/bin/python", "/opt/conda/bin/python3"):
        assert resolved.executable(name) == resolved.python
    assert resolved.executable("/bin/sh") == "/bin/sh"
    assert not resolved.is_python("pythonista")


def test_index_resolves_to_its_linux_amd64_image(data_dir: Path) -> None:
    storage = RegistryStorage(data_dir)
    images = {}
    for arch in ("arm64", "amd64"):
        layer = make_layer([Entry("arch", arch.encode())])
        config = make_config([layer], labels={"arch": arch})
        images[arch] = _push(storage, "multi", f"only-{arch}", [layer], config)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": DOCKER_MANIFEST,
                "digest": images[a],
                "size": 1,
                "platform": {"os": "linux", "architecture": a},
            }
            for a in ("arm64", "amd64")
        ],
    }
    storage.put_manifest("multi", "v1", json.dumps(index).encode(), OCI_INDEX)
    resolved = ImageStore(data_dir, mapping=BaseImageMapping.defaults()).resolve("localhost:9/multi:v1")
    assert resolved is not None
    assert resolved.labels == {"arch": "amd64"}


def test_base_image_defaults(data_dir: Path) -> None:
    store = ImageStore(data_dir, mapping=BaseImageMapping.defaults(data_dir=data_dir))
    for reference in (
        "python:3.7",
        "python",
        "docker.io/library/python:3.11-slim",
        "index.docker.io/library/python:3.9",
        "pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime",
        "tensorflow/tensorflow:2.15.0",
        "mesosphere/kubeflow:1.2.0-jupyter-tensorflow-2.2.0",
        "kserve/sklearnserver:v0.11.0",
    ):
        resolved = store.resolve(reference)
        assert resolved is not None, reference
        assert resolved.rootfs is None
        assert resolved.python == sys.executable
        assert resolved.site_packages is None
        assert resolved.python_env() == {}
    kaniko = store.resolve("gcr.io/kaniko-project/executor:v1.9.0")
    assert kaniko is not None
    assert kaniko.entrypoint == [sys.executable, "-m", "kaptain.cluster.builder"]
    assert kaniko.env["KAPTAIN_DATA_DIR"] == str(data_dir)
    assert kaniko.env["DOCKER_CONFIG"] == "/kaniko/.docker/"
    assert store.resolve("gcr.io/kaniko-project/executor@sha256:" + "a" * 64) is not None
    for unknown in (
        "ubuntu:22.04",
        "quay.io/someone/thing:1",
        "not a reference",
        "python@sha256:" + "a" * 64,
    ):
        assert store.resolve(unknown) is None, unknown


def test_mapping_file_and_environment_variable(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "images.yaml").write_text(
        f"""
"my-org/trainer-base:*":
  python: {sys.executable}
  env: {{OMP_NUM_THREADS: 1}}
  entrypoint: ["{{python}}", "-m", "trainer"]
  workingDir: /work
"tensorflow/tensorflow:*": false
"python:2*": false
"""
    )
    environ = {ENV_VAR: json.dumps({"my-org/trainer-base:special": {"env": {"SPECIAL": "yes"}}})}
    store = ImageStore(data_dir, mapping=BaseImageMapping.load(data_dir, environ=environ))
    custom = store.resolve("my-org/trainer-base:1.0")
    assert custom is not None
    assert custom.env == {"OMP_NUM_THREADS": "1"}
    assert custom.entrypoint == [sys.executable, "-m", "trainer"]
    assert custom.working_dir == "/work"
    special = store.resolve("my-org/trainer-base:special")
    assert special is not None and special.env == {"SPECIAL": "yes"}, "the environment variable comes first"
    assert store.resolve("tensorflow/tensorflow:2.15.0") is None, "switched off by the file"
    assert store.resolve("python:2.7") is None
    assert store.resolve("python:3.11") is not None, "defaults still apply after the file's entries"
    # The variable may also name a file; the Kaniko pods get it passed through.
    mapping_file = data_dir / "other.json"
    mapping_file.write_text(json.dumps({"ubuntu:*": None}))
    from_file = BaseImageMapping.load(None, environ={ENV_VAR: str(mapping_file)})
    ubuntu = from_file.match("ubuntu:22.04")
    assert ubuntu is not None and ubuntu.python == sys.executable
    kaniko = from_file.match("gcr.io/kaniko-project/executor:latest")
    assert kaniko is not None and kaniko.env[ENV_VAR] == str(mapping_file)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "expected an object"),
        ('{"python:*": 3}', "expected a string"),
        ('{"python:*": "/no/such/python"}', "does not exist"),
        ('{"python:*": {"pyhton": "x"}}', "unknown keys"),
        ('{"python:*": {"entrypoint": "python"}}', "list of strings"),
        ("{unbalanced", "not valid JSON/YAML"),
    ],
)
def test_malformed_mapping_is_reported(content: str, message: str, tmp_path: Path) -> None:
    # A value that does not start with "{" names a file.
    value = content
    if not content.startswith("{"):
        path = tmp_path / "map.yaml"
        path.write_text(content)
        value = str(path)
    with pytest.raises(MappingError, match=message):
        BaseImageMapping.load(None, environ={ENV_VAR: value})


def test_reference_parsing() -> None:
    ref = ImageReference.parse("127.0.0.1:5000/kaptain/mnist:v1")
    assert (ref.host, ref.repository, ref.tag, ref.digest) == ("127.0.0.1:5000", "kaptain/mnist", "v1", None)
    assert ref.is_loopback()
    hub = ImageReference.parse("python:3.11")
    assert hub.is_docker_hub and hub.familiar() == "python:3.11"
    assert hub.normalized() == "docker.io/library/python:3.11"
    assert ImageReference.parse("docker.io/library/python").familiar() == "python"
    assert ImageReference.parse("localhost/x").host == "localhost"
    assert not ImageReference.parse("gcr.io/a/b").is_loopback()
    for bad in ("", "UPPER/case", "a:b:c", "x@sha256:123"):
        with pytest.raises(ReferenceError):
            ImageReference.parse(bad)
