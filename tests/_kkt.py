"""An independent KKT verifier for the tests, in the style of CVXPY's ``solver_test_helpers.py``.

:func:`dualmaxent.verify` is the code under test, so the tests must not trust its verdict. This
module recomputes every figure of a :class:`dualmaxent.Certificate` from its definition (the
module docstring of ``dualmaxent/verify.py``) with plain numpy and scipy, reading only the data
set's arrays ``X``, ``Y``, ``weights``, ``intercept`` and the family's name, and never calling a
function of dualmaxent. Symbols: ``w`` the weights, ``W = diag(w)``, ``eta = X theta``, ``R`` the
penalised rows of theta (every row but the intercept), ``B(mu) = X^T W (mu - Y)``:

* ``entropy`` ``H(mu) = -sum_j w_j A*(mu_j)``, nats; the primal objective subtracts
  ``||B_R||^2 / (2 lam)`` under L2;
* ``canonical_loglik`` ``l(theta) = sum_j w_j [<Y_j, eta_j> - A(eta_j)]``, ``penalty`` the
  dual's ``lam/2 ||theta_R||^2`` or ``lam ||theta_R||_1``, ``dual_objective = l - penalty``;
* the bracket of the projected point ``mu~``: ``lower_bound`` its primal objective,
  ``upper_bound = -dual objective``, ``duality_gap = upper - lower`` and ``relative_gap = |gap| /
  max(1, |upper|)``; ``mu~`` must be feasible: its balance residual, simplex residual and distance
  to the family's domain are recomputed too;
* ``primal_gap = |primal objective + dual objective| / max(1, |dual objective|)`` at CVXPY's point;
* ``balance_residual = max |B| / scale`` over the equality rows, for L1 also the excess of
  ``|B_R|`` over ``lam``; ``scale = 1 + max |X^T W Y|``;
* ``simplex_residual = max |P 1 - 1|`` (categorical), ``min_entry`` the point's distance from the domain's boundary (not for the
  gaussian family, whose means are unrestricted);
* ``dual_gradient``, the relative KKT residual of the dual at theta: ``G = X^T W (Y - mu(theta))``
  on the free entries of theta (categorical: the last class is pinned on the unpenalised rows),
  minus ``lam theta`` on ``R`` under L2, and under L1 the minimal-norm subgradient on ``R``
  (``G - lam sign(theta)`` where ``theta != 0``, ``max(|G| - lam, 0)`` where it is zero);
  divided by ``scale``;
* ``p_agreement = max |mu_p - mu(theta)|`` over the rows of positive weight, divided by ``1 + max
  |mu(theta)|`` for the Poisson and
  gaussian families; ``theta_agreement = max |theta_p - theta| / (1 + max |theta|)`` after both
  are moved to the pivot gauge (every row of a categorical theta under L1 alone, whose split of
  a row between the classes is not unique) and, for a rank-deficient design, projected on the
  row space of ``sqrt(W) X`` class by class (modulo the null space of ``X``).

Separated data (``forced`` entries, see ``dualmaxent/separation.py``): ``l`` becomes the reduced
likelihood ``l_red`` (the softmax over the free classes only; forced Bernoulli and Poisson
observations drop out), ``mu(theta)`` the reduced mean (zero on forced entries, ``Y`` on forced
observations), ``scale`` is taken over the *kept* observations (positive weight and a free entry
left: two free classes for the categorical family), and both thetas are projected on the row
space of the map ``theta -> s`` through which ``l_red`` sees theta before they are compared.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.special import expit, gammaln, logsumexp, xlogy

__all__ = ["ROUNDOFF", "TOLERANCES", "assert_kkt", "certificate_figures", "kkt_figures"]

#: What a certified optimum must satisfy, figure by figure (the defaults of :func:`assert_kkt`).
#: They mirror ``verify``'s default ``tol = 1e-6`` except the gap, which every solver pair here
#: closes to 1e-8 (the README's claim on the default data).
TOLERANCES = {
    "relative_gap": 1e-8,
    "balance_residual": 1e-6,
    "simplex_residual": 1e-6,
    "min_entry": 1e-6,  # min_entry >= -this
    "dual_gradient": 1e-6,
    "p_agreement": 1e-6,
    "theta_agreement": 1e-6,
}

#: How closely the certificate's own numbers must equal the recomputed ones: relative, with an
#: absolute floor for the figures that are themselves at round-off (``abs``, for the normalised
#: figures) and, for the figures in nats, a floor relative to the size of the log-likelihood
#: (``nats``: sums of n terms accumulate round-off in another order).
ROUNDOFF = {"rel": 1e-6, "abs": 1e-12, "nats": 1e-11}

#: The figures of the point (CVXPY's when it ran, else the projected one) and of the dual.
_POINT_FIGURES = ("entropy", "neg_loglik", "balance_residual", "simplex_residual", "min_entry",
                  "dual_gradient")
#: The cross-check with CVXPY (NaN when it did not run).
_CVXPY_FIGURES = ("primal_gap", "p_agreement", "theta_agreement")
#: The bracket of the projected point.
_BRACKET_FIGURES = ("lower_bound", "upper_bound", "duality_gap", "relative_gap")


def _family_name(dataset) -> str:
    family = dataset.family
    return getattr(family, "name", family)


def _penalised_rows(dataset, kind: str) -> np.ndarray:
    rows = np.full(dataset.X.shape[1], kind != "none")
    if dataset.intercept:
        rows[-1] = False
    return rows


def _log_partition(name: str, eta: np.ndarray) -> np.ndarray:
    """``A(eta_j)``, shape (n,); ``-inf`` entries of a categorical eta are excluded classes."""
    if name == "categorical":
        return logsumexp(eta, axis=1)
    if name == "bernoulli":
        return np.logaddexp(0.0, eta)
    if name == "poisson":
        return np.exp(eta)
    return 0.5 * eta**2


def _mean(name: str, eta: np.ndarray) -> np.ndarray:
    """``A'(eta)``: softmax, sigmoid, exp, identity."""
    if name == "categorical":
        return np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
    if name == "bernoulli":
        return expit(eta)
    if name == "poisson":
        return np.exp(eta)
    return eta


