"""kaptain.config.Config: arguments, checks on assignment, and the embedded default."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kaptain.config import DEFAULT_BASE_MODEL_STORAGE_URI, Config
from kaptain.platform.config.certificates import DockerRegistryCertificateProvider
from kaptain.platform.config.docker import DockerConfigurationProvider
from kaptain.platform.config.local import LocalStorageConfigurationProvider
from kaptain.platform.config.s3 import S3ConfigurationProvider


@pytest.fixture
def docker() -> DockerConfigurationProvider:
    return DockerConfigurationProvider.from_credentials("registry.local:5000", "alice", "docker-pass-123")


@pytest.fixture
def s3() -> S3ConfigurationProvider:
    return S3ConfigurationProvider("AKIAEXAMPLE", "s3-secret-456", s3_endpoint="http://minio:9000")


def test_defaults(docker: DockerConfigurationProvider, s3: S3ConfigurationProvider, model_dir: Path) -> None:
    config = Config(docker, s3)
    assert config.docker_config_provider is docker
    assert config.storage_config_provider is s3
    assert config.docker_registry_url is None
    assert config.docker_registry_certificate_provider is None
    assert config.base_dir == str(model_dir)
    assert config.base_model_storage_uri == DEFAULT_BASE_MODEL_STORAGE_URI == "s3://kaptain/models"


def test_base_dir_is_taken_at_call_time(
    docker: DockerConfigurationProvider,
    s3: S3ConfigurationProvider,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    first = Config(docker, s3)
    monkeypatch.chdir(tmp_path / "b")
    second = Config(docker, s3)
    assert (first.base_dir, second.base_dir) == (str(tmp_path / "a"), str(tmp_path / "b"))


def test_all_arguments_positionally(
    docker: DockerConfigurationProvider, s3: S3ConfigurationProvider, certificate_pem: str, tmp_path: Path
) -> None:
    certificate = DockerRegistryCertificateProvider(certificate_pem)
    config = Config(docker, s3, "registry.local:5000", certificate, str(tmp_path), "s3://bucket/prefix/")
    assert config.docker_registry_url == "registry.local:5000"
    assert config.docker_registry_certificate_provider is certificate
    assert config.base_dir == str(tmp_path)
    assert config.base_model_storage_uri == "s3://bucket/prefix"


def test_relative_base_dir_is_made_absolute(
    docker: DockerConfigurationProvider, s3: S3ConfigurationProvider, model_dir: Path
) -> None:
    assert Config(docker, s3, base_dir="datasets").base_dir == str(model_dir / "datasets")


def test_attributes_can_be_changed_and_are_checked(
    docker: DockerConfigurationProvider, s3: S3ConfigurationProvider, certificate_pem: str, model_dir: Path
) -> None:
    config = Config(docker, s3)
    config.docker_registry_url = "registry.example.com"
    config.docker_registry_certificate_provider = DockerRegistryCertificateProvider(certificate_pem)
    config.base_model_storage_uri = "file:///srv/models"
    config.base_dir = str(model_dir / "datasets")
    assert config.docker_registry_url == "registry.example.com"
    assert config.base_model_storage_uri == "file:///srv/models"
    with pytest.raises(ValueError, match="docker_registry_url must be a lowercase host"):
        config.docker_registry_url = "https://registry.example.com"
    assert config.docker_registry_url == "registry.example.com"
    config.docker_registry_url = None
    assert config.docker_registry_url is None


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("docker_config_provider", "config.json", "docker_config_provider must be a ConfigurationProvider"),
        ("storage_config_provider", None, "storage_config_provider must be a ConfigurationProvider"),
        ("docker_registry_certificate_provider", "cert", "docker_registry_certificate_provider must be a"),
        ("docker_registry_url", "Registry.Local", "docker_registry_url must be a lowercase host"),
        ("docker_registry_url", "registry.local/team", "without scheme or path"),
        ("docker_registry_url", "registry.local:port", "host\\[:port\\]"),
        ("docker_registry_url", 5000, "docker_registry_url must be a string"),
        ("base_dir", "/does/not/exist", "base_dir must be an existing directory"),
        ("base_dir", "  ", "base_dir must not be blank"),
        ("base_dir", 42, "base_dir must be a path"),
        ("base_model_storage_uri", "gs://bucket/models", "must start with s3:// or file://"),
        ("base_model_storage_uri", "s3://UPPER/models", "must name a valid bucket"),
        ("base_model_storage_uri", "s3://x/models", "must name a valid bucket"),
        ("base_model_storage_uri", "file://relative/models", "absolute local path"),
        ("base_model_storage_uri", "s3://kaptain/models?x=1", "query or fragment"),
        ("base_model_storage_uri", None, "base_model_storage_uri must be a string"),
    ],
)
@pytest.mark.usefixtures("model_dir")
def test_invalid_arguments_name_field_and_rule(
    field: str, value: object, rule: str, docker: DockerConfigurationProvider, s3: S3ConfigurationProvider
) -> None:
    arguments: dict[str, object] = {
        "docker_config_provider": docker,
        "storage_config_provider": s3,
        field: value,
    }
    with pytest.raises(ValueError, match=rule):
        Config(**arguments)  # type: ignore[arg-type]


def test_storage_uri_with_credentials_is_refused_without_echo(
    docker: DockerConfigurationProvider, s3: S3ConfigurationProvider, model_dir: Path
) -> None:
    with pytest.raises(ValueError, match="must not contain credentials") as info:
        Config(docker, s3, base_model_storage_uri="s3://key:hidden-storage-pw@bucket/models")
    assert "hidden-storage-pw" not in str(info.value)


def test_default_without_embedded_cluster(home: Path, model_dir: Path) -> None:
    config = Config.default()
    assert isinstance(config.storage_config_provider, LocalStorageConfigurationProvider)
    assert config.storage_config_provider.get_secret_body() == {}
    assert config.base_model_storage_uri == (home / ".kaptain" / "storage" / "models").as_uri()
    assert config.base_model_storage_uri.startswith("file:///")
    assert config.docker_registry_url is None
    assert config.docker_registry_certificate_provider is None
    docker = config.docker_config_provider
    assert isinstance(docker, DockerConfigurationProvider)
    assert json.loads(docker.get_secret_body()["config.json"]) == {"auths": {}}
    assert config.base_dir == str(model_dir)


def test_default_follows_kaptain_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_dir: Path
) -> None:
    monkeypatch.setenv("KAPTAIN_HOME", str(tmp_path / "elsewhere"))
    assert Config.default().base_model_storage_uri == (tmp_path / "elsewhere" / "storage" / "models").as_uri()


def test_default_uses_the_embedded_cluster_registry(
    home: Path, certificate_pem: str, model_dir: Path
) -> None:
    data = home / ".kaptain"
    (data / "pki").mkdir(parents=True)
    (data / "pki" / "ca.crt").write_text(certificate_pem)
    auth = base64.b64encode(b"kaptain:registry-token-789").decode()
    (data / "docker.json").write_text(json.dumps({"auths": {"127.0.0.1:5000": {"auth": auth}}}))
    (data / "cluster.json").write_text(
        json.dumps(
            {
                "server": "https://127.0.0.1:6443",
                "registry": "127.0.0.1:5000",
                "ca_file": "pki/ca.crt",
                "kubeconfig": "kubeconfig",
                "docker_config": str(data / "docker.json"),
            }
        )
    )
    config = Config.default()
    assert config.docker_registry_url == "127.0.0.1:5000"
    certificate = config.docker_registry_certificate_provider
    assert isinstance(certificate, DockerRegistryCertificateProvider)
    assert certificate.certificate_body == certificate_pem
    assert certificate.certificate_path == str(data / "pki" / "ca.crt")
    docker = config.docker_config_provider
    assert isinstance(docker, DockerConfigurationProvider)
    credentials = docker.credentials_for("127.0.0.1:5000")
    assert credentials is not None
    assert credentials.username == "kaptain"
    assert credentials.password.get_secret_value() == "registry-token-789"


def test_default_reports_a_missing_file_named_by_cluster_json(home: Path, model_dir: Path) -> None:
    data = home / ".kaptain"
    data.mkdir()
    (data / "cluster.json").write_text(
        json.dumps(
            {
                "server": "https://127.0.0.1:6443",
                "registry": "127.0.0.1:5000",
                "ca_file": "ca.crt",
                "kubeconfig": "kubeconfig",
                "docker_config": "missing.json",
            }
        )
    )
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        Config.default()


def test_repr_masks_credentials(
    docker: DockerConfigurationProvider, s3: S3ConfigurationProvider, model_dir: Path
) -> None:
    config = Config(docker, s3, docker_registry_url="registry.local:5000")
    text = repr(config)
    for secret in (
        "docker-pass-123",
        "s3-secret-456",
        "AKIAEXAMPLE",
        docker.get_secret_body()["config.json"],
    ):
        assert secret not in text
        assert secret not in str(config)
    assert "registry.local:5000" in text
    assert "http://minio:9000" in text
