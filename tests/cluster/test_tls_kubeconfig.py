"""The cluster's certificates and the client files it writes."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import ssl
import stat
from pathlib import Path

import yaml
from cryptography import x509

from kaptain.cluster.kubeconfig import ensure_token, read_cluster_info, write_client_files
from kaptain.cluster.tls import ensure_pki


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_pki_is_created_once_with_private_keys(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    assert _mode(pki.ca_key) == 0o600
    assert _mode(pki.key) == 0o600
    cert = x509.load_pem_x509_certificate(pki.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    before = (pki.ca_cert.read_bytes(), pki.cert.read_bytes())
    again = ensure_pki(tmp_path)
    assert (again.ca_cert.read_bytes(), again.cert.read_bytes()) == before


def test_serving_certificate_is_reissued_from_the_same_ca(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    ca_before = pki.ca_cert.read_bytes()
    pki.cert.write_bytes(b"not a certificate")
    again = ensure_pki(tmp_path)
    assert again.ca_cert.read_bytes() == ca_before
    x509.load_pem_x509_certificate(again.cert.read_bytes()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(ca_before)
    )


async def test_tls_handshake_verifies_against_the_ca(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=pki.server_context())
    port = server.sockets[0].getsockname()[1]
    try:
        client = ssl.create_default_context(cafile=str(pki.ca_cert))
        for host in ("127.0.0.1", "localhost"):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client, server_hostname=host
            )
            assert await reader.read() == b"hello"
            writer.close()
        untrusting = ssl.create_default_context()
        try:
            await asyncio.open_connection("127.0.0.1", port, ssl=untrusting, server_hostname="127.0.0.1")
        except ssl.SSLCertVerificationError:
            pass
        else:
            raise AssertionError("a client without the cluster CA must not trust the server")
    finally:
        server.close()
        await server.wait_closed()


def test_token_is_random_private_and_stable(tmp_path: Path) -> None:
    token = ensure_token(tmp_path)
    assert len(token) >= 40
    assert _mode(tmp_path / "token") == 0o600
    assert ensure_token(tmp_path) == token
    assert ensure_token(tmp_path / "other") != token


def test_client_files(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    token = ensure_token(tmp_path)
    info = write_client_files(
        tmp_path,
        server="https://127.0.0.1:4321",
        registry="127.0.0.1:4321",
        ca_file=pki.ca_cert,
        token=token,
        pid=99,
    )
    for path in (tmp_path / "kubeconfig", tmp_path / "cluster.json", tmp_path / "docker" / "config.json"):
        assert _mode(path) == 0o600, path
    config = yaml.safe_load((tmp_path / "kubeconfig").read_text())
    assert config["current-context"] == "kaptain"
    context = config["contexts"][0]["context"]
    assert context["namespace"] == "default"
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:4321"
    assert base64.b64decode(cluster["certificate-authority-data"]) == pki.ca_cert.read_bytes()
    assert config["users"][0]["user"]["token"] == token
    docker = json.loads((tmp_path / "docker" / "config.json").read_text())
    assert base64.b64decode(docker["auths"]["127.0.0.1:4321"]["auth"]).decode() == f"kaptain:{token}"
    raw = json.loads((tmp_path / "cluster.json").read_text())
    assert set(raw) >= {"server", "registry", "ca_file", "kubeconfig", "docker_config", "pid"}
    assert read_cluster_info(tmp_path) == info
    assert info.port == 4321
    assert read_cluster_info(tmp_path / "missing") is None