def _entropy(name: str, mu: np.ndarray, w: np.ndarray) -> float:
    """``H(mu) = -sum_j w_j A*(mu_j)``; mu is clipped to A*'s domain, whose violation is
    ``min_entry``'s business (CVXPY returns entries like -1e-13)."""
    if name == "categorical":
        p = np.clip(mu, 0.0, None)
        conj = xlogy(p, p).sum(axis=1)
    elif name == "bernoulli":
        p = np.clip(mu, 0.0, 1.0)
        conj = xlogy(p, p) + xlogy(1.0 - p, 1.0 - p)
    elif name == "poisson":
        p = np.clip(mu, 0.0, None)
        conj = xlogy(p, p) - p
    else:
        conj = 0.5 * mu**2
    return float(-np.dot(w, conj))


def _reported_loglik(name: str, Y, eta, w, canonical: float) -> float:
    """statsmodels' ``llf``: the canonical one plus ``-sum w log Y!`` (Poisson); the gaussian
    profiles the variance, ``-N/2 (log(2 pi RSS / N) + 1)``."""
    if name == "poisson":
        return canonical - float(np.dot(w, gammaln(Y + 1.0)))
    if name == "gaussian":
        N = float(w.sum())
        rss = float(np.dot(w, (Y - eta) ** 2))
        return -0.5 * N * (np.log(2 * np.pi * rss / N) + 1.0)
    return canonical


