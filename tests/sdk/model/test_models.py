"""kaptain.model.models.Model: the constructor's checks, revision, state, snapshots, names."""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from kaptain.config import Config
from kaptain.exceptions import InvalidModelProperty, ModelValidationException
from kaptain.model.frameworks import ModelFramework
from kaptain.model.meta import FrozenMapping
from kaptain.model.models import Model, ModelMeta
from kaptain.model.states import ModelState
from kaptain.platform.config.docker import DockerConfigurationProvider
from kaptain.platform.config.s3 import S3ConfigurationProvider

SECRET = "model-test-secret-key-0001"


def _arguments(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "id": "dev/mnist",
        "name": "MNIST",
        "description": "Digit recognition for MNIST data set",
        "version": "0.0.1",
        "framework": ModelFramework.TENSORFLOW,
        "framework_version": "2.8.0",
        "main_file": "trainer.py",
        "image_name": "kaptain/mnist:mnist-sdk-example",
        "base_image": "mesosphere/kubeflow:2.2.0-tensorflow-2.9.1",
    }
    arguments.update(overrides)
    return arguments


@pytest.fixture
def config(model_dir: Path) -> Config:
    return Config(
        DockerConfigurationProvider.from_credentials("registry.local:5000", "u", SECRET),
        S3ConfigurationProvider("AKIAEXAMPLE", SECRET, s3_endpoint="http://minio:9000"),
        base_dir=str(model_dir),
    )


def test_tutorial_model(config: Config) -> None:
    model = Model(
        **_arguments(
            extra_files=["datasets/mnist", "utils.py"],
            requirements="requirements.txt",
            labels=["dev/mnist-tensorflow"],
            config=config,
            serving_config={"model_file": "utils.py", "handler": "image_classifier"},
        )
    )
    assert model.id == "dev/mnist"
    assert model.name == "MNIST"
    assert model.framework is ModelFramework.TENSORFLOW
    assert model.main_file == "trainer.py"
    assert model.extra_files == ["datasets/mnist", "utils.py"]
    assert model.requirements == "requirements.txt"
    assert model.labels == ["dev/mnist-tensorflow"]
    assert model.serving_config == {"model_file": "utils.py", "handler": "image_classifier"}
    assert model.config is config
    assert model.state is ModelState.UNTRAINED
    assert re.fullmatch(r"[0-9a-f]{32}", model.revision)
    assert model.hyperparameters is None
    assert model.metrics is None


def test_positional_arguments_in_seed_order(config: Config) -> None:
    model = Model(
        "dev/mnist",
        "MNIST",
        "description",
        "1",
        ModelFramework.SKLEARN,
        "1.4",
        "trainer.py",
        "kaptain/mnist",
        "python:3.11",
        ["utils.py"],
        "requirements.txt",
        ["l"],
        config,
        {"k": "v"},
    )
    assert model.extra_files == ["utils.py"]
    assert model.serving_config == {"k": "v"}


def test_revisions_are_random(config: Config) -> None:
    revisions = {Model(**_arguments(config=config)).revision for _ in range(20)}
    assert len(revisions) == 20


def test_config_none_means_the_embedded_default(model_dir: Path, home: Path) -> None:
    model = Model(**_arguments())
    assert model.config.base_dir == str(model_dir)
    assert model.config.base_model_storage_uri == (home / ".kaptain" / "storage" / "models").as_uri()


@pytest.mark.parametrize("framework", ["pytorch", "PyTorch", "PYTORCH", ModelFramework.PYTORCH])
def test_framework_accepts_members_and_values(framework: object, config: Config) -> None:
    assert Model(**_arguments(framework=framework, config=config)).framework is ModelFramework.PYTORCH


