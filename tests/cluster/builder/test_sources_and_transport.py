"""Where builds come from and go to: S3 and tar contexts, HTTPS registries, the Kaniko pod contract,
and images built FROM images of the registry."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from kaptain.cluster.images import BaseImageMapping, ImageStore
from kaptain.cluster.registry import docker_config_auth
from kaptain.cluster.tls import ensure_pki
from tests.cluster.builder.conftest import PACKAGE, BuilderEnv, host_cannot_import, write_context
from tests.cluster.registry.server import TOKEN, RegistryServer
from tests.conftest import free_port

S3_KEY_ID = "AKIAKAPTAINTEST"
S3_SECRET = "kaptain-test-secret-key-never-logged"


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _tar_gz(source: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w:gz") as tar:
        for path in sorted(source.iterdir()):
            tar.add(path, arcname=path.name)
    return dest


def test_s3_context(builder: BuilderEnv, context: Path, tmp_path: Path, s3_endpoint: str) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    )
    s3.create_bucket(Bucket="kaptain")
    archive = _tar_gz(context, tmp_path / "context.tar.gz")
    s3.upload_file(str(archive), "kaptain", "dev/mnist/contexts/abc/context.tar.gz")
    env = builder.env(
        AWS_ACCESS_KEY_ID=S3_KEY_ID,
        AWS_SECRET_ACCESS_KEY=S3_SECRET,
        AWS_REGION="us-east-1",
        S3_ENDPOINT=s3_endpoint,
        S3_FORCE_PATH_STYLE="true",
    )
    destination = f"{builder.registry.host}/kaptain/mnist:s3"
    run = builder.run(
        "--context=s3://kaptain/dev/mnist/contexts/abc/context.tar.gz",
        f"--destination={destination}",
        env=env,
    )
    assert run.returncode == 0, run.output
    assert "Retrieving build context from s3://kaptain/dev/mnist/contexts/abc/context.tar.gz" in run.output
    assert S3_SECRET not in run.output and S3_KEY_ID not in run.output
    image = ImageStore(builder.data_dir, mapping=BaseImageMapping.defaults()).resolve(destination)
    assert image is not None and image.rootfs is not None
    assert (image.rootfs / "kaptain" / "trainer.py").is_file()

    missing = builder.run("--context=s3://kaptain/no/such/context.tar.gz", "--no-push", env=env)
    assert missing.returncode == 1
    assert "cannot download context s3://kaptain/no/such/context.tar.gz" in missing.output


def test_tar_context_with_sub_path_and_dockerignore(builder: BuilderEnv, tmp_path: Path) -> None:
    source = tmp_path / "src"
    model = write_context(source / "model")
    (model / "secrets.env").write_text("PASSWORD=x\n")
    (model / "data").mkdir()
    (model / "data" / "big.bin").write_bytes(b"0" * 1000)
    (model / "data" / "keep.txt").write_text("kept\n")
    (model / ".dockerignore").write_text("secrets.env\ndata/*\n!data/keep.txt\n")
    archive = tmp_path / "context.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "model", arcname="model")
    destination = f"{builder.registry.host}/kaptain/tarred:v1"
    run = builder.run(
        f"--context=tar://{archive}", "--context-sub-path=model", f"--destination={destination}"
    )
    assert run.returncode == 0, run.output
    image = ImageStore(builder.data_dir, mapping=BaseImageMapping.defaults()).resolve(destination)
    assert image is not None and image.rootfs is not None
    files = {
        p.relative_to(image.rootfs / "kaptain").as_posix() for p in (image.rootfs / "kaptain").rglob("*")
    }
    assert "secrets.env" not in files and "data/big.bin" not in files
    assert {"trainer.py", "requirements.txt", "data/keep.txt"} <= files


def test_https_registry_with_the_cluster_ca(tmp_path: Path, context: Path) -> None:
    pki = ensure_pki(tmp_path / "cluster")
    with RegistryServer(tmp_path / "cluster", ssl_context=pki.server_context()) as registry:
        docker = tmp_path / "docker"
        docker.mkdir()
        (docker / "config.json").write_text(docker_config_auth(registry.host, TOKEN))
        builder = BuilderEnv(data_dir=registry.data_dir, docker_config=docker, registry=registry)
        destination = f"{registry.host}/kaptain/mnist:tls"
        untrusted = builder.run(f"--context={context}", f"--destination={destination}")
        assert untrusted.returncode == 1
        assert (
            "CERTIFICATE_VERIFY_FAILED" in untrusted.output or "SSLCertVerificationError" in untrusted.output
        )
        trusted = builder.run(
            f"--context={context}",
            f"--destination={destination}",
            f"--registry-certificate={registry.host}={pki.ca_cert}",
        )
        assert trusted.returncode == 0, trusted.output
        skipped = builder.run(
            f"--context={context}", f"--destination={destination}", "--skip-tls-verify", "--cache"
        )
        assert skipped.returncode == 0, skipped.output
        assert (
            ImageStore(registry.data_dir, mapping=BaseImageMapping.defaults()).resolve(destination)
            is not None
        )


def test_kaniko_pod_contract(builder: BuilderEnv, context: Path, tmp_path: Path) -> None:
    """Runs the builder as the kubelet runs a Kaniko pod: the executor image's entrypoint and env
    from the base-image mapping, Kaniko's usual paths under the container root."""
    kaniko = ImageStore(builder.data_dir, mapping=BaseImageMapping.load(builder.data_dir)).resolve(
        "gcr.io/kaniko-project/executor:v1.23.0"
    )
    assert kaniko is not None
    root = tmp_path / "container"
    (root / "kaniko" / ".docker").mkdir(parents=True)
    (root / "kaniko" / ".docker" / "config.json").write_text(
        (builder.docker_config / "config.json").read_text()
    )
    (root / "workspace").mkdir()
    for path in context.iterdir():
        (root / "workspace" / path.name).write_bytes(path.read_bytes())
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DOCKER_CONFIG", "KAPTAIN_DATA_DIR")
    }
    env |= kaniko.env | {"KAPTAIN_ROOTFS": str(root)}
    destination = f"{builder.registry.host}/kaptain/mnist:pod"
    result = subprocess.run(
        [
            *kaniko.entrypoint,
            "--dockerfile=/workspace/Dockerfile",
            "--context=dir:///workspace",
            f"--destination={destination}",
            "--cache=true",
            "--digest-file=/dev/termination-log",
            "--snapshot-mode=redo",
            "--use-new-run",
        ],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    digest = (root / "dev" / "termination-log").read_text()
    image = ImageStore(builder.data_dir, mapping=BaseImageMapping.defaults()).resolve(destination)
    assert image is not None and image.digest == digest
    assert (builder.data_dir / "pip-cache").is_dir(), "the pip cache lives in the cluster's data dir"


def test_image_built_from_a_registry_image_stacks_on_it(
    builder: BuilderEnv, context: Path, tmp_path: Path
) -> None:
    host = builder.registry.host
    base = builder.run(f"--context={context}", f"--destination={host}/kaptain/base:v1")
    assert base.returncode == 0, base.output
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(
        f"import {PACKAGE}, termcolor\nprint('both', {PACKAGE}.__name__, termcolor.__name__)\n"
    )
    (app / "Dockerfile").write_text(
        f"ARG BASE={host}/kaptain/base:v1\n"
        "FROM ${BASE} AS app\n"
        "ENV APP_HOME=/srv/app\n"
        "WORKDIR $APP_HOME\n"
        "COPY app.py ./\n"
        "RUN python3 -m pip install termcolor && pip install -r /kaptain/requirements.txt\n"
        'CMD ["python", "app.py"]\n'
    )
    stacked = builder.run(f"--context={app}", f"--destination={host}/kaptain/app:v1")
    assert stacked.returncode == 0, stacked.output
    assert f"Requirement already satisfied: {PACKAGE}" in stacked.output, (
        "the parent's packages count as installed"
    )
    store = ImageStore(builder.data_dir, mapping=BaseImageMapping.defaults())
    parent = store.resolve(f"{host}/kaptain/base:v1")
    image = store.resolve(f"{host}/kaptain/app:v1")
    assert parent is not None and image is not None and image.rootfs is not None
    assert image.rootfs / ".kaptain/site-packages/1" == image.site_packages
    assert image.python_path == (
        image.rootfs / ".kaptain/site-packages/1",
        image.rootfs / ".kaptain/site-packages/0",
    )
    assert (image.rootfs / "kaptain" / "trainer.py").is_file(), "the parent's files are in the image"
    assert image.entrypoint == ["python", "-u", "trainer.py"] and image.cmd == ["python", "app.py"]
    assert image.env["APP_HOME"] == "/srv/app" and image.working_dir == "/srv/app"
    assert image.labels == parent.labels
    manifest = json.loads(builder.registry.storage.get_manifest("kaptain/app", "v1").body)  # type: ignore[union-attr]
    parent_manifest = json.loads(builder.registry.storage.get_manifest("kaptain/base", "v1").body)  # type: ignore[union-attr]
    assert manifest["layers"][:-1] == parent_manifest["layers"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | image.python_env()
    ran = subprocess.run(
        [image.executable("python"), "app.py"],
        cwd=image.host_path(image.working_dir),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.stdout.strip() == f"both {PACKAGE} termcolor", ran.stderr
    assert host_cannot_import("termcolor")
