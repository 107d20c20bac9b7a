"""The dual problem: maximise the (penalised) log-likelihood numerically with numpy and scipy.

Conventions
-----------
* Sign: we *maximise* ``l(theta) - penalty(theta)``; every gradient and Hessian below is of that
  objective (the Hessian is negative semidefinite).
* Scale: sums over observations, weighted by the frequency weights ``w``, never means; nats.
* Shapes: ``theta`` is (m, k) for the categorical family, one column per class, and (m,) for the
  one-parameter families; ``eta = X @ theta``.
* Gauge (categorical): ``softmax(eta)`` does not change when one vector ``c`` is added to every
  column of ``theta`` (information-theory note, footnote 2). Every solver pins the last class:
  ``theta[r, k-1] = 0`` on each *unpenalised* row ``r`` (Newton note, pivot parameterisation).
  Penalised rows stay free in all ``k`` columns, because the penalty fixes their gauge itself
  (at the optimum their sum over classes is zero).
* Flattening: the free entries of ``theta`` are packed class by class (``theta.T`` in C order).
* Penalties never touch the intercept row: L2 subtracts ``(lam / 2) sum theta_r^2`` and L1
  subtracts ``lam sum |theta_r|`` over the penalised rows ``r``.
* Convergence is judged by the relative dual gradient ``max |g| / (1 + max |X^T W Y|)``, the
  balance residual at theta (for L1 the minimal-norm subgradient), never by the change in theta.

Methods: ``newton`` (exact Hessian, Cholesky, backtracking line search), ``lbfgs`` (scipy's
L-BFGS-B; for L1 on the split ``theta = u - v``, ``u, v >= 0``), ``gradient`` (plain gradient
ascent with backtracking, for teaching), ``qr`` (gaussian only: least squares by an orthogonal
factorisation, never the normal equations) and ``auto``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.linalg
import scipy.optimize

from .data import Dataset
from .exceptions import ConvergenceWarning, DualMaxentError, SingularHessianWarning
from .families import get_family
from .results import DualResult, Penalty, make_penalty

__all__ = ["DualObjective", "solve_dual", "METHODS", "DEFAULT_TOLS", "AUTO_NEWTON_MAX_PARAMS"]

METHODS = ("auto", "newton", "lbfgs", "gradient", "qr")

#: Default target relative dual gradient per method (see :func:`solve_dual`).
DEFAULT_TOLS = {"newton": 1e-10, "qr": 1e-10, "lbfgs": 1e-8, "gradient": 1e-6}

#: ``auto`` uses Newton while the number of free parameters is at most this (Hessian <= 2 MB).
AUTO_NEWTON_MAX_PARAMS = 500


class DualObjective:
    """The penalised log-likelihood of a data set as a function of the free entries of theta.

    Parameters
    ----------
    dataset : Dataset
    penalty : Penalty, optional

    Notes
    -----
    For the categorical family the gradient of ``l`` is ``X^T W (Y - P)`` (the balance
    equations) and the Hessian block of classes ``a, b`` is
    ``-X^T diag(w p_a (delta_ab - p_b)) X`` (the Newton note, with its lost minus sign and its
    ``X^T W_ab X`` restored). For a one-parameter family the Hessian is ``-X^T diag(w A''(eta)) X``.
    """

    def __init__(self, dataset: Dataset, penalty: Penalty | None = None):
        self.dataset = dataset
        self.family = get_family(dataset.family)
        self.penalty = penalty if penalty is not None else Penalty()
        self.X = dataset.X
        self.Y = dataset.Y
        self.w = dataset.weights
        m = dataset.m
        self.penalized_rows = np.zeros(m, dtype=bool)
        if self.penalty.active:
            self.penalized_rows[:] = True
            if dataset.intercept:
                self.penalized_rows[-1] = False
        q = dataset.k if self.family.multiclass else 1
        self.q = q
        free = np.ones((m, q), dtype=bool)
        if self.family.multiclass:
            free[~self.penalized_rows, q - 1] = False
        self.free = free
        # class-major flat index of each free entry (theta.T in C order)
        self._free_flat = np.flatnonzero(free.T.ravel())
        self.n_params = self._free_flat.size
        WY = self.w[:, None] * (self.Y if self.Y.ndim == 2 else self.Y[:, None])
        self.XtWY = self.X.T @ WY  # (m, q)
        self.scale = 1.0 + float(np.abs(self.XtWY).max())

    # -- packing -----------------------------------------------------------------------------
    def theta(self, beta: np.ndarray) -> np.ndarray:
        """Full theta of shape (m, k) or (m,) from the free parameters ``beta``."""
        flat = np.zeros(self.free.size)
        flat[self._free_flat] = beta
        full = flat.reshape(self.q, -1).T
        return full if self.family.multiclass else full[:, 0]

    def beta(self, theta: np.ndarray) -> np.ndarray:
        """Free parameters of ``theta`` after moving it to the pinned gauge."""
        t = np.asarray(theta, dtype=np.float64).reshape(self.free.shape[0], self.q)
        t = self.gauge_fix(t if self.family.multiclass else t[:, 0]).reshape(-1, self.q)
        return t.T.ravel()[self._free_flat]

    def gauge_fix(self, theta: np.ndarray) -> np.ndarray:
        """Move theta to the reported gauge (last class zero on unpenalised rows)."""
        if not self.family.multiclass:
            return np.array(theta, dtype=np.float64)
        t = np.array(theta, dtype=np.float64)
        rows = ~self.penalized_rows
        t[rows] -= t[rows, -1:]
        return t

    # -- values --------------------------------------------------------------------------------
    def eta(self, beta):
        return self.X @ self.theta(beta)

    def penalty_value(self, theta) -> float:
        if not self.penalty.active:
            return 0.0
        tp = np.asarray(theta)[self.penalized_rows]
        if self.penalty.kind == "l2":
            return 0.5 * self.penalty.lam * float(np.sum(tp**2))
        return self.penalty.lam * float(np.sum(np.abs(tp)))

    def value(self, beta) -> float:
        """The objective ``l(theta) - penalty(theta)``."""
        theta = self.theta(beta)
        return self.family.canonical_loglik(self.Y, self.X @ theta, self.w) - self.penalty_value(
            theta)

    def smooth_value_grad(self, beta):
        """Value and gradient of ``l - L2 penalty`` (the L1 term is left to the solver)."""
        theta = self.theta(beta)
        eta = self.X @ theta
        value = self.family.canonical_loglik(self.Y, eta, self.w)
        R = self.w[:, None] * ((self.Y - self.family.mean(eta)).reshape(len(eta), -1))
        G = self.X.T @ R  # (m, q): the balance equations X^T W (Y - mu)
        if self.penalty.kind == "l2":
            T = theta.reshape(-1, self.q)
            value -= 0.5 * self.penalty.lam * float(np.sum(T[self.penalized_rows] ** 2))
            G = G - self.penalty.lam * T * self.penalized_rows[:, None]
        return value, G.T.ravel()[self._free_flat]

    def full_gradient(self, theta) -> np.ndarray:
        """Gradient of ``l`` alone with respect to every entry of theta, shape like ``self.free``."""
        eta = self.X @ theta
        R = self.w[:, None] * ((self.Y - self.family.mean(eta)).reshape(len(eta), -1))
        return self.X.T @ R

    def hessian(self, beta) -> np.ndarray:
        """Hessian of the smooth objective in the free parameters, shape (p, p)."""
        theta = self.theta(beta)
        eta = self.X @ theta
        X, w, m, q = self.X, self.w, self.X.shape[1], self.q
        if self.family.multiclass:
            P = self.family.mean(eta)
            H = np.empty((q * m, q * m))
            for a in range(q):
                for b in range(a, q):
                    d = w * P[:, a] * ((a == b) - P[:, b])
                    block = -(X.T @ (d[:, None] * X))
                    H[a * m:(a + 1) * m, b * m:(b + 1) * m] = block
                    if b != a:
                        H[b * m:(b + 1) * m, a * m:(a + 1) * m] = block.T
        else:
            d = w * self.family.variance(eta)
            H = -(X.T @ (d[:, None] * X))
        if self.penalty.kind == "l2":
            diag = np.tile(self.penalized_rows, q).astype(float) * self.penalty.lam
            H[np.diag_indices_from(H)] -= diag
        idx = self._free_flat
        return H[np.ix_(idx, idx)]

    def kkt_residual(self, beta, grad=None) -> float:
        """Relative KKT residual of the dual at ``beta`` (see the module docstring)."""
        if grad is None:
            _, grad = self.smooth_value_grad(beta)
        g = np.array(grad)
        if self.penalty.kind == "l1":
            pen = np.tile(self.penalized_rows, self.q)[self._free_flat]
            lam = self.penalty.lam
            b = np.asarray(beta)
            gp = g[pen]
            bp = b[pen]
            g[pen] = np.where(bp != 0, gp - lam * np.sign(bp), np.maximum(np.abs(gp) - lam, 0.0))
        return float(np.abs(g).max() / self.scale) if g.size else 0.0

    def start(self) -> np.ndarray:
        """A starting point: zeros, with the intercept at the marginal (weighted) fit."""
        theta = np.zeros(self.free.shape) if self.family.multiclass else np.zeros(self.free.shape[0])
        if self.dataset.intercept:
            Y, w = self.Y, self.w
            if self.family.name == "categorical":
                freq = (w @ Y) / w.sum()
                freq = np.clip(freq, 1e-12, None)
                theta[-1] = np.log(freq) - np.log(freq[-1])
            elif self.family.name == "bernoulli":
                p = np.clip(np.dot(w, Y) / w.sum(), 1e-12, 1 - 1e-12)
                theta[-1] = np.log(p / (1 - p))
            elif self.family.name == "poisson":
                theta[-1] = np.log(max(np.dot(w, Y) / w.sum(), 1e-12))
            elif self.family.name == "gaussian":
                theta[-1] = np.dot(w, Y) / w.sum()
        return self.beta(theta)


def solve_dual(
    dataset: Dataset,
    method: str = "auto",
    tol: float | None = None,
    max_iter: int | None = None,
    l2: float | None = None,
    l1: float | None = None,
    penalty: Penalty | None = None,
    theta0: np.ndarray | None = None,
) -> DualResult:
    """Maximise the log-likelihood (the Lagrange dual of the maximum-entropy primal).

    Parameters
    ----------
    dataset : Dataset
    method : {"auto", "newton", "lbfgs", "gradient", "qr"}, default "auto"
        ``auto`` picks ``qr`` for an unpenalised or L2 gaussian model, ``lbfgs`` for L1 and
        whenever the Hessian has more than ``AUTO_NEWTON_MAX_PARAMS`` rows, and ``newton``
        otherwise.
    tol : float, optional
        Target relative dual gradient (KKT residual); see the module docstring. Defaults to
        ``DEFAULT_TOLS[method]``: 1e-10 for ``newton`` and ``qr``; 1e-8 for ``lbfgs``, whose
        line search compares values of ``l`` and so cannot resolve a relative gradient much
        below the square root of machine epsilon; 1e-6 for the teaching ``gradient`` method.
    max_iter : int, optional
        Iteration cap; defaults to 100 (newton), 20000 (lbfgs) and 50000 (gradient).
    l2, l1 : float, optional
        Penalty strength ``lambda`` (at most one).
    penalty : Penalty, optional
        Alternative to ``l2``/``l1``.
    theta0 : ndarray of shape (m, k) or (m,), optional
        Warm start.

    Returns
    -------
    DualResult
        ``converged`` is False (and a :class:`ConvergenceWarning` is emitted) when the tolerance
        was not reached.
    """
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty)
    if method not in METHODS:
        raise DualMaxentError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    obj = DualObjective(dataset, penalty)
    if method == "auto":
        if dataset.family == "gaussian" and penalty.kind != "l1":
            method = "qr"
        elif penalty.kind == "l1" or obj.n_params > AUTO_NEWTON_MAX_PARAMS:
            method = "lbfgs"
        else:
            method = "newton"
    if tol is None:
        tol = DEFAULT_TOLS[method]
    if not (np.isfinite(tol) and tol > 0):
        raise DualMaxentError(f"tol must be a positive number; got {tol}")
    if method == "qr" and dataset.family != "gaussian":
        raise DualMaxentError("method 'qr' solves the gaussian family only")
    if method in ("newton", "gradient", "qr") and penalty.kind == "l1":
        raise DualMaxentError(f"method {method!r} does not handle the L1 penalty; use 'lbfgs'")
    if theta0 is None:
        beta0 = obj.start()
    else:
        theta0 = np.asarray(theta0, dtype=np.float64)
        expected = obj.free.shape if dataset.family == "categorical" else (dataset.m,)
        if theta0.shape != expected:
            raise DualMaxentError(f"theta0 must have shape {expected}; got {theta0.shape}")
        beta0 = obj.beta(theta0)
    solver = {"newton": _newton, "lbfgs": _lbfgs, "gradient": _gradient, "qr": _qr}[method]
    if max_iter is None:
        max_iter = {"newton": 100, "lbfgs": 20000, "gradient": 50000, "qr": 1}[method]
    t0 = time.perf_counter()
    hist = _History(t0)
    beta, status, message = solver(obj, beta0, tol, max_iter, hist)
    seconds = time.perf_counter() - t0
    theta = obj.theta(beta)
    eta = dataset.X @ theta
    fam = obj.family
    canonical = fam.canonical_loglik(dataset.Y, eta, dataset.weights)
    grad_norm = obj.kkt_residual(beta)
    converged = status == "converged"
    if not converged:
        warnings.warn(f"the {method} dual solver did not converge: {message}", ConvergenceWarning,
                      stacklevel=2)
    return DualResult(
        theta=theta,
        loglik=fam.loglik(dataset.Y, eta, dataset.weights),
        canonical_loglik=canonical,
        objective=canonical - obj.penalty_value(theta),
        grad_norm=grad_norm,
        converged=converged,
        iterations=hist.iterations,
        method=method,
        status=status,
        message=message,
        family=dataset.family,
        penalty=penalty,
        solve_seconds=seconds,
        history=hist.arrays(),
    )


class _History:
    """Per-iteration record: iteration, seconds since the start, objective, relative gradient."""

    def __init__(self, t0):
        self.t0 = t0
        self.rows = []

    def add(self, value, grad_norm):
        self.rows.append((len(self.rows), time.perf_counter() - self.t0, value, grad_norm))

    @property
    def iterations(self) -> int:
        return max(len(self.rows) - 1, 0)

    def arrays(self) -> dict:
        a = np.array(self.rows, dtype=np.float64).reshape(-1, 4)
        return {"iteration": a[:, 0].astype(int), "seconds": a[:, 1], "loglik": a[:, 2],
                "grad_norm": a[:, 3]}


def _newton(obj: DualObjective, beta, tol, max_iter, hist):
    """Damped Newton ascent: Cholesky of -H, Armijo backtracking (Boyd & Vandenberghe 9.5)."""
    value, grad = obj.smooth_value_grad(beta)
    for it in range(max_iter + 1):
        rel = obj.kkt_residual(beta, grad)
        hist.add(value, rel)
        if rel <= tol:
            return beta, "converged", f"relative dual gradient {rel:.1e} <= {tol:g}"
        if it == max_iter:
            break
        H = obj.hessian(beta)
        try:
            c = scipy.linalg.cho_factor(-H, lower=True, check_finite=False)
            step = scipy.linalg.cho_solve(c, grad, check_finite=False)
        except np.linalg.LinAlgError:
            # Singular Hessian (collinear features, or probabilities saturated at 0/1 on
            # separated data): take the minimum-norm least-squares step instead, and say so.
            warnings.warn("singular Hessian in Newton's method; using a least-squares step",
                          SingularHessianWarning, stacklevel=3)
            step = np.linalg.lstsq(-H, grad, rcond=None)[0]
        slope = float(grad @ step)
        if not slope > 0:
            step, slope = grad, float(grad @ grad)
        # Near the optimum the predicted ascent (slope/2, the squared Newton decrement over 2)
        # falls below the round-off in l itself, and Armijo's test on values becomes noise.
        # There, accept the full step when it shrinks the gradient, the quantity we stop on.
        noise = 1e-12 * (1.0 + abs(value))
        t = 1.0
        for _ in range(60):
            cand = beta + t * step
            new_value, new_grad = obj.smooth_value_grad(cand)
            if np.isfinite(new_value) and new_value >= value + 1e-4 * t * slope:
                break
            if (t == 1.0 and slope < noise and np.isfinite(new_value)
                    and new_value >= value - noise
                    and np.abs(new_grad).max() < np.abs(grad).max()):
                break
            t *= 0.5
        else:
            return beta, "stalled", (f"line search found no ascent at relative gradient "
                                     f"{rel:.1e} (round-off floor)")
        beta, value, grad = cand, new_value, new_grad
    return beta, "max_iter", f"reached {max_iter} iterations at relative gradient {rel:.1e}"


def _lbfgs(obj: DualObjective, beta0, tol, max_iter, hist):
    """scipy's L-BFGS-B on the negated objective; L1 via the split ``theta = u - v``."""
    scale = obj.scale
    if obj.penalty.kind == "l1":
        pen = np.tile(obj.penalized_rows, obj.q)[obj._free_flat]
        lam = obj.penalty.lam
        p = obj.n_params
        npen = int(pen.sum())

        def unpack(z):
            beta = z[:p].copy()
            beta[pen] = z[p:p + npen] - z[p + npen:]
            return beta

        def fun(z):
            beta = unpack(z)
            v, g = obj.smooth_value_grad(beta)
            u, vv = z[p:p + npen], z[p + npen:]
            f = -v + lam * (u.sum() + vv.sum())
            gz = np.zeros_like(z)
            gz[:p] = -g
            gz[:p][pen] = 0.0
            gz[p:p + npen] = -g[pen] + lam
            gz[p + npen:] = g[pen] + lam
            return f, gz

        b0 = np.array(beta0, dtype=float)
        z0 = np.concatenate([np.where(pen, 0.0, b0), np.maximum(b0[pen], 0), np.maximum(-b0[pen], 0)])
        bounds = [(None, None) if not pen[i] else (0.0, 0.0) for i in range(p)]
        bounds += [(0.0, None)] * (2 * npen)
    else:
        def unpack(z):
            return z

        def fun(z):
            v, g = obj.smooth_value_grad(z)
            return -v, -g

        z0 = np.array(beta0, dtype=float)
        bounds = None

    def callback(intermediate_result):
        z = intermediate_result.x
        beta = unpack(z)
        hist.add(obj.value(beta), obj.kkt_residual(beta))

    beta_start = unpack(z0)
    hist.add(obj.value(beta_start), obj.kkt_residual(beta_start))
    res = scipy.optimize.minimize(
        fun, z0, jac=True, method="L-BFGS-B", bounds=bounds, callback=callback,
        options={"maxiter": max_iter, "gtol": tol * scale, "ftol": 0.0, "maxcor": 30,
                 "maxls": 50},
    )
    beta = unpack(res.x)
    rel = obj.kkt_residual(beta)
    if rel <= tol:
        return beta, "converged", f"relative dual gradient {rel:.1e} <= {tol:g}"
    msg = res.message if isinstance(res.message, str) else str(res.message)
    status = "max_iter" if res.nit >= max_iter else "stalled"
    return beta, status, f"L-BFGS-B stopped ({msg}) at relative gradient {rel:.1e}"


