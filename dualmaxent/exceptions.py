"""Errors and warnings of dualmaxent, in one module under one base class each.

Errors are raised for bad input or impossible options; warnings are emitted (and recorded in the
result's ``status``/``message``) when a result exists but is doubtful.
"""

from __future__ import annotations

import sys
import threading

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
    "SeparationLPError",
    "user_stacklevel",
]


#: Modules whose frames a warning skips to name the user's line: dualmaxent's own, and
#: scikit-learn's (its wrappers around an estimator's ``fit``, a ``GridSearchCV`` fitting).
_INTERNAL = ("dualmaxent.", "sklearn.")


def user_stacklevel() -> int:
    """The ``stacklevel`` of :func:`warnings.warn` that names the first frame outside
    dualmaxent and scikit-learn, counted from the function that calls it (``1``): a warning
    about the user's data then points at the user's line, whichever of the readers
    (``from_arrays``, ``from_frame``, ``from_csv``, an estimator's ``fit``) led to it, however
    deep. (Python 3.12's ``skip_file_prefixes`` does the same; 3.11 is supported.) A fixed
    level named the caller's caller of ``from_arrays``, ``sys:1`` from a script's top level."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_globals.get("__name__", "") + ".").startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    return level


class DualMaxentError(ValueError):
    """Base class of the errors dualmaxent raises for bad input or options."""


class SeparationLPError(DualMaxentError):
    """The separation LP's solver (HiGHS) did not finish: the existence of the likelihood's
    maximiser is not decided (:mod:`dualmaxent.separation`; nearly collinear columns, whose
    LP is numerically degenerate, are the usual cause)."""


class DataError(DualMaxentError):
    """The data cannot be used: missing, malformed, non-finite, or too small."""


class DualMaxentWarning(UserWarning):
    """Base class of dualmaxent's warnings: a result exists but is doubtful."""


def __getattr__(name):
    # ConvergenceWarning is made on first use, not at import: with scikit-learn installed it
    # subclasses sklearn.exceptions.ConvergenceWarning, and importing that module runs
    # sklearn/__init__ (sklearn.base and its dependencies), measured at 1.5 s, three times
    # what `import dualmaxent` costs without it
    if name == "ConvergenceWarning":
        with _LOCK:
            if "ConvergenceWarning" not in globals():
                globals()["ConvergenceWarning"] = _convergence_warning()
        return globals()["ConvergenceWarning"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LOCK = threading.Lock()


def _convergence_warning() -> type:
    """The class :class:`ConvergenceWarning`, with scikit-learn's as a second base class when
    scikit-learn is installed (it stays optional: without it the class has our base only)."""
    try:
        from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
        bases = (SklearnConvergenceWarning,)
    except ImportError:
        bases = ()

    class ConvergenceWarning(DualMaxentWarning, *bases):
        """A solver stopped before reaching its tolerance.

        When scikit-learn is installed this is also a subclass of
        ``sklearn.exceptions.ConvergenceWarning``, so the filters users already have for
        scikit-learn's fits (``warnings.filterwarnings("ignore", category=ConvergenceWarning)``,
        pytest's ``filterwarnings``) catch ours too.
        """

    ConvergenceWarning.__qualname__ = "ConvergenceWarning"  # pickled by its module's name
    return ConvergenceWarning


class InaccurateSolutionWarning(DualMaxentWarning):
    """A conic solver reported an inaccurate solution (e.g. CVXPY's ``optimal_inaccurate``)."""


class SeparationWarning(DualMaxentWarning):
    """The data are separated: the likelihood has no maximiser and theta* is at infinity.

    statsmodels' equivalent is ``statsmodels.tools.sm_exceptions.PerfectSeparationWarning``
    (``PerfectSeparationError`` in its older releases, which raised instead of warning); ours is
    no subclass of it, so that statsmodels stays optional. Unlike statsmodels, dualmaxent
    still certifies the max-entropy optimum, which exists for separated data.
    """


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
