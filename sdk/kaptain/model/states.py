"""The life-cycle states of a model."""

from __future__ import annotations

from enum import Enum

__all__ = ["ModelState"]


class ModelState(Enum):
    """Where a model stands in its life cycle; it reflects the last successful action.

    Transitions (each successful action also gives the model a new revision):

    * ``UNTRAINED``: a new model. ``train`` makes it ``TRAINED``, ``tune`` makes it ``TUNED``;
      ``deploy`` with an explicit ``model_uri`` makes it ``DEPLOYED``.
    * ``TRAINED`` / ``TUNED``: a model artifact exists. Training or tuning again moves between
      the two; ``deploy`` makes it ``DEPLOYED``; ``deploy_canary`` (when an earlier deployment
      exists) makes it ``CANARY``.
    * ``DEPLOYED``: the model serves all traffic. ``deploy(replace=True)`` keeps it ``DEPLOYED``,
      ``deploy_canary`` makes it ``CANARY``, training or tuning again makes it ``TRAINED`` or
      ``TUNED`` (the deployment keeps serving the earlier artifact), and ``undeploy`` returns it
      to the state of its last artifact (``TRAINED``, ``TUNED``, or ``UNTRAINED`` if it had none).
    * ``CANARY``: the model serves a share of the traffic beside the baseline.
      ``deploy_canary`` with a new share keeps it ``CANARY``; ``promote_canary`` and
      ``rollback_canary`` make it ``DEPLOYED``; ``undeploy`` behaves as from ``DEPLOYED``.

    A failed action leaves the state unchanged.
    """

    UNTRAINED = "untrained"
    TRAINED = "trained"
    TUNED = "tuned"
    DEPLOYED = "deployed"
    CANARY = "canary"
