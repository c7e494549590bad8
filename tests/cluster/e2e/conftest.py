"""Fixtures of the end-to-end tests: the `cluster` fixture runs the full default cluster.

The parts are `kaptain.cluster.parts.DefaultParts`, what `kaptain cluster serve` runs, with a
short pod failure backoff (0.2 s instead of Kubernetes' 10 s) so failing Jobs finish quickly.
"""

from __future__ import annotations

import pytest

from kaptain.cluster.parts import DefaultParts
from kaptain.cluster.server import PartsFactory


@pytest.fixture
def cluster_parts() -> PartsFactory | None:
    return DefaultParts(pod_failure_backoff=0.2, pod_stop_grace=1.0)
