"""`BuildWorkflow`: publish the model's image, unless the registry already has it.

As the original SDK (`reference/kaptain-behaviour.md` §4.1): the image carries a ``checksum``
label over the model's content; when the registry holds the image with that checksum the build is
skipped (one registry lookup, well under a second end to end). Otherwise the run creates Secret
``docker-<hex>`` (registry credentials, and the CA of a private registry), Secret
``context-<hex>`` (storage credentials, for ``s3://`` contexts) and Job ``kaniko-<hex>``, watches
the Job, and deletes all three whatever happens. A failed build raises ``ImageBuildFailed`` with
the builder's log tail, which the SDK turns into ``ImageBuildException``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from kaptain.workflows import steps
    from kaptain.workflows.errors import IMAGE_BUILD_FAILED, TIMEOUT
    from kaptain.workflows.manifests.kaniko import CA_FILE_KEY, DOCKER_CONFIG_KEY, kaniko_job_manifest
    from kaptain.workflows.names import build_names, run_annotations, run_labels, run_selector
    from kaptain.workflows.objects import (
        CreateObjectRequest,
        DeleteRunObjectsRequest,
        FailureDetailsRequest,
        Kind,
        ObjectStatus,
        Scheduling,
        SecretRequest,
    )
    from kaptain.workflows.registry import CHECKSUM_LABEL, ImageQuery
    from kaptain.workflows.search_attributes import record_outcome
    from kaptain.workflows.specs import BuildInput, BuildResult, RunProgress
    from kaptain.workflows.storage import PrefixRequest, contexts_prefix
    from kaptain.workflows.tracking import (
        SchedulingGuard,
        watch_until_terminal,
        with_scheduling,
        with_status,
    )

__all__ = ["BuildWorkflow"]

# Owners first: deleting the Job also has its pods collected, and any left are deleted directly.
_BUILD_KINDS = [
    Kind(api_version="batch/v1", kind="Job"),
    Kind(api_version="v1", kind="Secret"),
    Kind(api_version="v1", kind="Pod"),
]
# After a cancellation the run waits until its objects are really gone, so the caller, whose
# cancel returns when the run has closed, finds nothing left.
_CANCEL_WAIT_SECONDS = 60.0


@workflow.defn
class BuildWorkflow:
    """Builds and publishes a model's image with Kaniko, skipping unchanged models."""

    @workflow.init
    def __init__(self, inp: BuildInput) -> None:
        self._progress = RunProgress(phase="Starting", started_at=workflow.now())

    @workflow.query
    def progress(self) -> RunProgress:
        """The build's phase and its Job's pod counts."""
        elapsed = (workflow.now() - self._progress.started_at).total_seconds()
        return self._progress.model_copy(update={"elapsed_seconds": elapsed})

    @workflow.run
    async def run(self, inp: BuildInput) -> BuildResult:
        """Build the image, or skip when the registry has it with the same checksum.

        Raises:
            ApplicationError: ``ImageBuildFailed`` (details: the failed containers with their log
                tails) or ``Timeout``; Kubernetes and storage errors from the activities.
        """
        deadline = (
            None if inp.timeout_seconds is None else workflow.now() + timedelta(seconds=inp.timeout_seconds)
        )
        found = await steps.find_image(ImageQuery(image=inp.image, registry=inp.registry))
        if found.exists and found.labels.get(CHECKSUM_LABEL) == inp.checksum:
            workflow.logger.info(
                "Skipping image build: %s with the same contents is in the registry", inp.image
            )
            self._set_phase("Done", reason="skipped: the image with the same contents is in the registry")
            record_outcome("Skipped")
            return BuildResult(image=inp.image, checksum=inp.checksum, skipped=True)

        job_name, docker_secret, context_secret = build_names(inp.revision)
        self._progress = self._progress.model_copy(
            update={"phase": "Submitting", "job_kind": "Job", "job_name": job_name}
        )
        cancelled = False
        try:
            await self._create_secrets(inp, docker_secret, context_secret)
            status = await steps.create_object(CreateObjectRequest(manifest=kaniko_job_manifest(inp)))
            try:
                status = await watch_until_terminal(
                    status,
                    deadline=deadline,
                    on_change=self._on_status,
                    scheduling=SchedulingGuard(
                        selector=run_selector(revision=inp.revision, action="build"),
                        timeout=timedelta(seconds=inp.schedule_timeout_seconds),
                        on_change=self._on_scheduling,
                    ),
                )
            except TimeoutError:
                raise ApplicationError(
                    f"the image build did not finish within {inp.timeout_seconds} s",
                    type=TIMEOUT,
                    non_retryable=True,
                ) from None
            if status.phase != "Succeeded":
                details = await steps.failure_details(
                    FailureDetailsRequest(
                        selector=run_selector(revision=inp.revision, action="build"), tail_lines=30
                    )
                )
                reason = status.message or status.reason or f"the build job ended as {status.phase}"
                raise ApplicationError(
                    f"image build failed: {reason}\n{details.summary()}".strip(),
                    details.model_dump(mode="json"),
                    type=IMAGE_BUILD_FAILED,
                    non_retryable=True,
                )
            # Keep the context that matches the published image (an unchanged model then needs no
            # upload) and drop the model's older ones.
            await steps.delete_prefix(
                PrefixRequest(
                    storage=inp.storage,
                    uri=contexts_prefix(inp.storage.base_uri, inp.model.id),
                    keep=[inp.context_uri],
                )
            )
            workflow.logger.info("Image build completed successfully. Image pushed: %s", inp.image)
            record_outcome("Succeeded")
            return BuildResult(image=inp.image, checksum=inp.checksum, skipped=False, job_name=job_name)
        except BaseException as err:
            cancelled = is_cancelled_exception(err)
            raise
        finally:
            # The builder's Job and Secrets are deleted right after the build, whatever its outcome
            # (the log tail is already in the error).
            self._set_phase("CleaningUp")
            deleted = await steps.delete_run_objects(
                DeleteRunObjectsRequest(
                    selector=run_selector(revision=inp.revision, action="build"),
                    kinds=_BUILD_KINDS,
                    wait_seconds=_CANCEL_WAIT_SECONDS if cancelled else 0.0,
                )
            )
            if deleted.remaining:
                workflow.logger.warning("Still present after the cleanup: %s", ", ".join(deleted.remaining))
            self._set_phase("Done")

    async def _create_secrets(self, inp: BuildInput, docker_secret: str, context_secret: str) -> None:
        labels = run_labels(id_label=inp.model.id_label, revision=inp.revision, action="build")
        annotations = run_annotations(inp.model.id)
        plain = {CA_FILE_KEY: inp.registry.ca_certificate} if inp.registry.ca_certificate is not None else {}
        creating = [
            steps.create_secret(
                SecretRequest(
                    name=docker_secret,
                    labels=labels,
                    annotations=annotations,
                    data={DOCKER_CONFIG_KEY: inp.registry.docker_config},
                    plain_data=plain,
                )
            )
        ]
        if inp.context_uri.startswith("s3://") and inp.storage.credentials is not None:
            creating.append(
                steps.create_secret(
                    SecretRequest(
                        name=context_secret,
                        labels=labels,
                        annotations=annotations,
                        data_from=inp.storage.credentials,
                    )
                )
            )
        await asyncio.gather(*creating)

    def _on_status(self, status: ObjectStatus) -> None:
        self._progress = with_status(self._progress, status)
        workflow.set_current_details(f"build {status.ref.name}: {status.phase}")

    def _on_scheduling(self, verdict: Scheduling) -> None:
        self._progress = with_scheduling(self._progress, verdict)

    def _set_phase(self, phase: str, *, reason: str | None = None) -> None:
        update: dict[str, object] = {"phase": phase}
        if reason is not None:
            update["reason"] = reason
        self._progress = self._progress.model_copy(update=update)
