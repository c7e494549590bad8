"""Every public name of the seed reference (for the non-workload modules) exists where the seed puts it,
with the seed's parameter names, order and defaults.

The signatures below are copied verbatim from ``kaptain-sdk-api-1.2.txt``; they are parsed, not
retyped, so a difference in a name or default shows up as a test failure.
"""

from __future__ import annotations

import abc
import ast
import importlib
import inspect
import os
import types
from enum import Enum
from typing import Any

import pytest

from kaptain.platform import constants

_REQUIRED = object()

# (module, attribute path, seed signature text)
SEED_SIGNATURES: list[tuple[str, str, str]] = [
    (
        "kaptain.config",
        "Config",
        "__init__(docker_config_provider: ConfigurationProvider, storage_config_provider: ConfigurationProvider, "
        "docker_registry_url: Optional[str] = None, docker_registry_certificate_provider: "
        "Optional[ConfigurationProvider] = None, base_dir: str = os.getcwd(), "
        'base_model_storage_uri: str = "s3://kaptain/models")',
    ),
    (
        "kaptain.model.models",
        "Model",
        "__init__(id: str, name: str, description: str, version: str, framework: ModelFramework, "
        "framework_version: str, main_file: str, image_name: str, base_image: str, extra_files: "
        "Optional[List[str]] = None, requirements: Optional[str] = None, labels: Optional[List[str]] = None, "
        "config: Optional[Config] = None, serving_config: Optional[Dict[str, str]] = None)",
    ),
    ("kaptain.hyperparameter.algorithms", "Algorithm.of", "of(algorithm: Optional[str])"),
    ("kaptain.hyperparameter.domains", "Double", "__init__(min: float, max: float)"),
    ("kaptain.hyperparameter.domains", "Integer", "__init__(min: int, max: int)"),
    ("kaptain.hyperparameter.domains", "Discrete", "__init__(values)"),
    ("kaptain.hyperparameter.domains", "Categorical", "__init__(values)"),
    (
        "kaptain.platform.config.certificates",
        "DockerRegistryCertificateProvider",
        "__init__(certificate_body: str, certificate_path: Optional[str] = None)",
    ),
    ("kaptain.platform.config.docker", "DockerConfigurationProvider", "__init__(config_json: str)"),
    (
        "kaptain.platform.config.s3",
        "S3ConfigurationProvider",
        "__init__(aws_access_key_id: str, aws_secret_access_key: str, aws_session_token: Optional[str] = None, "
        "region_name: str = _DEFAULT_REGION, s3_endpoint: Optional[str] = None, s3_signature_version: "
        "Optional[str] = None, s3_force_path_style: bool = False)",
    ),
    ("kaptain.platform.config.s3", "S3ConfigurationProvider.get_secret_body", "get_secret_body()"),
    ("kaptain.model.models", "Model.meta", "meta()"),
]

# Where our defaults deliberately differ from the seed, and why (see the docstrings).
DEVIATIONS = {
    # The seed evaluated os.getcwd() once at import; None means "cwd at call time".
    ("Config", "base_dir"): None,
}


def _resolve(module: str, path: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in path.split("."):
        target = getattr(target, part)
    return target


def _seed_parameters(text: str, module: str) -> list[tuple[str, Any]]:
    tree = ast.parse(f"def {text}: pass")
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    arguments = function.args.args
    defaults: list[Any] = [_REQUIRED] * (len(arguments) - len(function.args.defaults))
    namespace = {
        "os": os,
        "_DEFAULT_REGION": getattr(importlib.import_module(module), "_DEFAULT_REGION", None),
    }
    defaults += [
        eval(compile(ast.Expression(node), "<seed>", "eval"), namespace) for node in function.args.defaults
    ]
    return [(argument.arg, default) for argument, default in zip(arguments, defaults, strict=True)]


@pytest.mark.parametrize(("module", "path", "seed"), SEED_SIGNATURES, ids=[p for _, p, _ in SEED_SIGNATURES])
def test_signature_matches_seed(module: str, path: str, seed: str) -> None:
    target = _resolve(module, path)
    signature = inspect.signature(target)
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
    ]
    expected = _seed_parameters(seed, module)
    assert [p.name for p in positional] == [name for name, _ in expected]
    owner = path.split(".", maxsplit=1)[0]
    for parameter, (name, default) in zip(positional, expected, strict=True):
        want = DEVIATIONS.get((owner, name), default)
        got = _REQUIRED if parameter.default is inspect.Parameter.empty else parameter.default
        assert got == want, f"{path}({name}=...) default is {got!r}, seed says {want!r}"
    # Anything we add beyond the seed is keyword-only and optional, so seed calls keep working.
    for extra in signature.parameters.values():
        if extra not in positional and extra.name != "self":
            assert extra.kind is inspect.Parameter.KEYWORD_ONLY, extra
            assert extra.default is not inspect.Parameter.empty, extra


