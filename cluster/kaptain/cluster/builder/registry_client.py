"""A small Docker Registry HTTP API v2 client for pulling a parent image and pushing the result.

Transport follows go-containerregistry, which Kaniko uses: HTTPS by default, verified against the
system trust store plus `--registry-certificate <host>=<ca.pem>`; `--skip-tls-verify` turns
verification off; `--insecure`/`--insecure-registry`/`--insecure-pull` and loopback registries
may fall back to plain HTTP when HTTPS does not answer. Credentials come from Docker's
`config.json` (Basic auth, and the Bearer token flow of registries that ask for it). Neither
credentials nor tokens ever appear in messages.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shutil
import ssl
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from kaptain.cluster.builder.errors import BuildError
from kaptain.cluster.builder.paths import input_path
from kaptain.cluster.images.reference import ImageReference

MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)
_TIMEOUT = 300.0
_MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Response:
    """A buffered HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """A header value (case-insensitive)."""
        return self.headers.get(name.lower())


@dataclass
class TransportOptions:
    """How to reach registries (from Kaniko's flags)."""

    certificates: dict[str, str] = field(default_factory=dict)
    skip_verify: bool = False
    skip_verify_registries: list[str] = field(default_factory=list)
    insecure: bool = False
    insecure_registries: list[str] = field(default_factory=list)


def docker_credentials(host: str) -> tuple[str, str] | None:
    """The user name and password for a registry from `$DOCKER_CONFIG/config.json`.

    Args:
        host: `host[:port]`.

    Returns:
        (user, password) or None when the config has no entry for the host.

    Raises:
        BuildError: the config file exists but is malformed.
    """
    directory = os.environ.get("DOCKER_CONFIG", "/kaniko/.docker")
    path = input_path(directory.rstrip("/") + "/config.json")
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise BuildError(f"cannot read Docker config {path}: {type(e).__name__}") from e
    auths = config.get("auths") or {}
    for key, entry in auths.items():
        if _auth_key_host(key) != host or not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError) as e:
                raise BuildError(f"Docker config {path}: malformed auth entry for {host}") from e
            return user, password
        if entry.get("username") is not None:
            return str(entry["username"]), str(entry.get("password", ""))
    return None


def _auth_key_host(key: str) -> str:
    if "://" in key:
        key = urllib.parse.urlsplit(key).netloc
    key = key.split("/", 1)[0]
    return "docker.io" if key in ("index.docker.io", "registry-1.docker.io") else key


