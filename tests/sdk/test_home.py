"""kaptain.home: the data dir and the embedded cluster's cluster.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaptain import home


def test_data_dir_defaults_to_dot_kaptain_in_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KAPTAIN_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert home.data_dir() == tmp_path / ".kaptain"


def test_data_dir_follows_kaptain_home_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KAPTAIN_HOME", str(tmp_path / "one"))
    assert home.data_dir() == tmp_path / "one"
    monkeypatch.setenv("KAPTAIN_HOME", str(tmp_path / "two"))
    assert home.data_dir() == tmp_path / "two"


def test_blank_kaptain_home_means_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KAPTAIN_HOME", "  ")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert home.data_dir() == tmp_path / ".kaptain"


def test_relative_kaptain_home_is_made_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAPTAIN_HOME", "state")
    assert home.data_dir() == tmp_path / "state"
    assert home.cluster_file() == tmp_path / "state" / "cluster.json"
    assert home.storage_dir() == tmp_path / "state" / "storage"


def test_no_cluster_file_means_no_cluster_info(tmp_path: Path) -> None:
    assert home.read_cluster_info(tmp_path) is None


def test_cluster_info_is_read_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text(
        json.dumps(
            {
                "server": "https://127.0.0.1:6443",
                "registry": "127.0.0.1:5000",
                "ca_file": "pki/ca.crt",
                "kubeconfig": str(tmp_path / "kubeconfig"),
                "docker_config": "docker/config.json",
                "extra": "ignored",
            }
        )
    )
    info = home.read_cluster_info(tmp_path)
    assert info is not None
    assert info.server == "https://127.0.0.1:6443"
    assert info.registry == "127.0.0.1:5000"
    assert info.ca_file == tmp_path / "pki" / "ca.crt"
    assert info.kubeconfig == tmp_path / "kubeconfig"
    assert info.docker_config == tmp_path / "docker" / "config.json"


def test_invalid_cluster_json_names_the_file_and_position(tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text('{"server": ')
    with pytest.raises(ValueError, match=r"cluster\.json is not valid JSON \(line 1"):
        home.read_cluster_info(tmp_path)


def test_cluster_json_missing_a_key_names_it(tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text(json.dumps({"server": "https://x", "registry": "r:1"}))
    with pytest.raises(ValueError, match="ca_file") as info:
        home.read_cluster_info(tmp_path)
    assert "kubeconfig" in str(info.value)
    assert "docker_config" in str(info.value)
