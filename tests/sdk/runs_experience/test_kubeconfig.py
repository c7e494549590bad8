"""How the SDK finds and reads the Kubernetes configuration for streaming pod logs."""

from __future__ import annotations

import base64
import json
import ssl
import sys
from pathlib import Path

import pytest
import yaml

from kaptain.runs import kubeconfig
from kaptain.runs.kubeconfig import KubeconfigError, kubeconfig_path, load_access
from tests.sdk.conftest import make_certificate

TOKEN = "s3cr3t-token-value"


@pytest.fixture(autouse=True)
def no_cluster_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KUBECONFIG", "KAPTAIN_NAMESPACE", "KAPTAIN_KUBE_CONTEXT", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)


def _config(
    user: dict[str, object], *, cluster: dict[str, object] | None = None, namespace: str = ""
) -> dict[str, object]:
    ca_pem, _ = make_certificate("api.local")
    context: dict[str, object] = {"cluster": "c", "user": "u"}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": cluster
                or {
                    "server": "https://127.0.0.1:6443",
                    "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                },
            }
        ],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": context}, {"name": "other", "context": {"cluster": "c"}}],
        "current-context": "ctx",
    }


def _write_yaml(path: Path, config: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_search_order_is_kubeconfig_env_then_data_dir_then_home(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert kubeconfig_path() is None and load_access() is None
    user_config = _write_yaml(home / ".kube" / "config", _config({"token": TOKEN}))
    assert kubeconfig_path() == user_config
    embedded = _write_yaml(home / ".kaptain" / "kubeconfig", _config({"token": TOKEN}))
    assert kubeconfig_path() == embedded
    # The first entry of KUBECONFIG wins, even when that file is missing (it is not second-guessed).
    monkeypatch.setenv("KUBECONFIG", f"{home / 'missing'}:{embedded}")
    assert kubeconfig_path() == home / "missing"
    with pytest.raises(KubeconfigError, match="cannot read the kubeconfig"):
        load_access()


def test_a_token_user_gets_a_bearer_header_and_the_context_namespace(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_yaml(home / ".kaptain" / "kubeconfig", _config({"token": TOKEN}, namespace="team"))
    access = load_access()
    assert access is not None
    assert access.server == "https://127.0.0.1:6443" and access.source == str(path)
    assert access.namespace == "team"
    assert access.headers == {"Authorization": f"Bearer {TOKEN}"}
    assert (
        isinstance(access.ssl_context, ssl.SSLContext) and access.ssl_context.verify_mode == ssl.CERT_REQUIRED
    )
    assert TOKEN not in repr(access)
    monkeypatch.setenv("KAPTAIN_NAMESPACE", "override")
    assert load_access().namespace == "override"  # type: ignore[union-attr]
    # Another context: no namespace there, so the default one.
    monkeypatch.delenv("KAPTAIN_NAMESPACE")
    monkeypatch.setenv("KAPTAIN_KUBE_CONTEXT", "other")
    other = load_access()
    assert other is not None and other.namespace == "default" and other.headers == {}


def test_json_kubeconfigs_token_files_and_relative_paths(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = home / "conf"
    directory.mkdir()
    ca_pem, _ = make_certificate("api.local")
    (directory / "ca.pem").write_text(ca_pem)
    (directory / "token").write_text(TOKEN + "\n")
    config = _config(
        {"tokenFile": "token"},
        cluster={
            "server": "https://api.local:443/prefix/",
            "certificate-authority": "ca.pem",
            "tls-server-name": "kube",
        },
    )
    (directory / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("KUBECONFIG", str(directory / "config.json"))
    access = load_access()
    assert access is not None
    assert access.server == "https://api.local:443/prefix" and access.server_hostname == "kube"
    assert access.headers["Authorization"] == f"Bearer {TOKEN}"


def test_client_certificates_from_data_and_insecure_servers(home: Path) -> None:
    cert_pem, key_pem = make_certificate("me")
    user = {
        "client-certificate-data": base64.b64encode(cert_pem.encode()).decode(),
        "client-key-data": base64.b64encode(key_pem.encode()).decode(),
    }
    _write_yaml(
        home / ".kube" / "config",
        _config(user, cluster={"server": "https://10.0.0.1:6443", "insecure-skip-tls-verify": True}),
    )
    access = load_access()
    assert access is not None and access.headers == {}
    assert access.ssl_context is not None and access.ssl_context.verify_mode == ssl.CERT_NONE
    # Half a client certificate is a mistake worth saying.
    _write_yaml(
        home / ".kube" / "config", _config({"client-certificate-data": user["client-certificate-data"]})
    )
    with pytest.raises(KubeconfigError, match="needs both client-certificate and client-key"):
        load_access()


def test_exec_plugins_provide_tokens_and_failures_do_not_leak_their_output(
    home: Path, tmp_path: Path
) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, os, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "if os.environ.get('MODE') == 'fail':\n"
        f"    print({TOKEN!r}); print('login expired', file=sys.stderr); sys.exit(3)\n"
        f"print(json.dumps({{'kind': 'ExecCredential', 'apiVersion': info['apiVersion'], 'status': {{'token': {TOKEN!r}}}}}))\n"
    )
    spec: dict[str, object] = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": sys.executable,
        "args": [str(plugin)],
        "env": [{"name": "MODE", "value": "ok"}],
    }
    _write_yaml(home / ".kube" / "config", _config({"exec": spec}))
    access = load_access()
    assert access is not None and access.headers == {"Authorization": f"Bearer {TOKEN}"}
    spec["env"] = [{"name": "MODE", "value": "fail"}]
    _write_yaml(home / ".kube" / "config", _config({"exec": spec}))
    with pytest.raises(KubeconfigError, match="exited 3: login expired") as failed:
        load_access()
    assert TOKEN not in str(failed.value)


def test_unusable_configurations_are_explained(home: Path) -> None:
    path = home / ".kube" / "config"
    _write_yaml(path, _config({"auth-provider": {"name": "oidc"}}))
    with pytest.raises(KubeconfigError, match="auth-provider"):
        load_access()
    broken = _config({"token": TOKEN})
    broken["current-context"] = "nowhere"
    _write_yaml(path, broken)
    with pytest.raises(KubeconfigError, match="no entry 'nowhere' in contexts"):
        load_access()
    path.write_text("clusters: [unclosed\n")
    with pytest.raises(KubeconfigError, match="not valid YAML"):
        load_access()
    _write_yaml(path, _config({"token": TOKEN}, cluster={"server": "127.0.0.1:6443"}))
    with pytest.raises(KubeconfigError, match="not an http"):
        load_access()


def test_in_cluster_service_account(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    ca_pem, _ = make_certificate("kubernetes.default.svc")
    (account / "ca.crt").write_text(ca_pem)
    (account / "token").write_text(TOKEN)
    (account / "namespace").write_text("kubeflow-user\n")
    monkeypatch.setattr(kubeconfig, "_SERVICE_ACCOUNT", account)
    assert load_access() is None  # not inside a cluster: no KUBERNETES_SERVICE_HOST
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    access = load_access()
    assert access is not None
    assert access.server == "https://10.96.0.1:443" and access.namespace == "kubeflow-user"
    assert access.source == "in-cluster" and access.headers["Authorization"] == f"Bearer {TOKEN}"
