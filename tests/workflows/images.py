"""Pushing images to the embedded registry from tests, as a Docker client does (Registry API v2)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile

import aiohttp

from tests.cluster.conftest import RunningCluster


def _layer() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = b"print('hello')\n"
        info = tarfile.TarInfo("kaptain/trainer.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


async def push_image(cluster: RunningCluster, repository: str, tag: str, labels: dict[str, str]) -> str:
    """Push a one-layer image with these labels, as a Docker client would; returns its digest."""
    layer = _layer()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": labels, "WorkingDir": "/kaptain"},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()],
            },
        }
    ).encode()
    auth = base64.b64encode(f"kaptain:{cluster.token}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}"}
    base = f"https://{cluster.server.info.registry}/v2/{repository}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=cluster.ssl_context())) as http:
        for blob in (layer, config):
            digest = "sha256:" + hashlib.sha256(blob).hexdigest()
            async with http.post(
                f"{base}/blobs/uploads/?digest={digest}", data=blob, headers=headers
            ) as response:
                assert response.status == 201, await response.text()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                    "size": len(layer),
                }
            ],
        }
        async with http.put(
            f"{base}/manifests/{tag}",
            data=json.dumps(manifest).encode(),
            headers={**headers, "Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        ) as response:
            assert response.status == 201, await response.text()
            return response.headers["Docker-Content-Digest"]