def _kept(dataset, forced) -> np.ndarray:
    """Observations of the reduced problem: positive weight and a free entry left."""
    active = dataset.weights > 0
    if forced is None:
        return active
    if forced.ndim == 2:
        return active & ((~forced).sum(axis=1) >= 2)
    return active & ~forced


def _identifiable_projection(dataset, forced) -> np.ndarray:
    """Orthogonal projector on the parameters ``l_red`` sees (pivot coordinates, class-major).

    ``l_red`` depends on theta only through ``x_j^T (theta_{y_j} - theta_i)`` over the free
    pairs of the kept rows (categorical, last class pinned) or ``x_j^T theta`` over the kept
    observations; the minimum-norm representative of theta is its projection on the row space
    of that linear map.
    """
    X, kept = dataset.X, _kept(dataset, forced)
    m = X.shape[1]
    if forced.ndim == 1:
        A = X[kept]
    else:
        k = dataset.Y.shape[1]
        rows = []
        for j in np.flatnonzero(kept):
            own = int(np.argmax(dataset.Y[j]))
            for i in np.flatnonzero(~forced[j]):
                if i == own:
                    continue
                row = np.zeros((k, m))
                row[own] += X[j]
                row[i] -= X[j]
                rows.append(row[:-1].ravel())  # drop the pinned last class
        A = np.array(rows).reshape(-1, (k - 1) * m)
    if A.size == 0:
        return np.zeros((A.shape[1], A.shape[1]))
    Q = scipy.linalg.orth(A.T)
    return Q @ Q.T


def _project(theta: np.ndarray, projector: np.ndarray) -> np.ndarray:
    t = np.asarray(theta, dtype=np.float64)
    if t.ndim == 1:
        return projector @ t
    flat = projector @ t[:, :-1].T.ravel()  # class-major pivot coordinates
    out = np.zeros_like(t)
    out[:, :-1] = flat.reshape(t.shape[1] - 1, -1).T
    return out


