"""LocalStorageConfigurationProvider and kaptain.platform.config.defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaptain.platform.config import defaults
from kaptain.platform.config.docker import DockerConfigurationProvider
from kaptain.platform.config.local import LocalStorageConfigurationProvider
from kaptain.platform.config.provider import ConfigurationProvider


def test_local_storage_has_an_empty_secret_body() -> None:
    provider = LocalStorageConfigurationProvider.default()
    assert isinstance(provider, ConfigurationProvider)
    assert provider.get_secret_body() == {}
    assert provider == LocalStorageConfigurationProvider()
    assert hash(provider) == hash(LocalStorageConfigurationProvider())
    assert repr(provider) == "LocalStorageConfigurationProvider()"


def test_default_storage(home: Path) -> None:
    assert defaults.default_base_model_storage_uri() == (home / ".kaptain" / "storage" / "models").as_uri()
    assert defaults.default_base_model_storage_uri(Path("/srv/k")) == "file:///srv/k/storage/models"
    assert isinstance(defaults.default_storage_config_provider(), LocalStorageConfigurationProvider)


def test_default_registry_without_cluster(tmp_path: Path) -> None:
    registry = defaults.default_registry(tmp_path)
    assert registry.docker_registry_url is None
    assert registry.docker_registry_certificate_provider is None
    assert registry.docker_config_provider == DockerConfigurationProvider(defaults.EMPTY_DOCKER_CONFIG)
    assert json.loads(defaults.EMPTY_DOCKER_CONFIG) == {"auths": {}}


def test_default_registry_with_cluster(tmp_path: Path, certificate_pem: str) -> None:
    (tmp_path / "ca.crt").write_text(certificate_pem)
    (tmp_path / "docker.json").write_text(
        json.dumps({"auths": {"127.0.0.1:5001": {"username": "u", "password": "p"}}})
    )
    (tmp_path / "cluster.json").write_text(
        json.dumps(
            {
                "server": "https://127.0.0.1:6443",
                "registry": "127.0.0.1:5001",
                "ca_file": "ca.crt",
                "kubeconfig": "kubeconfig",
                "docker_config": "docker.json",
            }
        )
    )
    registry = defaults.default_registry(tmp_path)
    assert registry.docker_registry_url == "127.0.0.1:5001"
    assert registry.docker_config_provider.registries == ("127.0.0.1:5001",)
    assert registry.docker_registry_certificate_provider is not None
    assert registry.docker_registry_certificate_provider.certificate_body == certificate_pem


def test_default_registry_with_invalid_certificate(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("garbage")
    (tmp_path / "docker.json").write_text("{}")
    (tmp_path / "cluster.json").write_text(
        json.dumps(
            {
                "server": "https://127.0.0.1:6443",
                "registry": "127.0.0.1:5001",
                "ca_file": "ca.crt",
                "kubeconfig": "kubeconfig",
                "docker_config": "docker.json",
            }
        )
    )
    with pytest.raises(ValueError, match=r"ca\.crt: certificate_body must contain at least one PEM block"):
        defaults.default_registry(tmp_path)