@pytest.mark.parametrize(
    "prop",
    [
        "id",
        "name",
        "description",
        "version",
        "framework",
        "framework_version",
        "main_file",
        "image_name",
        "base_image",
    ],
)
@pytest.mark.parametrize("value", [None, "", "   ", 5])
def test_required_properties(prop: str, value: object, config: Config) -> None:
    with pytest.raises(InvalidModelProperty, match=f"^{prop} must") as info:
        Model(**_arguments(config=config, **{prop: value}))
    assert info.value.property_name == prop
    assert isinstance(info.value, ModelValidationException)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("overrides", "prop", "rule"),
    [
        ({"id": "Dev/MNIST"}, "id", "id must be '/'-separated segments"),
        ({"id": "dev mnist"}, "id", "id must be '/'-separated segments"),
        ({"id": "dev/" + "m" * 60}, "id", "at most 45 characters"),
        ({"name": "3D"}, "name", "name must start with a letter"),
        ({"name": "***"}, "name", "name must start with a letter"),
        ({"framework": "caffe"}, "framework", "framework must be a ModelFramework or one of: tensorflow"),
        ({"image_name": "Kaptain/MNIST"}, "image_name", "image_name must be lowercase"),
        ({"image_name": "kaptain/mnist:-x"}, "image_name", "image_name has an invalid tag"),
        ({"image_name": "python@sha256:" + "a" * 64}, "image_name", "must not contain a digest"),
        ({"base_image": "Python"}, "base_image", "base_image must be lowercase"),
        ({"main_file": "missing.py"}, "main_file", "main_file must exist under base_dir"),
        ({"main_file": "datasets"}, "main_file", "main_file must be a regular file"),
        ({"main_file": "../trainer.py"}, "main_file", "main_file must stay inside base_dir"),
        ({"main_file": "/etc/hostname"}, "main_file", "main_file must stay inside base_dir"),
        ({"main_file": "."}, "main_file", "not base_dir itself"),
        ({"requirements": "missing.txt"}, "requirements", "requirements must exist"),
        ({"requirements": "datasets"}, "requirements", "requirements must be a regular file"),
        ({"requirements": ""}, "requirements", "requirements must not be blank"),
        ({"extra_files": "utils.py"}, "extra_files", "extra_files must be a list of paths"),
        ({"extra_files": ["utils.py", "nope.py"]}, "extra_files[1]", r"extra_files\[1\] must exist"),
        ({"extra_files": ["../x"]}, "extra_files[0]", r"extra_files\[0\] must stay inside base_dir"),
        ({"extra_files": ["utils.py", "./utils.py"]}, "extra_files[1]", "must not list 'utils.py' twice"),
        ({"extra_files": [None]}, "extra_files[0]", r"extra_files\[0\] must not be None"),
        ({"labels": "dev"}, "labels", "labels must be a list of strings"),
        ({"labels": ["ok", " "]}, "labels[1]", r"labels\[1\] must not be blank"),
        ({"serving_config": ["handler"]}, "serving_config", "serving_config must be a dict of strings"),
        (
            {"serving_config": {"handler": 1}},
            "serving_config",
            r"serving_config\['handler'\] must be a string",
        ),
        ({"serving_config": {" ": "x"}}, "serving_config key", "serving_config key must not be blank"),
        ({"config": "default"}, "config", "config must be a kaptain.config.Config or None"),
    ],
)
def test_invalid_properties_name_property_and_rule(
    overrides: dict[str, Any], prop: str, rule: str, config: Config
) -> None:
    arguments = _arguments(config=config)
    arguments.update(overrides)
    with pytest.raises(InvalidModelProperty, match=rule) as info:
        Model(**arguments)
    assert info.value.property_name == prop


def test_paths_are_normalized_relative_to_base_dir(config: Config, model_dir: Path) -> None:
    model = Model(
        **_arguments(
            main_file="./datasets/../trainer.py",
            extra_files=[str(model_dir / "utils.py"), "datasets/mnist/"],
            requirements=str(model_dir / "requirements.txt"),
            config=config,
        )
    )
    assert model.main_file == "trainer.py"
    assert model.extra_files == ["utils.py", "datasets/mnist"]
    assert model.requirements == "requirements.txt"


