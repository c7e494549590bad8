"""Sample contract objects shared by the workflow, activity and worker tests."""

from __future__ import annotations

import json
import uuid

from cryptography.fernet import Fernet

from kaptain.workflows.sealed import Sealer
from kaptain.workflows.specs import BuildInput, ModelRef, RegistrySpec, StorageSpec, TrainInput

DOCKER_PASSWORD = "registry-pass-5f1d"
S3_SECRET_KEY = "s3-secret-9c2a41"


def new_sealer() -> Sealer:
    """A sealer with a fresh key."""
    return Sealer(Fernet.generate_key())


def model_ref() -> ModelRef:
    return ModelRef(id="dev/mnist", name="MNIST", name_fragment="mnist", id_label="dev.mnist")


def docker_config(
    registry: str = "127.0.0.1:5000", user: str = "kaptain", password: str = DOCKER_PASSWORD
) -> str:
    import base64

    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps({"auths": {registry: {"auth": auth}}})


def s3_env(endpoint: str = "http://127.0.0.1:9000", secret: str = S3_SECRET_KEY) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "kaptain-key",
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "S3_ENDPOINT": endpoint,
        "S3_FORCE_PATH_STYLE": "true",
    }


def build_input(
    sealer: Sealer,
    *,
    base_uri: str = "file:///tmp/kaptain-models",
    ca: str | None = None,
    revision: str | None = None,
) -> BuildInput:
    rev = revision or uuid.uuid4().hex
    creds = sealer.seal(json.dumps(s3_env())) if base_uri.startswith("s3://") else None
    storage = StorageSpec(base_uri=base_uri, credentials=creds)
    return BuildInput(
        model=model_ref(),
        revision=rev,
        image="127.0.0.1:5000/kaptain/mnist:dev-mnist-pytorch-2.13.0",
        checksum="0123456789abcdef0123456789abcdef",
        context_uri=f"{base_uri}/dev/mnist/contexts/0123456789abcdef0123456789abcdef.tar.gz",
        storage=storage,
        registry=RegistrySpec(docker_config=sealer.seal(docker_config()), ca_certificate=ca),
    )


def train_input(
    sealer: Sealer,
    *,
    framework: str = "pytorch",
    workers: int = 2,
    base_uri: str = "file:///tmp/kaptain-models",
    ttl: int | None = None,
) -> TrainInput:
    build = build_input(sealer, base_uri=base_uri)
    return TrainInput(
        model=model_ref(),
        revision=uuid.uuid4().hex,
        framework=framework,
        build=build,
        workers=workers,
        hyperparameters={"--epochs": "2", "--lr": "0.01"},
        args={"--log-interval": "10"},
        storage=build.storage,
        registry=build.registry,
        ttl_seconds_after_finished=ttl,
    )