class RegistryClient:
    """Talks to one registry host.

    Args:
        host: `host[:port]`.
        options: TLS and plain-HTTP settings.
        insecure: whether plain HTTP is allowed for this client's purpose (push or pull).
    """

    def __init__(self, host: str, options: TransportOptions, *, insecure: bool) -> None:
        self.host = "registry-1.docker.io" if host == "docker.io" else host
        self._credentials = docker_credentials(host)
        self._auth: str | None = None
        if self._credentials is not None:
            self._auth = "Basic " + base64.b64encode(":".join(self._credentials).encode()).decode()
        self._context = _ssl_context(host, options)
        loopback = ImageReference(host=host, repository="x", tag=None, digest=None).is_loopback()
        self._schemes = ["https"]
        if insecure or options.insecure or host in options.insecure_registries or loopback:
            self._schemes.append("http")
        self._scheme: str | None = None

    # Connection and auth

    def ping(self) -> None:
        """Finds the scheme that answers `GET /v2/` (go-containerregistry's ping).

        Raises:
            BuildError: the registry is unreachable or does not speak the v2 API.
        """
        if self._scheme is not None:
            return
        errors: list[str] = []
        for scheme in self._schemes:
            try:
                status, _, _ = self._send(scheme, self.host, "GET", "/v2/", headers={}, body=None)
            except (OSError, http.client.HTTPException) as e:
                errors.append(f"{scheme}: {type(e).__name__}: {e}")
                continue
            if status in (200, 401):
                self._scheme = scheme
                return
            errors.append(f"{scheme}: HTTP {status}")
        raise BuildError(f"registry {self.host} is not reachable ({'; '.join(errors)})")

    def request(
        self,
        method: str,
        target: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | Path | None = None,
        download: Path | None = None,
    ) -> Response:
        """Sends a request with authentication, following redirects.

        Args:
            method: HTTP method.
            target: a path (`/v2/...`) or an absolute URL (upload locations may be absolute).
            headers: extra headers.
            body: bytes or a file to send.
            download: stream a 200 response body into this file instead of buffering it.

        Returns:
            The response (its body empty when downloaded).

        Raises:
            BuildError: network failure or authentication failure.
        """
        self.ping()
        assert self._scheme is not None
        scheme, host, path = self._scheme, self.host, target
        if "://" in target:
            parts = urllib.parse.urlsplit(target)
            scheme, host = parts.scheme, parts.netloc
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        retried_auth = False
        for _ in range(_MAX_REDIRECTS + 2):
            request_headers = dict(headers or {})
            if self._auth and host == self.host:
                request_headers["Authorization"] = self._auth
            try:
                status, response_headers, data = self._send(
                    scheme, host, method, path, headers=request_headers, body=body, download=download
                )
            except (OSError, http.client.HTTPException) as e:
                raise BuildError(
                    f"{method} {scheme}://{host}{path.split('?')[0]} failed: {type(e).__name__}"
                ) from e
            if status == 401 and not retried_auth:
                retried_auth = True
                if self._authenticate(response_headers.get("www-authenticate", "")):
                    continue
            if status in (301, 302, 303, 307, 308) and "location" in response_headers:
                location = urllib.parse.urljoin(f"{scheme}://{host}{path}", response_headers["location"])
                parts = urllib.parse.urlsplit(location)
                scheme, host = parts.scheme, parts.netloc
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                if status == 303:
                    method, body = "GET", None
                continue
            if status == 401:
                raise BuildError(
                    f"unauthorized: {self.host} refused the credentials "
                    f"{'from' if self._credentials else 'missing in'} the Docker config.json"
                )
            return Response(status, response_headers, data)
        raise BuildError(f"too many redirects for {method} {path.split('?')[0]}")

    def _authenticate(self, challenge: str) -> bool:
        scheme, _, params_text = challenge.partition(" ")
        if scheme.lower() == "basic":
            return False  # Basic credentials, if any, were already sent.
        if scheme.lower() != "bearer":
            return False
        params = dict(_challenge_params(params_text))
        realm = params.pop("realm", None)
        if realm is None:
            return False
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(params)
        parts = urllib.parse.urlsplit(url)
        headers: dict[str, str] = {}
        if self._credentials is not None:
            headers["Authorization"] = (
                "Basic " + base64.b64encode(":".join(self._credentials).encode()).decode()
            )
        try:
            status, _, data = self._send(
                parts.scheme, parts.netloc, "GET", parts.path + "?" + parts.query, headers=headers, body=None
            )
        except (OSError, http.client.HTTPException) as e:
            raise BuildError(f"token request to {parts.netloc} failed: {type(e).__name__}") from e
        if status != 200:
            return False
        try:
            payload = json.loads(data)
        except json.JSONDecodeError:
            return False
        token = payload.get("token") or payload.get("access_token")
        if not token:
            return False
        self._auth = f"Bearer {token}"
        return True

    def _send(
        self,
        scheme: str,
        host: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        body: bytes | Path | None,
        download: Path | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(host, timeout=_TIMEOUT, context=self._context)
        else:
            connection = http.client.HTTPConnection(host, timeout=_TIMEOUT)
        try:
            headers = {"User-Agent": "kaptain-local-kaniko", **headers}
            if isinstance(body, Path):
                headers["Content-Length"] = str(body.stat().st_size)
                with open(body, "rb") as f:
                    connection.request(method, path, body=f, headers=headers)
                    response = connection.getresponse()
            else:
                if body is not None or method in ("PUT", "POST", "PATCH"):
                    headers["Content-Length"] = str(len(body or b""))
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
            response_headers = {k.lower(): v for k, v in response.getheaders()}
            if download is not None and response.status == 200:
                with open(download, "wb") as out:
                    shutil.copyfileobj(response, out, 1024 * 1024)
                return response.status, response_headers, b""
            return response.status, response_headers, response.read()
        finally:
            connection.close()

    # Registry operations

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """Fetches a manifest.

        Args:
            repository: the repository.
            reference: tag or digest.

        Returns:
            (bytes, media type, digest).

        Raises:
            BuildError: not found or the digest does not match.
        """
        response = self.request(
            "GET", f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
        )
        if response.status != 200:
            raise BuildError(
                f"manifest {self.host}/{repository}:{reference} not found (HTTP {response.status})"
            )
        digest = "sha256:" + hashlib.sha256(response.body).hexdigest()
        if reference.startswith("sha256:") and reference != digest:
            raise BuildError(f"manifest {repository}@{reference} does not match its digest")
        media_type = (response.header("content-type") or "").split(";")[0].strip()
        return response.body, media_type, digest

    def download_blob(self, repository: str, digest: str, dest: Path) -> None:
        """Downloads a blob into a file, verifying its digest.

        Args:
            repository: the repository.
            digest: the blob digest.
            dest: the file (written via a temporary name).

        Raises:
            BuildError: not found or corrupt.
        """
        tmp = dest.with_name(dest.name + ".part")
        response = self.request("GET", f"/v2/{repository}/blobs/{digest}", download=tmp)
        if response.status != 200:
            raise BuildError(f"blob {digest} of {self.host}/{repository} not found (HTTP {response.status})")
        h = hashlib.sha256()
        with open(tmp, "rb") as f:
            while chunk := f.read(1024 * 1024):
                h.update(chunk)
        if "sha256:" + h.hexdigest() != digest:
            tmp.unlink()
            raise BuildError(f"blob {digest} of {self.host}/{repository} does not match its digest")
        os.replace(tmp, dest)

    def has_blob(self, repository: str, digest: str) -> bool:
        """Whether the repository already has a blob (HEAD)."""
        return self.request("HEAD", f"/v2/{repository}/blobs/{digest}").status == 200

    def mount_blob(self, repository: str, digest: str, source_repository: str) -> bool:
        """Asks the registry to link a blob from another repository (no data sent).

        Returns:
            True when the registry mounted it (201).
        """
        query = urllib.parse.urlencode({"mount": digest, "from": source_repository})
        response = self.request("POST", f"/v2/{repository}/blobs/uploads/?{query}", body=b"")
        return response.status == 201

    def upload_blob(self, repository: str, digest: str, content: bytes | Path) -> None:
        """Uploads a blob: POST for a session, then PUT with the data and digest.

        Args:
            repository: the repository.
            digest: the blob's digest.
            content: the data.

        Raises:
            BuildError: the registry refused it.
        """
        started = self.request("POST", f"/v2/{repository}/blobs/uploads/", body=b"")
        location = started.header("location")
        if started.status != 202 or not location:
            raise BuildError(f"cannot start upload to {self.host}/{repository} (HTTP {started.status})")
        location = urllib.parse.urljoin(
            f"{self._scheme}://{self.host}/v2/{repository}/blobs/uploads/", location
        )
        separator = "&" if "?" in location else "?"
        finished = self.request(
            "PUT",
            f"{location}{separator}{urllib.parse.urlencode({'digest': digest})}",
            headers={"Content-Type": "application/octet-stream"},
            body=content,
        )
        if finished.status != 201:
            raise BuildError(
                f"upload of {digest} to {self.host}/{repository} failed: {_error_text(finished)}"
            )

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """Uploads a manifest under a tag.

        Returns:
            The digest the registry reports.

        Raises:
            BuildError: the registry refused it.
        """
        response = self.request(
            "PUT", f"/v2/{repository}/manifests/{reference}", headers={"Content-Type": media_type}, body=body
        )
        if response.status not in (200, 201):
            raise BuildError(
                f"manifest push to {self.host}/{repository}:{reference} failed: {_error_text(response)}"
            )
        return response.header("docker-content-digest") or "sha256:" + hashlib.sha256(body).hexdigest()


def _ssl_context(host: str, options: TransportOptions) -> ssl.SSLContext:
    context = ssl.create_default_context()
    certificate = options.certificates.get(host)
    if certificate is not None:
        path = input_path(certificate)
        try:
            context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as e:
            raise BuildError(f"cannot load registry certificate {certificate} for {host}: {e}") from e
    if options.skip_verify or host in options.skip_verify_registries:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _challenge_params(text: str) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for part in _split_commas(text):
        key, _, value = part.strip().partition("=")
        if key:
            params.append((key.strip(), value.strip().strip('"')))
    return params


def _split_commas(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _error_text(response: Response) -> str:
    try:
        errors = json.loads(response.body).get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or f"HTTP {response.status}"
    except (json.JSONDecodeError, AttributeError):
        return f"HTTP {response.status}"
