"""Recording metrics from training code: `MetadataUtil.record_metrics({"accuracy": 0.98})`.

Each call:

1. logs ``Record metrics.`` (root logger, as the original SDK, so ``logging.basicConfig`` output
   reads ``INFO:root:Record metrics.``);
2. prints one ``name=value`` line per metric on standard output: the format Katib's StdOut
   metrics collector parses, so the same code reports to hyperparameter tuning;
3. merges the values into ``$TRAINED_MODEL_UPLOAD_PATH/metrics.json``
   (``{"metrics": {"<name>": <value>, ...}}``, the last value of each name), where the training
   run reads them for its result. Only the primary process writes the file (PyTorch ``RANK`` 0,
   the TensorFlow chief, or worker 0 without one), so replicas do not overwrite each other;
4. logs ``Metrics saved.``

The file is written when it is recorded, not collected by a sidecar afterwards, so no
``sleep(10)`` after the last call is needed (it is harmless).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Mapping
from typing import Any

from kaptain.platform.model_export_util import UPLOAD_PATH_ENV
from kaptain.runs import storage
from kaptain.workflows.storage import metrics_uri

__all__ = ["MetadataUtil"]


class MetadataUtil:
    """Metrics reporting for training code."""

    @staticmethod
    def record_metrics(metrics: Mapping[str, Any]) -> None:
        """Record evaluation metrics of the running training.

        Args:
            metrics: Metric name → value: a number, or a string holding one (``"{:.4f}".format(acc)``).

        Raises:
            ValueError: A name is blank or contains ``=`` or whitespace, or a value is neither a
                number nor a string.
        """
        logging.info("Record metrics.")
        values: dict[str, float | int | str] = {}
        for name, value in metrics.items():
            if not isinstance(name, str) or not name.strip() or "=" in name or any(c.isspace() for c in name):
                raise ValueError(f"metric names must be words without '=' or spaces (got {name!r})")
            values[name] = _value(name, value)
        for name, value in values.items():
            print(f"{name}={value}", flush=True)
        target = os.environ.get(UPLOAD_PATH_ENV, "").strip()
        if target and _is_primary_process():
            uri = metrics_uri(target)
            previous = storage.read_bytes(uri, env=os.environ)
            recorded: dict[str, Any] = {}
            if previous:
                try:
                    recorded = dict(json.loads(previous).get("metrics") or {})
                except (ValueError, AttributeError):
                    recorded = {}
            recorded.update(values)
            storage.write_bytes(
                uri, json.dumps({"metrics": recorded}, indent=2).encode("utf-8"), env=os.environ
            )
        logging.info("Metrics saved.")


def _value(name: str, value: Any) -> float | int | str:
    if isinstance(value, bool):
        raise ValueError(f"metric {name!r} must be a number or a string (got a bool)")
    if isinstance(value, int | float | str):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value
    try:
        # numpy scalars, torch 0-d tensors and the like
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"metric {name!r} must be a number or a string (got {type(value).__name__})"
        ) from None


def _is_primary_process() -> bool:
    """Whether this process is the one that writes the run's metrics file."""
    tf_config = os.environ.get("TF_CONFIG", "").strip()
    if tf_config:
        try:
            parsed = json.loads(tf_config)
            task = parsed.get("task") or {}
            cluster = parsed.get("cluster") or {}
        except (ValueError, AttributeError):
            print("TF_CONFIG is not valid JSON: metrics are written by every process", file=sys.stderr)
            return True
        kind = str(task.get("type", "")).lower()
        if kind in ("chief", "master"):
            return True
        has_chief = any(str(k).lower() in ("chief", "master") for k in cluster)
        return kind == "worker" and int(task.get("index", 0)) == 0 and not has_chief
    rank = os.environ.get("RANK", "").strip()
    return rank in ("", "0")
