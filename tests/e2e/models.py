"""Models for the SDK tests: training code on disk and a `Model` with an explicit `Config`."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kaptain.config import Config
from kaptain.model.models import Model
from kaptain.platform.config.certificates import DockerRegistryCertificateProvider
from kaptain.platform.config.docker import DockerConfigurationProvider
from kaptain.platform.config.local import LocalStorageConfigurationProvider
from kaptain.platform.config.provider import ConfigurationProvider

TRAINER = textwrap.dedent(
    '''
    """A small distributed trainer: reads its flags, records metrics, uploads its model."""
    import argparse
    import json
    import os
    import sys
    import time

    from kaptain.platform.metadata_util import MetadataUtil
    from kaptain.platform.model_export_util import ModelExportUtil

    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--exit-code", type=int, default=0)
    args, _ = parser.parse_known_args()
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    print(f"rank {rank} of {world}: epochs={args.epochs} lr={args.lr}", flush=True)
    if args.exit_code:
        print("training failed on purpose", file=sys.stderr, flush=True)
        sys.exit(args.exit_code)
    time.sleep(args.sleep)
    if "MODEL_LIFECYCLE_PHASE" in os.environ:
        MetadataUtil.record_metrics({"accuracy": 0.5 + 0.1 * args.epochs, "loss": "{:.4f}".format(args.lr / 2)})
        if rank == 0:
            with open("model.json", "w") as handle:
                json.dump({"epochs": args.epochs, "lr": args.lr, "world_size": world}, handle)
            ModelExportUtil().upload_model("model.json")
    '''
).lstrip()


def write_project(directory: Path, *, trainer: str = TRAINER) -> Path:
    """A model project: trainer.py, a helper module and a data directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "trainer.py").write_text(trainer)
    (directory / "helpers.py").write_text("SCALE = 2\n")
    (directory / "data").mkdir(exist_ok=True)
    (directory / "data" / "sample.csv").write_text("x,y\n1,2\n")
    return directory


def default_model(
    project: Path,
    *,
    model_id: str,
    image_name: str = "kaptain/e2e:v1",
    framework: str = "pytorch",
    base_image: str = "python:3.11",
    **config: object,
) -> Model:
    """A model on the default configuration (the embedded cluster of ``$KAPTAIN_HOME``).

    Args:
        project: The model's files.
        model_id: Its id.
        image_name: Its image.
        framework: Its framework.
        base_image: The image it is built from.
        config: `Config` attributes to change (``storage_config_provider``, ...).
    """
    settings = Config.default()
    settings.base_dir = str(project)
    for name, value in config.items():
        setattr(settings, name, value)
    return Model(
        id=model_id,
        name="MNIST",
        description="digits",
        version="0.0.1",
        framework=framework,
        framework_version="2.13.0",
        main_file="trainer.py",
        image_name=image_name,
        base_image=base_image,
        extra_files=["helpers.py", "data"],
        config=settings,
    )


def make_model(
    project: Path,
    *,
    storage_uri: str,
    registry: str | None,
    docker_config: str,
    ca_file: Path | None = None,
    storage_provider: ConfigurationProvider | None = None,
    model_id: str = "dev/mnist",
    framework: str = "pytorch",
    image_name: str = "kaptain/mnist",
) -> Model:
    config = Config(
        docker_config_provider=DockerConfigurationProvider(docker_config),
        storage_config_provider=storage_provider or LocalStorageConfigurationProvider(),
        docker_registry_url=registry,
        docker_registry_certificate_provider=(
            DockerRegistryCertificateProvider.from_file(str(ca_file)) if ca_file is not None else None
        ),
        base_dir=str(project),
        base_model_storage_uri=storage_uri,
    )
    return Model(
        id=model_id,
        name="MNIST",
        description="digits",
        version="0.0.1",
        framework=framework,
        framework_version="2.13.0",
        main_file="trainer.py",
        image_name=image_name,
        base_image="python:3.11",
        extra_files=["helpers.py", "data"],
        config=config,
    )
