"""Errors and warnings of dualmaxent, in one module under one base class each.

Errors are raised for bad input or impossible options; warnings are emitted (and recorded in the
result's ``status``/``message``) when a result exists but is doubtful.
"""

from __future__ import annotations

__all__ = [
    "DualMaxentError",
    "DataError",
    "DualMaxentWarning",
    "ConvergenceWarning",
    "InaccurateSolutionWarning",
    "SeparationWarning",
    "SingularHessianWarning",
    "TargetWarning",
    "CountTargetWarning",
    "ScaleWarning",
    "RankDeficiencyWarning",
]


class DualMaxentError(ValueError):
    """Base class of the errors dualmaxent raises for bad input or options."""


class DataError(DualMaxentError):
    """The data cannot be used: missing, malformed, non-finite, or too small."""


class DualMaxentWarning(UserWarning):
    """Base class of dualmaxent's warnings: a result exists but is doubtful."""


class ConvergenceWarning(DualMaxentWarning):
    """A solver stopped before reaching its tolerance."""


class InaccurateSolutionWarning(DualMaxentWarning):
    """A conic solver reported an inaccurate solution (e.g. CVXPY's ``optimal_inaccurate``)."""


class SeparationWarning(DualMaxentWarning):
    """The data are separated: the likelihood has no maximiser and theta* is at infinity."""


class SingularHessianWarning(DualMaxentWarning):
    """Newton's Hessian was singular; the solver fell back to a regularised step."""


class TargetWarning(DualMaxentWarning):
    """A numeric target taken as class labels looks like a measurement (non-integer values)."""


class CountTargetWarning(TargetWarning):
    """A target of many non-negative integers taken as class labels looks like counts (the
    Poisson family); the classifiers, whose targets are labels by definition, silence it."""


class ScaleWarning(DualMaxentWarning):
    """The features' sizes differ by so many orders of magnitude that the conic primal struggles."""


class RankDeficiencyWarning(DualMaxentWarning):
    """The columns of ``X`` are linearly dependent: theta is identified only modulo the null space
    of ``X``, and the minimum-norm maximiser is reported (:mod:`dualmaxent.identifiability`)."""
