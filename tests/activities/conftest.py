"""Fixtures of the activity tests: moto's S3 server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workflows.servers import S3Server, s3_server


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """moto's S3 server with bucket ``kaptain``."""
    with s3_server() as server:
        yield server
