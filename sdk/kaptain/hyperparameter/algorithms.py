"""The hyperparameter search algorithms Katib offers."""

from __future__ import annotations

from enum import Enum

from kaptain.exceptions import UnsupportedAlgorithmException

__all__ = ["Algorithm"]


class Algorithm(Enum):
    """A Katib search algorithm; each value is Katib's ``algorithmName``.

    ``hyperband`` needs a resource hyperparameter and settings (see Katib's documentation), and
    ``grid`` needs a ``step`` on continuous domains; the others work on any domain.
    """

    RANDOM = "random"
    GRID = "grid"
    BAYESIAN_OPTIMIZATION = "bayesianoptimization"
    TPE = "tpe"
    MULTIVARIATE_TPE = "multivariate-tpe"
    CMAES = "cmaes"
    SOBOL = "sobol"
    HYPERBAND = "hyperband"

    @staticmethod
    def of(algorithm: str | None) -> Algorithm | None:
        """Look an algorithm up by name.

        Matching ignores case and surrounding spaces, and accepts the member name as well as
        Katib's name (``"bayesianoptimization"``, ``"BAYESIAN_OPTIMIZATION"``). An unknown name
        raises rather than returning None, so that a typo never silently falls back to a default.

        Args:
            algorithm: The algorithm's name, an :class:`Algorithm`, or None.

        Returns:
            The algorithm, or None when ``algorithm`` is None.

        Raises:
            UnsupportedAlgorithmException: The name is not one of Katib's algorithms.
        """
        if algorithm is None:
            return None
        if isinstance(algorithm, Algorithm):
            return algorithm
        if not isinstance(algorithm, str):
            raise UnsupportedAlgorithmException(
                f"algorithm must be a string naming a Katib algorithm (got {type(algorithm).__name__})"
            )
        key = algorithm.strip().lower()
        for member in Algorithm:
            if key in (member.value, member.name.lower()):
                return member
        supported = ", ".join(member.value for member in Algorithm)
        raise UnsupportedAlgorithmException(
            f"algorithm {algorithm!r} is not supported; use one of: {supported}"
        )
