"""How the SDK reaches the Kubernetes API server by itself (to read pod logs), without a client library.

The SDK may not import ``kubernetes_asyncio`` (a notebook that only talks to Temporal installs
``kaptain`` alone), so this module reads the configuration the way kubectl does, for the cases
that matter, and turns it into a `KubeAccess`: the server URL, a TLS context and the request
headers.

Where the configuration comes from (the worker's rules, `kaptain.worker.worker.kubeconfig_path`):
the first path in ``$KUBECONFIG``; else ``<data dir>/kubeconfig`` (written by the embedded
cluster); else ``~/.kube/config``; else the pod's service account when running inside a cluster.
The namespace is ``$KAPTAIN_NAMESPACE``, else the context's (or the service account's), else
``default``, as for the worker.

Supported: the current context (or ``$KAPTAIN_KUBE_CONTEXT``); ``certificate-authority`` and
``-data``; ``insecure-skip-tls-verify``; ``tls-server-name``; bearer ``token`` and ``tokenFile``;
``client-certificate``/``client-key`` and their ``-data``; ``exec`` credential plugins (EKS, GKE,
AKS) returning a token or a client certificate. A kubeconfig in YAML needs PyYAML (part of
``kaptain[worker]``); JSON needs nothing.

Credentials stay in `KubeAccess.headers` and the TLS context; neither appears in a ``repr`` or an
error message.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from kaptain.home import data_dir

__all__ = ["KubeAccess", "KubeconfigError", "kubeconfig_path", "load_access"]

_NAMESPACE_ENV: Final = "KAPTAIN_NAMESPACE"
_CONTEXT_ENV: Final = "KAPTAIN_KUBE_CONTEXT"
_SERVICE_ACCOUNT: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_EXEC_TIMEOUT: Final = 60.0


class KubeconfigError(Exception):
    """The Kubernetes configuration exists but cannot be used (the message says why)."""


@dataclass(frozen=True)
class KubeAccess:
    """Everything needed to send a request to the API server.

    Attributes:
        server: The server URL, e.g. ``https://127.0.0.1:6443`` (a path prefix is kept).
        namespace: The namespace runs create their objects in.
        source: Where this came from (a kubeconfig path or ``in-cluster``), for messages.
        ssl_context: The TLS context for ``https`` servers (CA, client certificate), else None.
        server_hostname: The name to check the server's certificate against, when it differs
            from the URL's host (``tls-server-name``).
        headers: Request headers carrying the credentials (``Authorization``).
    """

    server: str
    namespace: str
    source: str
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    server_hostname: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


def kubeconfig_path() -> Path | None:
    """The kubeconfig file to use, or None when there is none (the in-cluster case or no access).

    Returns:
        The first ``$KUBECONFIG`` entry (even if missing: a configured path is not second-guessed),
        else ``<data dir>/kubeconfig`` or ``~/.kube/config`` when it exists.
    """
    configured = os.environ.get("KUBECONFIG", "").strip()
    if configured:
        first = next((part for part in configured.split(os.pathsep) if part.strip()), "")
        if first:
            return Path(first).expanduser()
    for candidate in (data_dir() / "kubeconfig", Path.home() / ".kube" / "config"):
        if candidate.is_file():
            return candidate
    return None


def load_access() -> KubeAccess | None:
    """Read the Kubernetes configuration (blocking: files, and possibly an exec plugin).

    Returns:
        The access, or None when there is no kubeconfig and this is not inside a cluster.

    Raises:
        KubeconfigError: The configuration exists but is unreadable or unsupported.
    """
    path = kubeconfig_path()
    if path is not None:
        return _from_kubeconfig(path)
    if os.environ.get("KUBERNETES_SERVICE_HOST") and (_SERVICE_ACCOUNT / "token").is_file():
        return _in_cluster()
    return None


def _in_cluster() -> KubeAccess:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    context = ssl.create_default_context(cafile=str(_SERVICE_ACCOUNT / "ca.crt"))
    token = (_SERVICE_ACCOUNT / "token").read_text().strip()
    namespace_file = _SERVICE_ACCOUNT / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else ""
    return KubeAccess(
        server=f"https://{host}:{port}",
        namespace=_namespace(namespace),
        source="in-cluster",
        ssl_context=context,
        headers={"Authorization": f"Bearer {token}"},
    )


def _from_kubeconfig(path: Path) -> KubeAccess:
    config = _read(path)
    context_name = os.environ.get(_CONTEXT_ENV, "").strip() or str(config.get("current-context") or "")
    if not context_name:
        raise KubeconfigError(f"{path} has no current-context")
    context = _named(config, "contexts", context_name, path).get("context") or {}
    cluster = _named(config, "clusters", str(context.get("cluster") or ""), path).get("cluster") or {}
    user_name = str(context.get("user") or "")
    user = (_named(config, "users", user_name, path).get("user") or {}) if user_name else {}
    server = str(cluster.get("server") or "")
    scheme = urlsplit(server).scheme
    if scheme not in ("https", "http"):
        raise KubeconfigError(f"{path}: the server of context {context_name!r} is not an http(s) URL")

    headers: dict[str, str] = {}
    cert: tuple[bytes, bytes] | None = _client_certificate(user, path)
    token = _token(user, path)
    if "exec" in user:
        credential = _run_exec_plugin(user["exec"], path)
        token = credential.get("token") or token
        if credential.get("clientCertificateData") and credential.get("clientKeyData"):
            cert = (credential["clientCertificateData"].encode(), credential["clientKeyData"].encode())
    elif "auth-provider" in user:
        raise KubeconfigError(
            f"{path}: user {user_name!r} uses an auth-provider plugin, which the SDK does not run "
            "(use an exec plugin, a token or a client certificate)"
        )
    if token:
        headers["Authorization"] = f"Bearer {token}"

    ssl_context = _tls(cluster, cert, path) if scheme == "https" else None
    return KubeAccess(
        server=server.rstrip("/"),
        namespace=_namespace(str(context.get("namespace") or "")),
        source=str(path),
        ssl_context=ssl_context,
        server_hostname=str(cluster.get("tls-server-name") or "") or None,
        headers=headers,
    )


def _namespace(configured: str) -> str:
    return os.environ.get(_NAMESPACE_ENV, "").strip() or configured or "default"


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise KubeconfigError(f"cannot read the kubeconfig {path}: {err.strerror or err}") from None
    try:
        loaded: object = json.loads(text)
    except json.JSONDecodeError:
        try:
            import yaml
        except ImportError:
            raise KubeconfigError(
                f"the kubeconfig {path} is YAML, which needs PyYAML: pip install pyyaml "
                "(or install kaptain[worker])"
            ) from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise KubeconfigError(f"the kubeconfig {path} is not valid YAML{where}") from None
    if not isinstance(loaded, dict):
        raise KubeconfigError(f"the kubeconfig {path} is not a mapping")
    return loaded


def _named(config: Mapping[str, Any], section: str, name: str, path: Path) -> Mapping[str, Any]:
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    raise KubeconfigError(f"{path} has no entry {name!r} in {section}")


def _relative(value: str, path: Path) -> Path:
    # kubectl resolves relative file references against the kubeconfig's directory.
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else path.parent / candidate


def _file_or_data(entry: Mapping[str, Any], key: str, path: Path) -> bytes | None:
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except ValueError:
            raise KubeconfigError(f"{path}: {key}-data is not base64") from None
    name = entry.get(key)
    if name:
        try:
            return _relative(str(name), path).read_bytes()
        except OSError as err:
            raise KubeconfigError(f"{path}: cannot read {key} {name}: {err.strerror or err}") from None
    return None


def _token(user: Mapping[str, Any], path: Path) -> str:
    if user.get("token"):
        return str(user["token"]).strip()
    if user.get("tokenFile"):
        try:
            return _relative(str(user["tokenFile"]), path).read_text().strip()
        except OSError as err:
            raise KubeconfigError(f"{path}: cannot read tokenFile: {err.strerror or err}") from None
    return ""


def _client_certificate(user: Mapping[str, Any], path: Path) -> tuple[bytes, bytes] | None:
    cert = _file_or_data(user, "client-certificate", path)
    key = _file_or_data(user, "client-key", path)
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise KubeconfigError(f"{path}: a client certificate needs both client-certificate and client-key")
    return cert, key


def _tls(cluster: Mapping[str, Any], cert: tuple[bytes, bytes] | None, path: Path) -> ssl.SSLContext:
    if cluster.get("insecure-skip-tls-verify"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        ca = _file_or_data(cluster, "certificate-authority", path)
        try:
            context = ssl.create_default_context(cadata=ca.decode("ascii") if ca is not None else None)
        except (ssl.SSLError, UnicodeDecodeError):
            raise KubeconfigError(f"{path}: the certificate authority is not a PEM certificate") from None
    if cert is not None:
        _load_client_certificate(context, *cert, path=path)
    return context


def _load_client_certificate(context: ssl.SSLContext, cert: bytes, key: bytes, *, path: Path) -> None:
    # ssl loads certificates from files only; a private directory holds them for that moment.
    with tempfile.TemporaryDirectory(prefix="kaptain-kube-") as directory:
        cert_file = Path(directory) / "client.crt"
        key_file = Path(directory) / "client.key"
        for target, content in ((cert_file, cert), (key_file, key)):
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(content)
        try:
            context.load_cert_chain(str(cert_file), str(key_file))
        except ssl.SSLError:
            raise KubeconfigError(f"{path}: the client certificate or key is not valid PEM") from None


def _run_exec_plugin(spec: Mapping[str, Any], path: Path) -> dict[str, str]:
    """Run a client-go credential plugin and return its ``status`` (token or client certificate)."""
    command = str(spec.get("command") or "")
    if not command:
        raise KubeconfigError(f"{path}: the exec plugin has no command")
    env = dict(os.environ)
    for entry in spec.get("env") or []:
        if isinstance(entry, dict) and entry.get("name"):
            env[str(entry["name"])] = str(entry.get("value") or "")
    api_version = str(spec.get("apiVersion") or "client.authentication.k8s.io/v1")
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    )
    executable = command if os.sep not in command else str(_relative(command, path))
    try:
        done = subprocess.run(
            [executable, *[str(arg) for arg in spec.get("args") or []]],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_EXEC_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise KubeconfigError(f"{path}: the exec plugin {command} could not run: {err}") from None
    if done.returncode != 0:
        # Its standard error explains the failure; its standard output may hold credentials.
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise KubeconfigError(f"{path}: the exec plugin {command} exited {done.returncode}: {reason[0]}")
    try:
        status = json.loads(done.stdout).get("status") or {}
    except (json.JSONDecodeError, AttributeError):
        raise KubeconfigError(f"{path}: the exec plugin {command} did not print an ExecCredential") from None
    return {key: str(value) for key, value in status.items() if isinstance(value, str)}
