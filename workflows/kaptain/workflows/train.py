"""`TrainWorkflow`: build if needed, run the training workload, report the result.

As the original SDK (`reference/kaptain-behaviour.md` §4.2):

1. Build the image as a child `BuildWorkflow` (skipped when unchanged), so the build shows up as
   its own run in the UI and cleans up after itself even if this run is cancelled meanwhile.
2. Create Secret ``train-registry-<hex>`` (image pull) and, for storage with credentials,
   ``train-<hex>`` (the ``AWS_*``/``S3_*`` variables of the training containers), then the
   workload: TFJob (Chief + Workers), PyTorchJob (Master + Workers) or a batch/v1 Job, named
   ``<name>-<kind>-<revision[:8]>``. Creation is idempotent, so a retried activity (or a new
   worker after a crash) never creates a second job.
3. Watch it to the end. A failed workload is a result (``Failed`` with the containers' exit codes
   and log tails), not an error: the SDK logs the reason and returns False.
4. Delete the Secrets always; the job is kept for troubleshooting unless ``force_cleanup`` (or its
   TTL, applied by the cluster). On cancellation or timeout everything the run created is deleted,
   and the run waits until it is gone before it closes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from kaptain.workflows import steps
    from kaptain.workflows.build import BuildWorkflow
    from kaptain.workflows.errors import TIMEOUT, WORKLOAD_DEPLOYMENT_FAILED
    from kaptain.workflows.manifests.training import training_manifest
    from kaptain.workflows.names import (
        run_annotations,
        run_labels,
        run_selector,
        train_secret_names,
        workflow_id,
    )
    from kaptain.workflows.objects import (
        CreateObjectRequest,
        DeleteObjectsRequest,
        DeleteRunObjectsRequest,
        FailureDetailsRequest,
        Kind,
        ObjectRef,
        ObjectStatus,
        Scheduling,
        SecretRequest,
    )
    from kaptain.workflows.search_attributes import record_outcome, run_search_attributes
    from kaptain.workflows.specs import BuildResult, RunProgress, TrainInput, TrainResult, TrainStatus
    from kaptain.workflows.storage import Metrics, MetricsRequest, metrics_uri, trained_uri
    from kaptain.workflows.tracking import (
        SchedulingGuard,
        remaining,
        watch_until_terminal,
        with_scheduling,
        with_status,
    )

__all__ = ["TrainWorkflow"]

_DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
_SECRET = Kind(api_version="v1", kind="Secret")
_POD = Kind(api_version="v1", kind="Pod")
_CANCEL_WAIT_SECONDS = 60.0


@workflow.defn
class TrainWorkflow:
    """Trains a model on the cluster: image build, training workload, results, cleanup."""

    @workflow.init
    def __init__(self, inp: TrainInput) -> None:
        self._progress = RunProgress(phase="Starting", started_at=workflow.now())

    @workflow.query
    def progress(self) -> RunProgress:
        """The run's phase, its job and the job's pod counts."""
        elapsed = (workflow.now() - self._progress.started_at).total_seconds()
        return self._progress.model_copy(update={"elapsed_seconds": elapsed})

    @workflow.run
    async def run(self, inp: TrainInput) -> TrainResult:
        """Build, train and clean up.

        Returns:
            ``Succeeded`` with the model URI and metrics, ``Failed`` with the reason, or
            ``TimedOut``.

        Raises:
            ApplicationError: ``ImageBuildFailed`` from the build, ``WorkloadDeploymentFailed``
                when the cluster refuses the workload, or other activity errors.
        """
        deadline = (
            None if inp.timeout_seconds is None else workflow.now() + timedelta(seconds=inp.timeout_seconds)
        )
        manifest = training_manifest(inp, inp.build.image)
        ref = ObjectRef(
            api_version=manifest["apiVersion"], kind=manifest["kind"], name=manifest["metadata"]["name"]
        )
        self._progress = self._progress.model_copy(update={"job_kind": ref.kind, "job_name": ref.name})

        build = await self._build(inp, deadline)
        if build is None:
            return self._result(
                inp, ref, "TimedOut", f"the run did not finish within {inp.timeout_seconds} s"
            )

        self._set_phase("Submitting")
        storage_secret, registry_secret = train_secret_names(inp.revision)
        secrets = [ObjectRef(api_version="v1", kind="Secret", name=registry_secret)]
        if inp.storage.credentials is not None:
            secrets.append(ObjectRef(api_version="v1", kind="Secret", name=storage_secret))
        everything = [Kind(api_version=ref.api_version, kind=ref.kind), _SECRET, _POD]
        selector = run_selector(revision=inp.revision, action="train")

        cleanup_all = False
        secrets_deleted = False
        try:
            await self._create_secrets(inp, storage_secret, registry_secret)
            status = await steps.create_object(CreateObjectRequest(manifest=manifest))
            try:
                status = await watch_until_terminal(
                    status,
                    deadline=deadline,
                    on_change=self._on_status,
                    scheduling=SchedulingGuard(
                        selector=selector,
                        timeout=timedelta(seconds=inp.schedule_timeout_seconds),
                        on_change=self._on_scheduling,
                    ),
                )
            except TimeoutError:
                cleanup_all = True
                return self._result(
                    inp, ref, "TimedOut", f"the run did not finish within {inp.timeout_seconds} s"
                )

            if status.phase == "Succeeded":
                # The caller is waiting for this result: read the metrics while the secrets go, both
                # as local activities of this workflow task.
                to_delete = secrets + ([ref] if inp.force_cleanup else [])
                metrics, _ = await asyncio.gather(
                    steps.read_metrics(
                        MetricsRequest(storage=inp.storage, uri=metrics_uri(self._model_uri(inp))), local=True
                    ),
                    steps.delete_objects(DeleteObjectsRequest(refs=to_delete), local=True),
                )
                secrets_deleted = True
                return self._result(inp, ref, "Succeeded", status.message, metrics=metrics, build=build)

            details = await steps.failure_details(FailureDetailsRequest(selector=selector, tail_lines=20))
            if status.phase == "Deleted":
                headline = f"{ref.kind} {ref.name} was deleted before it finished"
            else:
                headline = status.message or status.reason or f"{ref.kind} {ref.name} failed"
            return self._result(inp, ref, "Failed", f"{headline}\n{details.summary()}".strip(), build=build)
        except BaseException as err:
            # A workload the cluster cannot run is deleted whole, like a cancelled one: left
            # behind, its pods would wait for a node forever.
            cleanup_all = is_cancelled_exception(err) or (
                isinstance(err, ApplicationError) and err.type == WORKLOAD_DEPLOYMENT_FAILED
            )
            raise
        finally:
            self._set_phase("CleaningUp")
            if cleanup_all:
                deleted = await steps.delete_run_objects(
                    DeleteRunObjectsRequest(
                        selector=selector, kinds=everything, wait_seconds=_CANCEL_WAIT_SECONDS
                    )
                )
                if deleted.remaining:
                    workflow.logger.warning(
                        "Still present after the cleanup: %s", ", ".join(deleted.remaining)
                    )
            elif not secrets_deleted:
                await steps.delete_objects(
                    DeleteObjectsRequest(refs=secrets + ([ref] if inp.force_cleanup else []))
                )
            self._set_phase("Done")

    async def _build(self, inp: TrainInput, deadline: datetime | None) -> BuildResult | None:
        """Run the build as a child; None when the run's deadline passed during it."""
        self._set_phase("Building")
        left = remaining(deadline)
        build_input = inp.build.model_copy(
            update={"timeout_seconds": None if left is None else max(1, int(left.total_seconds()))}
        )
        try:
            return await workflow.execute_child_workflow(
                BuildWorkflow.run,
                build_input,
                id=workflow_id(inp.model.id, "build", inp.build.revision),
                search_attributes=run_search_attributes(
                    model_id=inp.model.id, action="build", revision=inp.build.revision
                ),
                # If this run is closed without cancelling the child (terminated, timed out), the
                # child is asked to cancel, so it still deletes its builder Job and Secrets.
                parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
                static_summary=f"build {inp.build.image}",
            )
        except ChildWorkflowError as err:
            if isinstance(err.cause, ApplicationError) and err.cause.type == TIMEOUT:
                return None
            raise

    async def _create_secrets(self, inp: TrainInput, storage_secret: str, registry_secret: str) -> None:
        labels = run_labels(id_label=inp.model.id_label, revision=inp.revision, action="train")
        annotations = run_annotations(inp.model.id)
        creating = [
            steps.create_secret(
                SecretRequest(
                    name=registry_secret,
                    labels=labels,
                    annotations=annotations,
                    type=_DOCKERCONFIGJSON,
                    data={".dockerconfigjson": inp.registry.docker_config},
                )
            )
        ]
        if inp.storage.credentials is not None:
            creating.append(
                steps.create_secret(
                    SecretRequest(
                        name=storage_secret,
                        labels=labels,
                        annotations=annotations,
                        data_from=inp.storage.credentials,
                    )
                )
            )
        await asyncio.gather(*creating)

    @staticmethod
    def _model_uri(inp: TrainInput) -> str:
        return trained_uri(inp.storage.base_uri, inp.model.id, inp.revision)

    def _result(
        self,
        inp: TrainInput,
        ref: ObjectRef,
        status: TrainStatus,
        reason: str,
        *,
        metrics: Metrics | None = None,
        build: BuildResult | None = None,
    ) -> TrainResult:
        workflow.logger.info("Training result: %s %s", status, reason)
        record_outcome(status)
        return TrainResult(
            status=status,
            reason=reason,
            model_uri=self._model_uri(inp),
            hyperparameters=inp.hyperparameters,
            metrics=metrics.values if metrics is not None else {},
            image=inp.build.image,
            build_skipped=build.skipped if build is not None else False,
            job_kind=ref.kind,
            job_name=ref.name,
            job_deleted=inp.force_cleanup or status == "TimedOut",
        )

    def _on_status(self, status: ObjectStatus) -> None:
        self._progress = with_status(self._progress, status)
        workflow.set_current_details(f"{status.ref.kind} {status.ref.name}: {status.phase}")

    def _on_scheduling(self, verdict: Scheduling) -> None:
        self._progress = with_scheduling(self._progress, verdict)

    def _set_phase(self, phase: str) -> None:
        self._progress = self._progress.model_copy(update={"phase": phase})