def test_base_dir_other_than_cwd(tmp_path: Path, model_dir: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("")
    config = Config(
        DockerConfigurationProvider("{}"), S3ConfigurationProvider("a", "b"), base_dir=str(project)
    )
    assert Model(**_arguments(main_file="train.py", config=config)).main_file == "train.py"
    with pytest.raises(InvalidModelProperty, match="main_file must exist"):
        Model(**_arguments(config=config))  # trainer.py exists in the cwd, not in base_dir


def test_symbolic_links_must_not_lead_outside(
    config: Config, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.py"
    outside.write_text("")
    os.symlink(outside, model_dir / "link.py")
    os.symlink(model_dir / "utils.py", model_dir / "inside.py")
    with pytest.raises(InvalidModelProperty, match="leads outside through a symbolic link"):
        Model(**_arguments(main_file="link.py", config=config))
    assert Model(**_arguments(main_file="inside.py", config=config)).main_file == "inside.py"


def test_properties_are_read_only_and_copies(config: Config) -> None:
    model = Model(
        **_arguments(extra_files=["utils.py"], labels=["a"], serving_config={"k": "v"}, config=config)
    )
    with pytest.raises(AttributeError):
        model.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        model.revision = "0" * 32  # type: ignore[misc]
    model.extra_files.append("x")
    labels = model.labels
    assert labels is not None
    labels.append("b")
    serving = model.serving_config
    assert serving is not None
    serving["k"] = "changed"
    assert model.extra_files == ["utils.py"]
    assert model.labels == ["a"]
    assert model.serving_config == {"k": "v"}


def test_inputs_are_copied(config: Config) -> None:
    extra = ["utils.py"]
    serving = {"k": "v"}
    model = Model(**_arguments(extra_files=extra, serving_config=serving, config=config))
    extra.append("requirements.txt")
    serving["k"] = "changed"
    assert model.extra_files == ["utils.py"]
    assert model.serving_config == {"k": "v"}


def test_meta_is_a_frozen_snapshot(config: Config) -> None:
    model = Model(
        **_arguments(extra_files=["utils.py"], labels=["l"], serving_config={"k": "v"}, config=config)
    )
    meta = model.meta()
    assert isinstance(meta, ModelMeta)
    assert dataclasses.asdict(meta) == {
        "id": "dev/mnist",
        "name": "MNIST",
        "description": "Digit recognition for MNIST data set",
        "version": "0.0.1",
        "framework": ModelFramework.TENSORFLOW,
        "framework_version": "2.8.0",
        "main_file": "trainer.py",
        "image_name": "kaptain/mnist:mnist-sdk-example",
        "base_image": "mesosphere/kubeflow:2.2.0-tensorflow-2.9.1",
        "extra_files": ("utils.py",),
        "requirements": None,
        "labels": ("l",),
        "serving_config": FrozenMapping({"k": "v"}),
        "revision": model.revision,
        "state": ModelState.UNTRAINED,
        "hyperparameters": None,
        "metrics": None,
        "base_dir": config.base_dir,
        "base_model_storage_uri": "s3://kaptain/models",
        "docker_registry_url": None,
    }
    assert dict(meta.serving_config or {}) == {"k": "v"}
    assert pickle.loads(pickle.dumps(meta)) == meta
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.revision = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        meta.serving_config["k"] = "changed"  # type: ignore[index]
    assert {field.name for field in dataclasses.fields(meta)} >= {"revision", "state", "hyperparameters"}


def test_meta_copies_hyperparameters_and_metrics(config: Config) -> None:
    """meta() must not share state with the model (the later training code sets these fields)."""
    model = Model(**_arguments(config=config))
    model._hyperparameters = {"--epochs": 5, "--layers": [1, 2]}
    model._metrics = {"accuracy": {"max": 0.9}}
    meta = model.meta()
    model._hyperparameters["--layers"].append(3)
    model._metrics["accuracy"]["max"] = 0.1
    assert meta.hyperparameters is not None
    assert meta.hyperparameters["--layers"] == [1, 2]
    assert meta.metrics is not None
    assert meta.metrics["accuracy"]["max"] == 0.9
    with pytest.raises(TypeError):
        meta.hyperparameters["--epochs"] = 6  # type: ignore[index]
    returned = model.hyperparameters
    assert returned is not None
    returned["--epochs"] = 100
    assert model.hyperparameters == {"--epochs": 5, "--layers": [1, 2, 3]}


@pytest.mark.parametrize(
    ("name", "model_id", "sanitized_name", "sanitized_id"),
    [
        ("Wine Classification", "dev/wine", "wine-classification", "dev-wine"),
        ("MNIST", "dev/mnist", "mnist", "dev-mnist"),
        ("PyTorch MNIST (v2)", "prod/vision/mnist-v2", "pytorch-mnist-v2", "prod-vision-mnist-v2"),
    ],
)
def test_sanitized_names(
    name: str, model_id: str, sanitized_name: str, sanitized_id: str, config: Config
) -> None:
    model = Model(**_arguments(name=name, id=model_id, config=config))
    assert model.sanitized_name == sanitized_name
    assert model.sanitized_id == sanitized_id


def test_repr_shows_identity_not_secrets(config: Config) -> None:
    model = Model(**_arguments(config=config))
    text = repr(model)
    assert "dev/mnist" in text
    assert model.revision in text
    assert "untrained" in text
    assert SECRET not in text
    assert SECRET not in repr(model.meta())


def test_no_workload_is_started_by_construction(config: Config, model_dir: Path) -> None:
    before = sorted(p.name for p in model_dir.iterdir())
    Model(**_arguments(config=config))
    assert sorted(p.name for p in model_dir.iterdir()) == before
