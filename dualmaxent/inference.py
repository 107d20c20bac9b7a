"""Standard errors of theta*: the inverse of the observed Fisher information.

At the maximiser the Hessian of the *unpenalised* log-likelihood is minus the observed Fisher
information, so the asymptotic covariance of theta* is ``(-H)^{-1}`` in the free parameters (the
pivot gauge of :mod:`dualmaxent.params`: the pinned entries of the last class are fixed by the
gauge and have standard error 0). For the gaussian family the duality is stated at unit variance,
so the covariance is scaled by the residual variance ``s2 = RSS / (sum(w) - rank)``, as ordinary
least squares reports it (statsmodels' OLS ``bse``). Weights are frequency weights: a row of weight
2 counts as two observations.

No standard errors exist (and the reason is given) for a penalised fit (the penalty's curvature is
not information from the data, and the estimate is biased), for separated data (the likelihood has
no maximiser; theta* is at infinity), or when the solve did not converge. For a rank-deficient
design only the *estimable* entries have one: an entry of theta is identified exactly when its row
of the null space of ``X`` is zero (:mod:`dualmaxent.identifiability`); the others are NaN.

On the Dask engine the Hessian (and for the gaussian family the residual sum of squares) is one
more pass over the chunks; no rank pass is made there, so a rank-deficient design shows as a
singular information. Newton-CG never forms the Hessian, and on the engine none is formed for the
standard errors either (the note says so): at ten classes and m = 51 it costs as much as dozens of
iterations.

:func:`covariance` returns the whole matrix (laid out on theta's entries), not only its diagonal:
the standard errors of a contrast such as ``theta[:, c] - theta[:, r]`` (the report's reference
class, :mod:`dualmaxent.report`) need the covariances of the two columns too.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["covariance", "standard_errors", "std_err_of"]

#: A null-space row smaller than this (the basis is orthonormal) counts as zero: the entry is
#: estimable.
_ESTIMABLE_ATOL = 1e-10


def covariance(result) -> tuple[np.ndarray | None, str]:
    """``(cov, note)``: the asymptotic covariance of theta* of a
    :class:`~dualmaxent.results.DualResult`, ``(-H)^{-1}`` in the free parameters.

    Parameters
    ----------
    result : DualResult
        Solved by :func:`dualmaxent.solve_dual` (it keeps a reference to its objective).

    Returns
    -------
    cov : ndarray of shape (m q, m q), or None
        ``cov[i, j]`` is the covariance of ``theta.flat[i]`` and ``theta.flat[j]`` (theta's own
        C order: row ``r``, class ``c`` at ``r q + c``; ``q = k`` for the categorical family,
        1 otherwise, where it is statsmodels' ``cov_params()``). Zero on the rows and columns
        of the entries pinned by the gauge, NaN on those of entries that are not estimable
        (rank-deficient designs). The covariance of any linear function ``D theta.ravel()``,
        such as the differences of two classes' columns that :mod:`dualmaxent.report` prints,
        is ``D cov D^T``.
    note : str
        Why there is none, or which entries are NaN; empty when every entry has one.
    """
    obj = result._objective
    if result.penalty.active:  # (first: the reason whatever else is missing)
        return None, ("no standard errors for a penalised fit: the penalty biases theta, and its "
                      "curvature is not information from the data")
    if obj is None:
        return None, ("no standard errors: this result keeps no objective to form the Hessian "
                      "(the Dask engine's, one built by hand, or one pickled or copied with "
                      "copy.deepcopy before they were computed: read std_err first)")
    if result.forced is not None or result.attained is False:
        return None, ("no standard errors: the likelihood has no maximiser (separated data), so "
                      "theta* is at infinity")
    if not result.converged:
        return None, "no standard errors: the dual solve did not converge"
    on_engine = getattr(obj, "engine", None) is not None
    if on_engine and result.method == "newton-cg":
        return None, ("no standard errors: Newton-CG on the Dask engine never forms the Hessian, "
                      "and one would cost a pass of n p^2 flops (p free parameters); solve with "
                      "method='newton' or a sample in memory")
    beta = obj.beta(result.theta)
    if obj.curvature_dtype != np.float64:  # the solver's float32 shortcut: not for inference
        obj.curvature_dtype = np.float64
        obj.forget()
    info = -obj.hessian(beta)  # observed Fisher information in the free coordinates
    try:
        cov = scipy.linalg.cho_solve(scipy.linalg.cho_factor(info, lower=True),
                                     np.eye(len(info)))
    except np.linalg.LinAlgError:
        return None, "no standard errors: the observed information is singular"
    basis = getattr(obj, "basis", None)
    if basis is not None:  # rank-deficient design: back to the free entries of theta
        cov = basis @ cov @ basis.T
    # the rank pass of an in-memory solve; an engine makes none, and there a factored
    # information proves full rank
    ident = None if on_engine else obj.dataset.identifiability
    if obj.family.quadratic:  # unit variance in the duality: scale by the residual variance
        rss, wsum = obj.residual_sums(result.theta)
        dof = wsum - (obj.dataset.m if ident is None else ident.rank)
        if not dof > 0:
            return None, (f"no standard errors: the residual variance has {dof:g} degrees of "
                          "freedom (the weights' sum less the design's rank), so the fit "
                          "interpolates the data and leaves no noise to estimate")
        cov = cov * (rss / dof)
    params = obj.params
    # from the free parameters (class-major, params.free_flat) to theta's own C order
    full = np.zeros((params.free.size, params.free.size))
    full[np.ix_(params.free_flat, params.free_flat)] = cov
    order = np.arange(params.free.size).reshape(params.q, params.m).T.ravel()
    full = full[np.ix_(order, order)]
    note = ""
    if ident is not None and not ident.full_rank:
        unidentified = np.abs(ident.null_space).max(axis=1) > _ESTIMABLE_ATOL
        bad = np.repeat(unidentified, params.q)  # every class of an unidentified row
        full[bad, :] = np.nan
        full[:, bad] = np.nan
        names = [obj.dataset.feature_names[r] for r in np.flatnonzero(unidentified)]
        note = (f"no standard errors for {', '.join(names)}: not estimable, the columns of X are "
                f"linearly dependent ({'; '.join(ident.dependencies)})")
    return full, note


def std_err_of(cov: np.ndarray | None, shape: tuple) -> np.ndarray | None:
    """The standard errors ``sqrt(diag(cov))`` laid out in ``shape`` (theta's; None stays None).

    NaN stays NaN (an entry that is not estimable), and a variance that round-off made a little
    negative is 0.
    """
    if cov is None:
        return None
    var = np.diag(cov)
    return np.sqrt(np.where(np.isnan(var), np.nan, np.maximum(var, 0.0))).reshape(shape)


def standard_errors(result) -> tuple[np.ndarray | None, str]:
    """``(std_err, note)`` of a :class:`~dualmaxent.results.DualResult`.

    Parameters
    ----------
    result : DualResult
        Solved by :func:`dualmaxent.solve_dual` (it keeps a reference to its objective).

    Returns
    -------
    std_err : ndarray of the shape of ``result.theta``, or None
        The square roots of the diagonal of :func:`covariance`: NaN on entries that are not
        estimable (rank-deficient designs), 0 on the pinned entries.
    note : str
        Why there are none, or which entries are NaN; empty when every entry has one.
    """
    cov, note = covariance(result)
    return std_err_of(cov, np.shape(result.theta)), note
