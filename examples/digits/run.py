"""The digits lifecycle on the embedded default, driven by the async Kaptain SDK.

Run it through `make demo` (or `kaptain demo`), which starts Temporal, the embedded cluster and a
worker first. It builds the training image (skipped when the registry already has one with the
same content), trains with two PyTorch workers, and prints the accuracy reached.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

from kaptain.config import Config
from kaptain.model.frameworks import ModelFramework
from kaptain.model.models import Model

HERE = Path(__file__).resolve().parent


def digits_model() -> Model:
    """The digits classifier as a Kaptain model, with its files relative to this directory."""
    config = Config.default()
    config.base_dir = str(HERE)
    return Model(
        id="dev/digits",
        name="Digits",
        description="Handwritten digit recognition on scikit-learn's digits data set",
        version="0.1.0",
        framework=ModelFramework.PYTORCH,
        framework_version="2.13.0",
        main_file="trainer.py",
        extra_files=["model.py"],
        requirements="requirements.txt",
        image_name="kaptain/digits",
        base_image="pytorch/pytorch:2.13.0-cpu",
        config=config,
    )


async def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    model = digits_model()

    started = time.monotonic()
    if not await model.build():
        print("build failed", file=sys.stderr)
        return 1
    built = time.monotonic()
    print(f"phase build: {built - started:.2f} s", flush=True)

    trained_ok = await model.train(
        hyperparameters={"--epochs": 10, "--lr": 0.05, "--batch-size": 64},
        args={"--log-interval": 10},
        workers=2,
        cpu="1",
        memory="2G",
    )
    print(f"phase train: {time.monotonic() - built:.2f} s", flush=True)
    if not trained_ok:
        print("training failed", file=sys.stderr)
        return 1
    metrics = model.metrics or {}
    accuracy = metrics.get("accuracy", {}).get("latest")
    print(f"trained {model.id} revision {model.revision}: hyperparameters {model.hyperparameters}")
    print(f"accuracy: {accuracy}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
