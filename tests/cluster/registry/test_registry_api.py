"""The registry's HTTP API, driven with a real aiohttp client, standalone and mounted at /v2."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.cluster.registry.images import (
    DOCKER_MANIFEST,
    Entry,
    digest_of,
    make_config,
    make_layer,
    make_manifest,
    push_blob,
    push_image,
)
from tests.cluster.registry.server import TOKEN, RegistryServer, basic_header

API_VERSION = "Docker-Distribution-API-Version"


@pytest.fixture(params=["standalone", "mounted"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryServer]:
    with RegistryServer(tmp_path / "data", mounted=request.param == "mounted") as server:
        yield server


@pytest.fixture
async def client(registry: RegistryServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": basic_header()}) as session:
        yield session


async def _errors(response: aiohttp.ClientResponse) -> list[str]:
    body = await response.json(content_type=None)
    return [e["code"] for e in body["errors"]]


async def test_version_check_requires_credentials(registry: RegistryServer) -> None:
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{registry.url}/v2/") as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"] == 'Basic realm="kaptain"'
            assert r.headers[API_VERSION] == "registry/2.0"
            assert await _errors(r) == ["UNAUTHORIZED"]
        async with anonymous.get(
            f"{registry.url}/v2/", headers={"Authorization": basic_header("wrong")}
        ) as r:
            assert r.status == 401
        async with anonymous.get(
            f"{registry.url}/v2/_catalog", headers={"Authorization": "Bearer wrong"}
        ) as r:
            assert r.status == 401
        async with anonymous.get(f"{registry.url}/v2/", headers={"Authorization": basic_header()}) as r:
            assert r.status == 200
            assert r.headers[API_VERSION] == "registry/2.0"
            assert await r.json() == {}
        async with anonymous.get(f"{registry.url}/v2/", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 200


async def test_chunked_upload_then_blob_reads(
    registry: RegistryServer, client: aiohttp.ClientSession
) -> None:
    data = bytes(range(256)) * 4000
    digest = digest_of(data)
    base = registry.url
    async with client.post(f"{base}/v2/kaptain/mnist/blobs/uploads/") as r:
        assert r.status == 202
        location = r.headers["Location"]
        assert location.startswith("/v2/kaptain/mnist/blobs/uploads/")
        assert r.headers["Range"] == "0-0"
    first, second = data[:300_000], data[300_000:]
    async with client.patch(
        base + location, data=first, headers={"Content-Range": f"0-{len(first) - 1}"}
    ) as r:
        assert r.status == 202
        assert r.headers["Range"] == f"0-{len(first) - 1}"
        location = r.headers["Location"]
    async with client.patch(base + location, data=b"x", headers={"Content-Range": "5-5"}) as r:
        assert r.status == 416
        assert await _errors(r) == ["RANGE_INVALID"]
    async with client.patch(base + location, data=second) as r:
        assert r.status == 202
    async with client.get(base + location) as r:
        assert r.status == 204
        assert r.headers["Range"] == f"0-{len(data) - 1}"
    async with client.head(f"{base}/v2/kaptain/mnist/blobs/{digest}") as r:
        assert r.status == 404
    async with client.put(base + location, params={"digest": digest}) as r:
        assert r.status == 201
        assert r.headers["Docker-Content-Digest"] == digest
        assert r.headers["Location"] == f"/v2/kaptain/mnist/blobs/{digest}"
    async with client.head(f"{base}/v2/kaptain/mnist/blobs/{digest}") as r:
        assert r.status == 200
        assert int(r.headers["Content-Length"]) == len(data)
        assert r.headers["Docker-Content-Digest"] == digest
    async with client.get(f"{base}/v2/kaptain/mnist/blobs/{digest}") as r:
        assert r.status == 200
        assert await r.read() == data
    async with client.get(f"{base}/v2/kaptain/mnist/blobs/{digest}", headers={"Range": "bytes=10-19"}) as r:
        assert r.status == 206
        assert await r.read() == data[10:20]
    # The upload session is gone once completed.
    async with client.get(base + location) as r:
        assert r.status == 404
        assert await _errors(r) == ["BLOB_UPLOAD_UNKNOWN"]


async def test_digest_mismatch_is_rejected(registry: RegistryServer, client: aiohttp.ClientSession) -> None:
    base = registry.url
    wrong = digest_of(b"something else")
    async with client.post(f"{base}/v2/repo/blobs/uploads/", params={"digest": wrong}, data=b"payload") as r:
        assert r.status == 400
        assert await _errors(r) == ["DIGEST_INVALID"]
    async with client.post(f"{base}/v2/repo/blobs/uploads/") as r:
        location = r.headers["Location"]
    async with client.put(base + location, params={"digest": wrong}, data=b"payload") as r:
        assert r.status == 400
        assert await _errors(r) == ["DIGEST_INVALID"]
    async with client.put(base + location, params={"digest": digest_of(b"payload")}, data=b"") as r:
        assert r.status == 404, "a failed upload must be started over"
    async with client.head(f"{base}/v2/repo/blobs/{digest_of(b'payload')}") as r:
        assert r.status == 404
    async with client.get(f"{base}/v2/repo/blobs/sha256:nothex") as r:
        assert r.status == 400
        assert await _errors(r) == ["DIGEST_INVALID"]


async def test_cross_repository_mount(registry: RegistryServer, client: aiohttp.ClientSession) -> None:
    base = registry.url
    digest = await push_blob(client, base, "team/a", b"shared layer")
    async with client.post(
        f"{base}/v2/team/b/blobs/uploads/", params={"mount": digest, "from": "team/a"}
    ) as r:
        assert r.status == 201
        assert r.headers["Docker-Content-Digest"] == digest
    missing = digest_of(b"never pushed")
    async with client.post(
        f"{base}/v2/team/b/blobs/uploads/", params={"mount": missing, "from": "team/a"}
    ) as r:
        assert r.status == 202, "an unknown blob falls back to a normal upload session"
        assert "/blobs/uploads/" in r.headers["Location"]


async def test_manifest_push_and_pull_by_tag_and_digest(
    registry: RegistryServer, client: aiohttp.ClientSession
) -> None:
    base = registry.url
    layer = make_layer([Entry("app/", is_dir=True), Entry("app/trainer.py", b"print('hi')\n")])
    config = make_config([layer], labels={"checksum": "abc"}, entrypoint=["python", "app/trainer.py"])
    manifest = make_manifest(config, [layer])
    url = f"{base}/v2/kaptain/mnist/manifests/v1"
    async with client.put(url, data=manifest, headers={"Content-Type": DOCKER_MANIFEST}) as r:
        assert r.status == 400
        assert await _errors(r) == ["MANIFEST_BLOB_UNKNOWN"]
    await push_blob(client, base, "kaptain/mnist", layer)
    await push_blob(client, base, "kaptain/mnist", config)
    async with client.put(url, data=manifest, headers={"Content-Type": DOCKER_MANIFEST}) as r:
        assert r.status == 201
        digest = r.headers["Docker-Content-Digest"]
        assert digest == digest_of(manifest)
        assert r.headers["Location"] == f"/v2/kaptain/mnist/manifests/{digest}"
    for reference in ("v1", digest):
        async with client.get(f"{base}/v2/kaptain/mnist/manifests/{reference}") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == DOCKER_MANIFEST
            assert r.headers["Docker-Content-Digest"] == digest
            assert await r.read() == manifest
    async with client.head(url) as r:
        assert r.status == 200
        assert int(r.headers["Content-Length"]) == len(manifest)
        assert r.headers["Docker-Content-Digest"] == digest
    # The config blob, with its labels, is readable (the build activity's "image exists" check).
    config_digest = json.loads(manifest)["config"]["digest"]
    async with client.get(f"{base}/v2/kaptain/mnist/blobs/{config_digest}") as r:
        assert json.loads(await r.read())["config"]["Labels"] == {"checksum": "abc"}
    # The image was unpacked for the kubelet when the manifest was stored.
    rootfs = registry.data_dir / "images" / config_digest.split(":")[1] / "rootfs"
    assert (rootfs / "app" / "trainer.py").read_text() == "print('hi')\n"


async def test_manifest_errors(registry: RegistryServer, client: aiohttp.ClientSession) -> None:
    base = registry.url
    async with client.get(f"{base}/v2/kaptain/mnist/manifests/nope") as r:
        assert r.status == 404
        body = await r.json()
        assert body["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        assert r.headers[API_VERSION] == "registry/2.0"
    async with client.head(f"{base}/v2/kaptain/mnist/manifests/{digest_of(b'x')}") as r:
        assert r.status == 404
    layer = make_layer([Entry("f", b"1")])
    config = make_config([layer])
    await push_blob(client, base, "r", layer)
    await push_blob(client, base, "r", config)
    manifest = make_manifest(config, [layer])
    async with client.put(
        f"{base}/v2/r/manifests/{digest_of(b'other')}",
        data=manifest,
        headers={"Content-Type": DOCKER_MANIFEST},
    ) as r:
        assert r.status == 400
        assert await _errors(r) == ["DIGEST_INVALID"]
    async with client.put(
        f"{base}/v2/r/manifests/v1", data=b"not json", headers={"Content-Type": DOCKER_MANIFEST}
    ) as r:
        assert r.status == 400
        assert await _errors(r) == ["MANIFEST_INVALID"]
    async with client.put(
        f"{base}/v2/r/manifests/v1",
        data=manifest,
        headers={"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
    ) as r:
        assert r.status == 400
        assert await _errors(r) == ["MANIFEST_INVALID"]
    async with client.put(
        f"{base}/v2/r/manifests/{digest_of(manifest)}",
        data=manifest,
        headers={"Content-Type": DOCKER_MANIFEST},
    ) as r:
        assert r.status == 201, "push by digest"
    async with client.get(f"{base}/v2/Upper/Case/tags/list") as r:
        assert r.status == 400
        assert await _errors(r) == ["NAME_INVALID"]
    async with client.get(f"{base}/v2/never/pushed/tags/list") as r:
        assert r.status == 404
        assert await _errors(r) == ["NAME_UNKNOWN"]
    async with client.delete(f"{base}/v2/r/manifests/{digest_of(manifest)}") as r:
        assert r.status == 405
        assert await _errors(r) == ["UNSUPPORTED"]


async def test_tags_and_catalog_with_pagination(
    registry: RegistryServer, client: aiohttp.ClientSession
) -> None:
    base = registry.url
    layer = make_layer([Entry("f", b"1")])
    config = make_config([layer])
    for repo in ("kaptain/mnist", "kaptain/iris", "other"):
        for tag in ("v1", "v2", "latest"):
            await push_image(client, base, repo, tag, layers=[layer], config=config)
    async with client.get(f"{base}/v2/kaptain/mnist/tags/list") as r:
        assert await r.json() == {"name": "kaptain/mnist", "tags": ["latest", "v1", "v2"]}
    async with client.get(f"{base}/v2/kaptain/mnist/tags/list", params={"n": "2"}) as r:
        assert (await r.json())["tags"] == ["latest", "v1"]
        assert r.headers["Link"] == '</v2/kaptain/mnist/tags/list?last=v1&n=2>; rel="next"'
    async with client.get(f"{base}/v2/kaptain/mnist/tags/list", params={"n": "2", "last": "v1"}) as r:
        assert (await r.json())["tags"] == ["v2"]
        assert "Link" not in r.headers
    async with client.get(f"{base}/v2/_catalog") as r:
        assert await r.json() == {"repositories": ["kaptain/iris", "kaptain/mnist", "other"]}
    async with client.get(f"{base}/v2/_catalog", params={"n": "1"}) as r:
        assert (await r.json())["repositories"] == ["kaptain/iris"]
        assert 'rel="next"' in r.headers["Link"]


async def test_state_survives_a_new_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    layer = make_layer([Entry("f", b"1")])
    config = make_config([layer])
    with RegistryServer(data) as first:
        async with aiohttp.ClientSession(headers={"Authorization": basic_header()}) as session:
            digest = await push_image(
                session, first.url, "kaptain/mnist", "v1", layers=[layer], config=config
            )
    with RegistryServer(data, mounted=True) as second:
        async with aiohttp.ClientSession(headers={"Authorization": basic_header()}) as session:
            async with session.get(f"{second.url}/v2/kaptain/mnist/manifests/v1") as r:
                assert r.status == 200
                assert r.headers["Docker-Content-Digest"] == digest
            async with session.get(f"{second.url}/healthz") as r:
                assert await r.text() == "ok", "the parent app keeps its own routes next to /v2"
