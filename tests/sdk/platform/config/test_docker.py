"""DockerConfigurationProvider: real config.json files, credentials per registry, masked output."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kaptain.platform.config.docker import DockerConfigurationProvider, DockerCredentials, normalize_registry

PASSWORD = "s3cr3t-docker-password"


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _config(**auths: dict[str, str]) -> str:
    return json.dumps({"auths": {key.replace("__", "."): value for key, value in auths.items()}})


def test_reads_the_documented_format() -> None:
    text = json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": _auth("alice", PASSWORD)}}})
    provider = DockerConfigurationProvider(text)
    assert provider.registries == ("docker.io",)
    credentials = provider.credentials_for("docker.io")
    assert credentials is not None
    assert isinstance(credentials, DockerCredentials)
    assert (credentials.registry, credentials.username) == ("docker.io", "alice")
    assert credentials.password.get_secret_value() == PASSWORD
    for alias in ("https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io", "DOCKER.IO"):
        assert provider.credentials_for(alias) == credentials
    assert provider.get_secret_body() == {"config.json": text}


def test_username_and_password_entries_and_passwords_with_colons() -> None:
    text = json.dumps(
        {
            "auths": {
                "registry.local:5000": {"username": "bob", "password": "pa:ss"},
                "https://ghcr.io": {"auth": _auth("carol", "x:y:z")},
                "quay.io": {},
            },
            "credsStore": "desktop",
        }
    )
    provider = DockerConfigurationProvider(text)
    assert set(provider.registries) == {"registry.local:5000", "ghcr.io"}
    bob = provider.credentials_for("http://registry.local:5000/v2/")
    assert bob is not None
    assert (bob.username, bob.password.get_secret_value()) == ("bob", "pa:ss")
    carol = provider.credentials_for("ghcr.io")
    assert carol is not None
    assert carol.password.get_secret_value() == "x:y:z"
    assert provider.credentials_for("quay.io") is None
    assert provider.credentials_for("elsewhere.example.com") is None


def test_empty_configuration() -> None:
    provider = DockerConfigurationProvider("{}")
    assert provider.registries == ()
    assert provider.get_secret_body() == {"config.json": "{}"}


def test_from_file_and_default(home: Path, tmp_path: Path) -> None:
    text = _config(registry__local={"auth": _auth("dave", PASSWORD)})
    path = tmp_path / "config.json"
    path.write_text(text)
    assert DockerConfigurationProvider.from_file(str(path)).get_secret_body() == {"config.json": text}
    with pytest.raises(FileNotFoundError, match=r"\.docker/config\.json"):
        DockerConfigurationProvider.default()
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_text(text)
    assert DockerConfigurationProvider.default() == DockerConfigurationProvider(text)
    assert DockerConfigurationProvider.default_path() == home / ".docker" / "config.json"


def test_default_honours_docker_config_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert DockerConfigurationProvider.default().registries == ()


def test_from_file_expands_home(home: Path) -> None:
    (home / "cfg.json").write_text("{}")
    assert DockerConfigurationProvider.from_file("~/cfg.json").registries == ()


def test_from_credentials_round_trips() -> None:
    provider = DockerConfigurationProvider.from_credentials("registry.local:5000", "erin", PASSWORD)
    document = json.loads(provider.get_secret_body()["config.json"])
    assert document == {"auths": {"registry.local:5000": {"auth": _auth("erin", PASSWORD)}}}
    hub = DockerConfigurationProvider.from_credentials("docker.io", "erin", PASSWORD)
    assert list(json.loads(hub.get_secret_body()["config.json"])["auths"]) == ["https://index.docker.io/v1/"]
    with pytest.raises(ValueError, match="username must not be blank and must not contain ':'"):
        DockerConfigurationProvider.from_credentials("r.io", "a:b", PASSWORD)
    with pytest.raises(ValueError, match="registry must not be blank"):
        DockerConfigurationProvider.from_credentials(" ", "a", PASSWORD)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (
            f'{{"auths": {{"r.io": {{"auth": "{_auth("u", PASSWORD)}"',
            "is not valid JSON: .* at line 1, column",
        ),
        (f'["{PASSWORD}"]', "must be a JSON object"),
        (json.dumps({"auths": [PASSWORD]}), "'auths' must be an object"),
        (json.dumps({"auths": {"r.io": PASSWORD}}), r"auths\['r.io'\] must be an object"),
        (json.dumps({"auths": {"r.io": {"auth": "!!" + PASSWORD}}}), r"auths\['r.io'\].auth must be base64"),
        (
            json.dumps({"auths": {"r.io": {"auth": base64.b64encode(PASSWORD.encode()).decode()}}}),
            "base64 of 'username:password'",
        ),
        (json.dumps({"auths": {"r.io": {"auth": 5}}}), "auth must be a string"),
        (json.dumps({"auths": {"r.io": {"password": PASSWORD}}}), "must give both 'username' and 'password'"),
    ],
)
def test_invalid_configuration_is_refused_without_echoing_it(text: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule) as info:
        DockerConfigurationProvider(text)
    assert PASSWORD not in str(info.value)
    assert _auth("u", PASSWORD) not in str(info.value)
    # Nothing chained to the error may carry the document either (JSONDecodeError keeps it in .doc).
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def test_invalid_file_names_the_file_not_the_content(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"r.io": {"auth": "' + PASSWORD)
    with pytest.raises(ValueError, match=str(path)) as info:
        DockerConfigurationProvider.from_file(str(path))
    assert PASSWORD not in str(info.value)
    assert info.value.__context__ is None


def test_non_string_is_refused() -> None:
    with pytest.raises(ValueError, match="config_json must be a string"):
        DockerConfigurationProvider({"auths": {}})  # type: ignore[arg-type]


def test_repr_and_str_mask_credentials() -> None:
    provider = DockerConfigurationProvider(_config(registry__local={"auth": _auth("frank", PASSWORD)}))
    credentials = provider.credentials_for("registry.local")
    for text in (
        repr(provider),
        str(provider),
        repr(credentials),
        str(credentials),
        repr(provider.config_json),
    ):
        assert PASSWORD not in text
        assert _auth("frank", PASSWORD) not in text
    assert "registry.local" in repr(provider)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("HTTPS://Registry.Local:5000/v2/", "registry.local:5000"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("ghcr.io", "ghcr.io"),
    ],
)
def test_normalize_registry(raw: str, normalized: str) -> None:
    assert normalize_registry(raw) == normalized


def test_equality_and_hash() -> None:
    text = _config(a__io={"auth": _auth("u", "p")})
    assert DockerConfigurationProvider(text) == DockerConfigurationProvider(text)
    assert hash(DockerConfigurationProvider(text)) == hash(DockerConfigurationProvider(text))
    assert DockerConfigurationProvider(text) != DockerConfigurationProvider("{}")
