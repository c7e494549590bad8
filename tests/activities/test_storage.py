"""The storage activities on file:// and on S3 (moto's real server)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from kaptain.activities.storage.activities import RETRYABLE_STORAGE_ERROR, StorageActivities
from kaptain.workflows.errors import INVALID_SPEC, SECRETS_UNREADABLE, STORAGE_FAILED
from kaptain.workflows.sealed import Sealer
from kaptain.workflows.specs import StorageSpec
from kaptain.workflows.storage import CopyRequest, MetricsRequest, PrefixRequest
from tests.conftest import free_port
from tests.workflows import samples
from tests.workflows.servers import S3Server


class _Store:
    """One storage under test: its spec, and a way to write and list objects behind the code's back."""

    def __init__(
        self, spec: StorageSpec, put: Callable[[str, bytes], None], keys: Callable[[], list[str]]
    ) -> None:
        self.spec = spec
        self.put = put
        self.list_keys = keys

    def uri(self, relative: str) -> str:
        return f"{self.spec.base_uri}/{relative}"


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, sealer: Sealer) -> _Store:
    if request.param == "file":
        base = tmp_path / "models"

        def put_file(relative: str, data: bytes) -> None:
            path = base / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        def file_keys() -> list[str]:
            return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())

        return _Store(StorageSpec(base_uri=base.as_uri()), put_file, file_keys)
    s3: S3Server = request.getfixturevalue("s3")
    prefix = f"models-{uuid.uuid4().hex[:8]}"
    client: Any = s3.client()

    def put_object(relative: str, data: bytes) -> None:
        client.put_object(Bucket=s3.bucket, Key=f"{prefix}/{relative}", Body=data)

    def s3_keys() -> list[str]:
        listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix + "/")
        return sorted(item["Key"][len(prefix) + 1 :] for item in listed.get("Contents", []))

    spec = StorageSpec(base_uri=f"s3://{s3.bucket}/{prefix}", credentials=sealer.seal(json.dumps(s3.env())))
    return _Store(spec, put_object, s3_keys)


@pytest.fixture
def sealer() -> Sealer:
    return samples.new_sealer()


async def test_read_metrics(store: _Store, sealer: Sealer) -> None:
    activities = StorageActivities(sealer)
    env = ActivityEnvironment()
    try:
        uri = store.uri("dev/mnist/trained/r1/metrics.json")
        missing = await env.run(activities.read_metrics, MetricsRequest(storage=store.spec, uri=uri))
        assert missing.values == {}
        store.put(
            "dev/mnist/trained/r1/metrics.json",
            json.dumps({"metrics": {"accuracy": 0.97, "loss": "0.1"}}).encode(),
        )
        found = await env.run(activities.read_metrics, MetricsRequest(storage=store.spec, uri=uri))
        assert found.values == {"accuracy": 0.97, "loss": "0.1"}
        store.put("dev/mnist/trained/r1/metrics.json", b"not json")
        broken = await env.run(activities.read_metrics, MetricsRequest(storage=store.spec, uri=uri))
        assert broken.values == {}
    finally:
        await activities.close()


async def test_count_copy_and_delete_prefixes(store: _Store, sealer: Sealer) -> None:
    activities = StorageActivities(sealer)
    env = ActivityEnvironment()
    try:
        for name in ("model.pt", "sub/weights.bin", "metrics.json"):
            store.put(f"dev/mnist/trained/r1/{name}", name.encode())
        store.put("dev/mnist/trained/r10/other", b"must not count as under r1")
        trained = store.uri("dev/mnist/trained/r1")
        count = await env.run(activities.count_prefix, PrefixRequest(storage=store.spec, uri=trained))
        assert count.objects == 3

        copied = await env.run(
            activities.copy_prefix,
            CopyRequest(storage=store.spec, source=trained, destination=store.uri("dev/mnist/tuned/r2")),
        )
        assert copied.objects == 3
        assert {k for k in store.list_keys() if k.startswith("dev/mnist/tuned/")} == {
            "dev/mnist/tuned/r2/model.pt",
            "dev/mnist/tuned/r2/sub/weights.bin",
            "dev/mnist/tuned/r2/metrics.json",
        }

        deleted = await env.run(
            activities.delete_prefix,
            PrefixRequest(storage=store.spec, uri=trained, keep=[f"{trained}/model.pt"]),
        )
        assert deleted.objects == 2
        remaining = store.list_keys()
        assert "dev/mnist/trained/r1/model.pt" in remaining
        assert "dev/mnist/trained/r1/sub/weights.bin" not in remaining
        assert "dev/mnist/trained/r10/other" in remaining
    finally:
        await activities.close()


async def test_uris_outside_the_storage_are_refused(store: _Store, sealer: Sealer) -> None:
    activities = StorageActivities(sealer)
    env = ActivityEnvironment()
    outside = "file:///etc/passwd" if store.spec.base_uri.startswith("file") else "s3://other-bucket/x"
    for request in (
        PrefixRequest(storage=store.spec, uri=outside),
        PrefixRequest(storage=store.spec, uri=store.spec.base_uri + "-sibling/x"),
        PrefixRequest(storage=store.spec, uri=store.spec.base_uri + "/dev/../../escape"),
    ):
        with pytest.raises(ApplicationError) as err:
            await env.run(activities.delete_prefix, request)
        assert err.value.type == INVALID_SPEC and err.value.non_retryable
    with pytest.raises(ApplicationError) as err:
        await env.run(
            activities.copy_prefix,
            CopyRequest(storage=store.spec, source=store.uri("a"), destination=outside),
        )
    assert err.value.type == INVALID_SPEC


async def test_s3_errors_are_classified(s3: S3Server, sealer: Sealer) -> None:
    activities = StorageActivities(sealer)
    env = ActivityEnvironment()
    try:
        missing_bucket = StorageSpec(
            base_uri="s3://no-such-bucket/models", credentials=sealer.seal(json.dumps(s3.env()))
        )
        with pytest.raises(ApplicationError) as err:
            await env.run(
                activities.count_prefix,
                PrefixRequest(storage=missing_bucket, uri="s3://no-such-bucket/models/x"),
            )
        assert err.value.type == STORAGE_FAILED and err.value.non_retryable
        assert samples.S3_SECRET_KEY not in str(err.value)

        down = StorageSpec(
            base_uri="s3://kaptain/models",
            credentials=sealer.seal(json.dumps(samples.s3_env(endpoint=f"http://127.0.0.1:{free_port()}"))),
        )
        with pytest.raises(ApplicationError) as err:
            await env.run(activities.count_prefix, PrefixRequest(storage=down, uri="s3://kaptain/models/x"))
        assert err.value.type == RETRYABLE_STORAGE_ERROR and not err.value.non_retryable

        foreign = StorageSpec(base_uri="s3://kaptain/models", credentials=samples.new_sealer().seal("{}"))
        with pytest.raises(ApplicationError) as err:
            await env.run(
                activities.count_prefix, PrefixRequest(storage=foreign, uri="s3://kaptain/models/x")
            )
        assert err.value.type == SECRETS_UNREADABLE and err.value.non_retryable
    finally:
        await activities.close()
