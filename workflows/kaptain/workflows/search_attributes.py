"""The custom search attributes every Kaptain run carries, so runs can be filtered in the UI.

`temporal workflow list --query "KaptainModelId = 'dev/mnist' AND KaptainAction = 'train'"`
finds a model's training runs. The worker registers the keys on its namespace when they are
missing (`kaptain.worker.connect`); test servers get them from `ALL`.
"""

from __future__ import annotations

from typing import Final

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

__all__ = [
    "ALL",
    "KAPTAIN_ACTION",
    "KAPTAIN_MODEL_ID",
    "KAPTAIN_OUTCOME",
    "KAPTAIN_REVISION",
    "record_outcome",
    "run_search_attributes",
]

KAPTAIN_MODEL_ID: Final = SearchAttributeKey.for_keyword("KaptainModelId")
"""The raw model id, e.g. ``dev/mnist``."""

KAPTAIN_ACTION: Final = SearchAttributeKey.for_keyword("KaptainAction")
"""The action: ``build``, ``train``, ``tune``, ``deploy``, ..."""

KAPTAIN_REVISION: Final = SearchAttributeKey.for_keyword("KaptainRevision")
"""The 32-hex revision of the action."""

KAPTAIN_OUTCOME: Final = SearchAttributeKey.for_keyword("KaptainOutcome")
"""How a run that completed ended by its own account: ``Succeeded``, ``Failed`` or ``TimedOut``
(training: a failed training job completes the workflow, since `train()` returns False rather than
raising), ``Succeeded`` or ``Skipped`` (build). Absent while the run goes, and on runs that failed,
were cancelled or terminated (Temporal's own status says so)."""

ALL: Final = (KAPTAIN_MODEL_ID, KAPTAIN_ACTION, KAPTAIN_REVISION, KAPTAIN_OUTCOME)
"""Every key, for registering them on a namespace."""


def run_search_attributes(*, model_id: str, action: str, revision: str) -> TypedSearchAttributes:
    """The search attributes of one run.

    Args:
        model_id: The raw model id.
        action: The action name.
        revision: The action's revision.

    Returns:
        The typed attributes to pass to `start_workflow` or `start_child_workflow`.
    """
    return TypedSearchAttributes(
        [
            SearchAttributePair(KAPTAIN_MODEL_ID, model_id),
            SearchAttributePair(KAPTAIN_ACTION, action),
            SearchAttributePair(KAPTAIN_REVISION, revision),
        ]
    )


def record_outcome(outcome: str) -> None:
    """Set the run's `KAPTAIN_OUTCOME` (from workflow code), so listings show how it ended without
    fetching its result, and the UI can filter on it (``KaptainOutcome = 'Failed'``).

    Args:
        outcome: ``Succeeded``, ``Failed``, ``TimedOut`` or ``Skipped``.
    """
    workflow.upsert_search_attributes([KAPTAIN_OUTCOME.value_set(outcome)])