def kkt_figures(dataset, mu, theta, penalty=None, forced=None, theta_p=None) -> dict:
    """Every figure of the certificate, recomputed from its definition.

    Parameters
    ----------
    dataset : Dataset
        Only ``X`` (n, m), ``Y`` (n, k) or (n,), ``weights`` (n,), ``intercept`` and the family's
        name are read.
    mu : ndarray of shape (n, k) or (n,)
        The primal point (CVXPY's optimum).
    theta : ndarray of shape (m, k) or (m,)
        The dual point.
    penalty : Penalty or None
        Read through ``kind`` and ``lam``.
    forced : ndarray of bool of the shape of ``Y``, or None
        Forced entries of separated data; then the reduced problem's definitions apply.
    theta_p : ndarray of shape (m, k) or (m,), optional
        The primal's multipliers converted to theta, for ``theta_agreement`` (NaN without it).

    Returns
    -------
    dict
        The names of :class:`dualmaxent.Certificate`'s figures, plus ``primal_objective``,
        ``dual_objective``, ``canonical_loglik``, ``penalty`` and ``scale``.
    """
    name = _family_name(dataset)
    X, Y, w = (np.asarray(a, dtype=np.float64) for a in (dataset.X, dataset.Y, dataset.weights))
    mu = np.asarray(mu, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    kind = getattr(penalty, "kind", "none") if penalty is not None else "none"
    lam = float(getattr(penalty, "lam", 0.0)) if kind != "none" else 0.0
    if forced is not None:
        forced = np.asarray(forced, dtype=bool)
        if not forced.any():
            forced = None
    n, m = X.shape
    Y2 = Y.reshape(n, -1)
    kept = _kept(dataset, forced)
    scale = 1.0 + float(np.abs(X[kept].T @ (w[kept, None] * Y2[kept])).max(initial=0.0))
    R = _penalised_rows(dataset, kind)

    # the dual: l (or l_red) at theta, its mean, the penalty
    eta = X @ theta
    if forced is None:
        mu_d = _mean(name, eta)
        own = (Y * eta).sum(axis=1) if Y.ndim == 2 else Y * eta
        canonical = float(np.dot(w, own - _log_partition(name, eta)))
    elif forced.ndim == 2:  # the softmax over the free classes only
        eta_free = np.where(forced, -np.inf, eta)
        mu_d = _mean(name, eta_free)
        own = (Y * np.where(forced, 0.0, eta)).sum(axis=1)
        canonical = float(np.dot(w, own - _log_partition(name, eta_free)))
    else:  # forced observations have mu = Y and contribute 0
        mu_d = np.where(forced, Y, _mean(name, eta))
        free = ~forced
        canonical = float(np.dot(w[free], Y[free] * eta[free] - _log_partition(name, eta[free])))
    loglik = _reported_loglik(name, Y, eta, w, canonical)
    theta2 = theta.reshape(m, -1)
    if kind == "l2":
        pen_value = 0.5 * lam * float(np.sum(theta2[R] ** 2))
    elif kind == "l1":
        pen_value = lam * float(np.abs(theta2[R]).sum())
    else:
        pen_value = 0.0
    dual_objective = canonical - pen_value

    # the primal: entropy, objective, balance, simplex, sign
    entropy = _entropy(name, mu, w)
    B = X.T @ ((mu - Y).reshape(n, -1) * w[:, None])  # (m, q)
    primal_objective = entropy
    if kind == "l2":
        primal_objective -= float(np.sum(B[R] ** 2)) / (2.0 * lam)
    eq = float(np.abs(B[~R]).max()) if (~R).any() else 0.0
    if kind == "l1" and R.any():
        eq = max(eq, float(np.maximum(np.abs(B[R]) - lam, 0.0).max()))
    gap = primal_objective + dual_objective

    # the dual's KKT residual on its free entries
    G = X.T @ ((Y - mu_d).reshape(n, -1) * w[:, None])
    if kind == "l2":
        G[R] -= lam * theta2[R]
    elif kind == "l1":
        gR, tR = G[R], theta2[R]
        G[R] = np.where(tR != 0, gR - lam * np.sign(tR), np.maximum(np.abs(gR) - lam, 0.0))
    free = np.ones_like(G, dtype=bool)
    if name == "categorical":
        free[~R, -1] = False
    dual_gradient = float(np.abs(G[free]).max(initial=0.0)) / scale

    on = w > 0  # (a row of weight 0 is in neither problem: its mean is anything)
    diff = float(np.abs(mu[on] - mu_d[on]).max(initial=0.0))
    if name in ("poisson", "gaussian"):
        diff /= 1.0 + float(np.abs(mu_d[on]).max(initial=0.0))
    if theta_p is None:
        theta_agreement = float("nan")
    else:
        tp, td = np.asarray(theta_p, dtype=np.float64), theta
        if forced is not None:
            projector = _identifiable_projection(dataset, forced)
            tp, td = _project(tp, projector), _project(td, projector)
        else:
            every = name == "categorical" and kind == "l1"  # (L1 alone: the differences)
            tp, td = _row_space(dataset, tp, R, every), _row_space(dataset, td, R, every)
        theta_agreement = float(np.abs(tp - td).max() / (1.0 + np.abs(td).max()))
    return {
        "entropy": entropy,
        "neg_loglik": -loglik,
        "primal_gap": abs(gap) / max(1.0, abs(dual_objective)),
        "balance_residual": eq / scale,
        "simplex_residual": float(np.abs(mu.sum(axis=1) - 1.0).max()) if mu.ndim == 2 else 0.0,
        # the point's distance from its domain's boundary (inf for the gaussian's unbounded mean)
        "min_entry": (np.inf if name == "gaussian" else float(mu.min()) if name != "bernoulli"
                      else float(min(mu.min(), (1.0 - mu).min()))),
        "dual_gradient": dual_gradient,
        "p_agreement": diff,
        "theta_agreement": theta_agreement,
        "primal_objective": primal_objective,
        "dual_objective": dual_objective,
        "canonical_loglik": canonical,
        "penalty": pen_value,
        "scale": scale,
    }


def _row_space(dataset, theta, R, every_row: bool = False) -> np.ndarray:
    """Theta in the pivot gauge, each column projected on the row space of ``sqrt(W) X``.

    The projection applies only without a penalty (a penalty identifies theta by itself, but
    for the categorical family under L1 alone, ``every_row``: its penalty is flat in how a row
    is split between an even number of classes, so every row is moved to the pivot gauge).
    """
    t = np.array(theta, dtype=np.float64)
    if _family_name(dataset) == "categorical":
        rows = np.ones_like(R) if every_row else ~R
        t[rows] -= t[rows, -1:]
    if R.any():
        return t
    w = np.asarray(dataset.weights, dtype=np.float64)
    A = np.sqrt(w[w > 0])[:, None] * np.asarray(dataset.X)[w > 0]
    N = scipy.linalg.null_space(A, rcond=1e-10)
    if N.shape[1] == 0:
        return t
    return t - N @ (N.T @ t)


def bracket_figures(dataset, mu_t, theta, penalty=None, forced=None) -> dict:
    """The bracket of weak duality at the projected point ``mu~`` and its feasibility.

    Returns ``lower_bound``, ``upper_bound``, ``duality_gap``, ``relative_gap`` and the point's
    ``balance_residual``, ``simplex_residual`` and ``domain`` (its distance inside the family's
    domain: negative when it leaves it), all from the definitions.
    """
    fig = kkt_figures(dataset, mu_t, theta, penalty, forced)
    # the upper bound is the full problem's objective at theta, whatever is forced: every
    # finite theta's -l(theta) bounds the optimum from above
    full = fig if forced is None else kkt_figures(dataset, mu_t, theta, penalty, None)
    upper = -full["dual_objective"]
    lower = fig["primal_objective"]
    name = _family_name(dataset)
    mu_t = np.asarray(mu_t, dtype=np.float64)
    positive = np.asarray(dataset.weights) > 0
    inside = mu_t[positive]
    if forced is not None:  # forced entries and observations sit exactly on their bound
        inside = inside[~np.asarray(forced, dtype=bool)[positive]]
    domain = {"categorical": inside.min(initial=np.inf),
              "bernoulli": np.minimum(inside, 1 - inside).min(initial=np.inf),
              "poisson": inside.min(initial=np.inf), "gaussian": np.inf}[name]
    return {"lower_bound": lower, "upper_bound": upper, "duality_gap": upper - lower,
            "relative_gap": abs(upper - lower) / max(1.0, abs(upper)),
            "balance_residual": fig["balance_residual"],
            "simplex_residual": fig["simplex_residual"], "domain": float(domain),
            "entropy": fig["entropy"]}


def certificate_figures(dataset, cert) -> dict:
    """:func:`kkt_figures` at the certificate's own point (CVXPY's when it ran, else the
    projected one) and dual, and :func:`bracket_figures` at its projected point (``bracket``)."""
    separation = cert.separation
    forced = separation.forced if separation is not None and not cert.attained else None
    point = cert.primal.mu if cert.primal is not None else cert.projected.mu
    theta_p = cert.primal.theta if cert.primal is not None else None
    fig = kkt_figures(dataset, point, cert.theta, cert.penalty, forced, theta_p)
    if forced is not None:  # the objective at theta is the full likelihood's (bracket_figures)
        full = kkt_figures(dataset, point, cert.theta, cert.penalty, None)
        for key in ("dual_objective", "canonical_loglik", "neg_loglik", "penalty"):
            fig[key] = full[key]
        fig["primal_gap"] = (abs(fig["primal_objective"] + fig["dual_objective"])
                             / max(1.0, abs(fig["dual_objective"])))
    if cert.primal is None:
        fig["primal_gap"] = fig["p_agreement"] = float("nan")
    fig["bracket"] = bracket_figures(dataset, cert.projected.mu, cert.theta, cert.penalty,
                                     forced)
    return fig


def assert_kkt(dataset, cert, tolerances=None, roundoff=None) -> dict:
    """Assert that (a) the recomputed figures are within ``tolerances`` and (b) the certificate's
    own numbers equal the recomputed ones to ``roundoff``; return the recomputed figures.

    ``tolerances`` updates :data:`TOLERANCES` (a figure mapped to None is not bounded, e.g. a
    ``theta_agreement`` where CVXPY's multipliers are known to be loose); ``roundoff`` updates
    :data:`ROUNDOFF`. ``relative_gap`` bounds the bracket of the projected point, and also
    CVXPY's ``primal_gap`` when CVXPY ran; the projected point must be feasible (balance and
    simplex residuals within round-off, inside the family's domain).
    """
    tol = {**TOLERANCES, **(tolerances or {})}
    eps = {**ROUNDOFF, **(roundoff or {})}
    fig = certificate_figures(dataset, cert)
    br = fig["bracket"]
    cvxpy = cert.primal is not None
    # (a) the optimality conditions, from the definitions
    for key, bound in tol.items():
        if bound is None or (key in ("theta_agreement", "p_agreement") and not cvxpy):
            continue
        if key == "theta_agreement" and cert.primal.theta is None:
            continue
        if key == "relative_gap":
            assert br["relative_gap"] <= bound, f"bracket {br['relative_gap']:.2e} > {bound:g}"
            if cvxpy:
                assert fig["primal_gap"] <= bound, f"primal_gap {fig['primal_gap']:.2e} > {bound:g}"
            continue
        value = fig[key]
        if key == "min_entry":
            assert value >= -bound, f"min_entry {value:.2e} < -{bound:g}"
        else:
            assert value <= bound, f"{key} {value:.2e} exceeds {bound:g}"
    assert br["duality_gap"] >= -cert.roundoff, "weak duality violated beyond round-off"
    assert br["balance_residual"] <= 1e-10 and br["simplex_residual"] <= 1e-10
    assert br["domain"] >= 0, f"the projected point leaves the domain ({br['domain']:.1e})"
    # (b) the certificate reports the same numbers
    size = max(1.0, abs(fig["dual_objective"]))
    nats = {"entropy", "neg_loglik", "lower_bound", "upper_bound", "duality_gap",
            "primal_objective", "dual_objective", "canonical_loglik", "penalty"}
    reported = {key: (getattr(cert, key), fig[key]) for key in _POINT_FIGURES + _CVXPY_FIGURES}
    reported.update({key: (getattr(cert, key), br[key]) for key in _BRACKET_FIGURES})
    reported.update({key: (cert.extra[key], fig[key]) for key in ("dual_objective",
                                                                  "canonical_loglik")})
    reported["primal_objective"] = (cert.extra["primal_objective"],
                                    fig["primal_objective"] if cvxpy else br["lower_bound"])
    reported["penalty"] = (cert.extra["canonical_loglik"] - cert.extra["dual_objective"],
                           fig["penalty"])
    for key, (value, expected) in reported.items():
        floor = eps["nats"] * size if key in nats else eps["abs"]
        if key in ("relative_gap", "primal_gap"):
            floor = eps["nats"]
        if np.isnan(expected):
            assert np.isnan(value), f"{key}: certificate {value!r}, recomputed NaN"
            continue
        if np.isinf(expected):  # (the gaussian's unbounded mean: no boundary to be near)
            assert value == expected, f"{key}: certificate {value!r} != recomputed {expected!r}"
            continue
        assert abs(value - expected) <= floor + eps["rel"] * abs(expected), (
            f"{key}: certificate {value!r} != recomputed {expected!r}")
    return fig
