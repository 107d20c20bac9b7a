"""The bracket along a dual solve: the checker at every iterate (``dualmaxent verify --trace``).

A solver's iterates ``theta_0, theta_1, ...`` are recorded as the solve runs
(``solve_dual(callback=...)``, which only observes: the iterates are those of a solve without
it), and :func:`dualmaxent.certify` brackets the optimum at each:

    lower_t <= OPT <= upper_t,

``upper_t`` the dual objective at ``theta_t`` (``-l(theta_t)`` plus the penalty) and ``lower_t``
the primal objective at the checker's feasible point built from ``theta_t`` (the relaxed
objective under L2 and the elastic net). Both are proved bounds at *every* iterate, far from
the optimum too, up to the certificate's round-off budget: the width ``upper_t - lower_t`` is a
guaranteed bound on how far ``theta_t`` is from the optimum, and it closes as the solver
converges. On separated data the optimum is the likelihood's supremum (:mod:`dualmaxent.certify`).

The figure ``figures/bracket.png`` (:func:`dualmaxent.figures.fig_bracket`) draws the width
against the iteration for each solver.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .certify import DEFAULT_TOL, certify
from .dual import solve_dual
from .exceptions import DualMaxentWarning
from .params import make_penalty
from .results import DualResult, Penalty

__all__ = ["BracketTrace", "trace_bracket"]


@dataclass(frozen=True, eq=False)
class BracketTrace:
    """The certified bracket at the iterates of one dual solve.

    Attributes
    ----------
    method : str
        The dual method that ran (``auto`` resolved).
    iteration : ndarray of int, shape (T,)
        Which iterates were certified (0 is the start); every one unless :func:`trace_bracket`
        was asked for fewer.
    lower_bound, upper_bound : ndarray of shape (T,)
        The checker's bracket at each (:attr:`dualmaxent.Certificate.lower_bound`,
        :attr:`~dualmaxent.Certificate.upper_bound`).
    roundoff : ndarray of shape (T,)
        Its round-off budget: ``lower_t - roundoff_t <= OPT <= upper_t + roundoff_t`` is what is
        proved.
    relative_gap : ndarray of shape (T,)
    theta : list of ndarray
        The certified iterates.
    dual : DualResult
        The solve (its ``history`` has one row per iterate).
    penalty : Penalty
    """

    method: str
    iteration: np.ndarray
    lower_bound: np.ndarray
    upper_bound: np.ndarray
    roundoff: np.ndarray
    relative_gap: np.ndarray
    theta: list
    dual: DualResult
    penalty: Penalty

    @property
    def duality_gap(self) -> np.ndarray:
        """``upper_t - lower_t``: a proved bound on the distance of ``theta_t`` from the
        optimum (plus ``roundoff_t``)."""
        return self.upper_bound - self.lower_bound


def trace_bracket(dataset, method: str = "auto", *, l2: float | None = None,
                  l1: float | None = None, l1_ratio: float | None = None,
                  penalty: Penalty | None = None, tol: float = DEFAULT_TOL,
                  dual_tol: float | None = None, max_iter: int | None = None,
                  max_points: int | None = None, separation=None) -> BracketTrace:
    """Solve the dual and certify the bracket at its iterates.

    Parameters
    ----------
    dataset : Dataset
    method : str, default "auto"
        A method of :func:`dualmaxent.solve_dual`.
    l2, l1, l1_ratio, penalty
        The penalty (:func:`dualmaxent.params.make_penalty`).
    tol : float, default 1e-6
        The certificate's tolerance (it does not change the bounds, only the verdicts).
    dual_tol, max_iter : optional
        The solve's tolerance and iteration cap (defaults: the method's own).
    max_points : int, optional
        Certify at most this many iterates: the first and the last, and a selection evenly
        spaced in ``log(1 + iteration)`` between them (None: every iterate).
    separation : Separation, optional
        The separation LP's outcome on ``dataset``, when at hand; otherwise it is computed once,
        at the first iterate that needs it, and reused.

    Returns
    -------
    BracketTrace
    """
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty, l1_ratio=l1_ratio)
    thetas: list = []
    with warnings.catch_warnings():
        # a solve that does not converge, or separated data, is part of what the trace shows
        warnings.simplefilter("ignore", DualMaxentWarning)
        dual = solve_dual(dataset, method=method, tol=dual_tol, max_iter=max_iter,
                          penalty=penalty, callback=thetas.append)
    chosen = _chosen(len(thetas), max_points)
    lower, upper, roundoff, rel = [], [], [], []
    for t in chosen:
        cert = certify(dataset, thetas[t], penalty=penalty, tol=tol,
                       source=f"iterate {t} of {dual.method}", separation=separation)
        if separation is None and cert.separation is not None:
            separation = cert.separation  # the LP depends on the data alone: once
        lower.append(cert.lower_bound)
        upper.append(cert.upper_bound)
        roundoff.append(cert.roundoff)
        rel.append(cert.relative_gap)
    return BracketTrace(method=dual.method, iteration=np.asarray(chosen, dtype=int),
                        lower_bound=np.array(lower), upper_bound=np.array(upper),
                        roundoff=np.array(roundoff), relative_gap=np.array(rel),
                        theta=[thetas[t] for t in chosen], dual=dual, penalty=penalty)


def _chosen(count: int, max_points: int | None) -> list[int]:
    """The iterates to certify: all, or ``max_points`` of them spread in ``log(1 + t)``."""
    if max_points is None or count <= max_points:
        return list(range(count))
    picks = np.unique(np.round(np.expm1(np.linspace(0.0, np.log(count), max(max_points, 2)))))
    picks = np.clip(picks.astype(int), 0, count - 1)
    return sorted(set(picks.tolist()) | {0, count - 1})