def _gradient(obj: DualObjective, beta, tol, max_iter, hist):
    """Plain gradient ascent with a backtracking step (the GLM note's update, made safe)."""
    value, grad = obj.smooth_value_grad(beta)
    step = 1.0 / obj.scale
    for it in range(max_iter + 1):
        rel = obj.kkt_residual(beta, grad)
        hist.add(value, rel)
        if rel <= tol:
            return beta, "converged", f"relative dual gradient {rel:.1e} <= {tol:g}"
        if it == max_iter:
            break
        gg = float(grad @ grad)
        for _ in range(60):
            cand = beta + step * grad
            new_value, new_grad = obj.smooth_value_grad(cand)
            if np.isfinite(new_value) and new_value >= value + 0.5 * step * gg:
                break
            step *= 0.5
        else:
            return beta, "stalled", f"no ascent step at relative gradient {rel:.1e}"
        beta, value, grad = cand, new_value, new_grad
        step *= 2.0  # let the step grow back; backtracking trims it when needed
    return beta, "max_iter", f"reached {max_iter} iterations at relative gradient {rel:.1e}"


def _qr(obj: DualObjective, beta0, tol, max_iter, hist):
    """Gaussian: weighted (ridge) least squares by an orthogonal factorisation.

    ``max_theta sum_j w_j (y_j eta_j - eta_j^2 / 2) - (lam/2)||theta_pen||^2`` is the least
    squares problem ``min ||sqrt(W) (y - X theta)||^2 + lam ||theta_pen||^2``; stacking
    ``sqrt(lam) I`` rows under ``sqrt(W) X`` keeps it a least-squares problem, solved by
    LAPACK's ``gelsd`` (SVD), so the condition number is never squared.
    """
    X, Y, w = obj.X, obj.Y, obj.w
    sw = np.sqrt(w)
    A = sw[:, None] * X
    b = sw * Y
    if obj.penalty.kind == "l2":
        rows = np.flatnonzero(obj.penalized_rows)
        R = np.zeros((rows.size, X.shape[1]))
        R[np.arange(rows.size), rows] = np.sqrt(obj.penalty.lam)
        A = np.vstack([A, R])
        b = np.concatenate([b, np.zeros(rows.size)])
    hist.add(obj.value(beta0), obj.kkt_residual(beta0))
    beta = scipy.linalg.lstsq(A, b, lapack_driver="gelsd", check_finite=False)[0]
    value, grad = obj.smooth_value_grad(beta)
    rel = obj.kkt_residual(beta, grad)
    hist.add(value, rel)
    if rel <= tol:
        return beta, "converged", f"relative dual gradient {rel:.1e} <= {tol:g}"
    return beta, "stalled", f"least squares left relative gradient {rel:.1e} (ill-conditioned X)"