def test_config_base_dir_deviation_means_cwd_at_call_time(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaptain.config import Config
    from kaptain.platform.config.local import LocalStorageConfigurationProvider

    monkeypatch.chdir(tmp_path)
    provider = LocalStorageConfigurationProvider()
    assert Config(provider, provider).base_dir == str(tmp_path)


EXCEPTIONS = [
    "InvalidModelProperty",
    "UndefinedModelProperty",
    "UnsupportedAlgorithmException",
    "UnsupportedModelDeploymentException",
    "UnsupportedMetricsTypeException",
    "ModelDeploymentException",
    "ModelValidationException",
    "ImageBuildException",
    "WorkloadDeploymentError",
    "ModelAlreadyExistsException",
]


@pytest.mark.parametrize("name", EXCEPTIONS)
def test_exception_exists_and_is_a_kaptain_exception(name: str) -> None:
    module = importlib.import_module("kaptain.exceptions")
    exception = getattr(module, name)
    assert issubclass(exception, Exception)
    assert issubclass(exception, module.KaptainException)


def test_envs_is_the_seed_module_type_object() -> None:
    envs = importlib.import_module("kaptain.envs")
    assert isinstance(envs, types.ModuleType)
    assert type(envs).__name__ == "_M"
    assert issubclass(type(envs), types.ModuleType)
    for name in (
        "VERBOSE",
        "DEBUG",
        "LOG_TIMEFORMAT",
        "DOCKER_BUILDER_CPU_LIMIT",
        "DOCKER_BUILDER_MEM_LIMIT",
        "DOCKER_BUILDER_CPU_REQUEST",
        "DOCKER_BUILDER_MEM_REQUEST",
        "KAPTAIN_SDK_DELETE_EXPERIMENT",
        "KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED",
        "KAPTAIN_SDK_FORCE_CLEANUP",
    ):
        prop = inspect.getattr_static(type(envs), name)
        assert isinstance(prop, property), name
        assert prop.fset is not None, f"{name} has no setter"


@pytest.mark.parametrize(
    ("module", "name", "bases"),
    [
        ("kaptain.platform.config.provider", "ConfigurationProvider", ["ABC"]),
        ("kaptain.platform.config.provider", "FileBasedConfigurationProvider", ["ConfigurationProvider"]),
        (
            "kaptain.platform.config.provider",
            "EnvironmentVariableConfigurationProvider",
            ["ConfigurationProvider"],
        ),
        (
            "kaptain.platform.config.certificates",
            "DockerRegistryCertificateProvider",
            ["FileBasedConfigurationProvider"],
        ),
        ("kaptain.platform.config.docker", "DockerConfigurationProvider", ["FileBasedConfigurationProvider"]),
        (
            "kaptain.platform.config.s3",
            "S3ConfigurationProvider",
            ["FileBasedConfigurationProvider", "EnvironmentVariableConfigurationProvider"],
        ),
        ("kaptain.hyperparameter.domains", "Double", ["Domain"]),
        ("kaptain.hyperparameter.domains", "Integer", ["Domain"]),
        ("kaptain.hyperparameter.domains", "Discrete", ["Domain"]),
        ("kaptain.hyperparameter.domains", "Categorical", ["Domain"]),
        ("kaptain.hyperparameter.algorithms", "Algorithm", ["Enum"]),
        ("kaptain.model.frameworks", "ModelFramework", ["Enum"]),
        ("kaptain.model.states", "ModelState", ["Enum"]),
    ],
)
def test_class_has_seed_bases(module: str, name: str, bases: list[str]) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert [base.__name__ for base in cls.__bases__] == bases


def test_provider_interfaces_are_abstract() -> None:
    from kaptain.platform.config import provider

    assert isinstance(provider.ConfigurationProvider, abc.ABCMeta)
    assert "get_secret_body" in provider.ConfigurationProvider.__abstractmethods__
    assert {"from_file", "default"} <= provider.FileBasedConfigurationProvider.__abstractmethods__
    assert "from_env" in provider.EnvironmentVariableConfigurationProvider.__abstractmethods__
    with pytest.raises(TypeError):
        provider.ConfigurationProvider()  # type: ignore[abstract]


def test_algorithm_of_is_a_static_method() -> None:
    from kaptain.hyperparameter.algorithms import Algorithm

    assert isinstance(inspect.getattr_static(Algorithm, "of"), staticmethod)


def test_model_properties_of_the_seed() -> None:
    from kaptain.model.models import Model, ModelMeta, Resources

    for name in ("hyperparameters", "metrics"):
        assert isinstance(inspect.getattr_static(Model, name), property)
    assert ModelMeta.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert Resources.__module__ == "kaptain.model.resources"


def test_s3_default_region_and_timeout_constant() -> None:
    from kaptain.platform.config import s3

    assert s3._DEFAULT_REGION == "us-east-1"
    assert isinstance(constants.DEFAULT_TIMEOUT_SECONDS, int)
    assert constants.DEFAULT_TIMEOUT_SECONDS == 24 * 3600


def test_enums_are_enums() -> None:
    from kaptain.hyperparameter.algorithms import Algorithm
    from kaptain.model.frameworks import ModelFramework
    from kaptain.model.states import ModelState

    for enum in (Algorithm, ModelFramework, ModelState):
        assert issubclass(enum, Enum)
