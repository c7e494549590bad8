"""`Model.build`: publish the model's image through a `BuildWorkflow` run."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from kaptain import envs
from kaptain.exceptions import ImageBuildException, InvalidModelProperty
from kaptain.platform.constants import DEFAULT_TIMEOUT_SECONDS, LOGGER_NAME
from kaptain.runs import storage
from kaptain.runs.context import BuildContext, prepare_context
from kaptain.runs.errors import error_type
from kaptain.runs.execute import RunTimedOut, execute
from kaptain.runs.specs import build_input, sealer, storage_env
from kaptain.workflows.build import BuildWorkflow
from kaptain.workflows.errors import TIMEOUT
from kaptain.workflows.specs import BuildInput, BuildResult

if TYPE_CHECKING:
    from kaptain.model.models import Model

__all__ = ["build_model", "prepare_build", "run_build"]

_log = logging.getLogger(LOGGER_NAME)


async def build_model(model: Model, *, verbose: bool | None = None) -> bool:
    """Build and publish the model's image unless the registry has it with the same contents.

    Args:
        model: The model.
        verbose: Log the build's progress (default: ``KAPTAIN_SDK_VERBOSE``).

    Returns:
        True when the image is in the registry (built or already there); False when the build
        did not finish in time (the reason is logged).

    Raises:
        ImageBuildException: The build failed; the message ends with the builder's log tail.
        KaptainException: The run failed otherwise (see `kaptain.runs.errors`).
    """
    inp = await prepare_build(model, revision=uuid.uuid4().hex, timeout_seconds=DEFAULT_TIMEOUT_SECONDS)
    try:
        await run_build(inp, verbose=envs.VERBOSE if verbose is None else verbose)
    except RunTimedOut as err:
        _log.error("Image build failed: %s", err)
        return False
    except ImageBuildException:
        raise
    except Exception as err:
        if error_type(err) == TIMEOUT:
            _log.error("Image build failed: %s", err)
            return False
        raise
    return True


async def prepare_build(model: Model, *, revision: str, timeout_seconds: int | None) -> BuildInput:
    """Collect the model's files, upload its context if storage lacks it, and make the build input.

    Raises:
        InvalidModelProperty: The model's files or configuration cannot make a context.
    """
    context = await asyncio.to_thread(_context, model)
    inp = build_input(
        model, revision=revision, context=context, seal=sealer(), timeout_seconds=timeout_seconds
    )
    env = storage_env(model.config)
    # Contexts are content-addressed: an unchanged model finds its context already stored.
    if not await asyncio.to_thread(storage.exists, inp.context_uri, env=env):
        data = await asyncio.to_thread(context.tar_gz)
        await asyncio.to_thread(storage.write_bytes, inp.context_uri, data, env=env)
        _log.debug("Uploaded the build context (%d bytes) to %s", len(data), inp.context_uri)
    return inp


async def run_build(inp: BuildInput, *, verbose: bool) -> BuildResult:
    """Run `BuildWorkflow` and log its outcome as the original SDK did.

    Raises:
        ImageBuildException: The build failed.
        RunTimedOut: It did not finish in time.
    """
    _log.info("Building Docker image.")
    result = await execute(
        BuildWorkflow.run,
        inp,
        action="build",
        model_id=inp.model.id,
        revision=inp.revision,
        timeout_seconds=inp.timeout_seconds,
        verbose=verbose,
    )
    if result.skipped:
        _log.info(
            "Skipping image build for the model - the image '%s' with the same contents has already been "
            "published to the registry.",
            result.image,
        )
    else:
        _log.info("Image build completed successfully. Image pushed: %s", result.image)
    return result


def _context(model: Model) -> BuildContext:
    try:
        return prepare_context(
            base_dir=Path(model.config.base_dir),
            base_image=model.base_image,
            main_file=model.main_file,
            extra_files=model.extra_files,
            requirements=model.requirements,
        )
    except (ValueError, OSError) as err:
        raise InvalidModelProperty(
            f"cannot collect the model's files: {err}", property_name="extra_files"
        ) from err
