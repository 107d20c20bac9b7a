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

Methods: ``newton`` (exact Hessian, Cholesky, backtracking line search; for L1 the proximal
Newton method, whose subproblems are solved by coordinate descent), ``lbfgs`` (scipy's
L-BFGS-B; for L1 on the split ``theta = u - v``, ``u, v >= 0``), ``gradient`` (plain gradient
ascent with backtracking, for teaching), ``qr`` (gaussian only: least squares by an orthogonal
factorisation, never the normal equations), ``newton-cg`` (truncated Newton: the same line
search and stopping rule, the Newton system solved by preconditioned conjugate gradients on
Hessian-vector products; not for L1) and ``auto``. Value, gradient and Hessian come from the
blocked one-pass kernels of :mod:`dualmaxent._kernels`.
"""

from __future__ import annotations

import functools
import time
import warnings

import numpy as np
import scipy.linalg
import scipy.optimize

from . import _kernels
from . import _numerics as nx
from .data import Dataset
from .params import Parameterization
from .exceptions import ConvergenceWarning, DualMaxentError, SingularHessianWarning
from .results import DualResult, Penalty, make_penalty

__all__ = ["DualObjective", "ReducedObjective", "solve_dual", "METHODS", "DEFAULT_TOLS",
           "AUTO_NEWTON_MAX_PARAMS"]

METHODS = ("auto", "newton", "newton-cg", "lbfgs", "gradient", "qr")

#: Default target relative dual gradient per method (see :func:`solve_dual`).
DEFAULT_TOLS = {"newton": 1e-10, "newton-cg": 1e-10, "qr": 1e-10, "lbfgs": 1e-8, "gradient": 1e-6}

#: ``auto`` uses Newton while the number of free parameters is at most this (Hessian <= 2 MB).
AUTO_NEWTON_MAX_PARAMS = 500

#: ``auto`` prefers ``newton-cg`` for the categorical family when ``p^2 > AUTO_CG_RATIO m k``
#: (``p`` free parameters): forming the Hessian costs ``n p^2`` flops, a Hessian-vector product
#: ``4 n m k``, and a step takes about 5 products. Measured at n = 10^5 with one BLAS thread:
#: m = 11, k = 3 (ratio 15) 0.29 s vs Newton 0.37 s, a tie; m = 51, k = 3 (ratio 68) 0.31 s vs
#: 0.58 s; m = 51, k = 10 (ratio 203) 0.56 s vs 10 s.
AUTO_CG_RATIO = 40

#: With an L2 penalty the CG preconditioner is a dense ``p x p`` Cholesky; above this ``auto``
#: falls back to the other rules.
AUTO_CG_DENSE_MAX_PARAMS = 3000


class DualObjective:
    """The penalised log-likelihood of a data set as a function of the free entries of theta.

    Parameters
    ----------
    dataset : Dataset
    penalty : Penalty, optional
    forced : ndarray of bool or Separation, optional
        Entries forced by separation (:func:`dualmaxent.detect_separation`). When one is
        True the object is a :class:`ReducedObjective`: the likelihood without them, whose
        maximum is the supremum of ``l``. None or all False: the full likelihood.

    Notes
    -----
    For the categorical family the gradient of ``l`` is ``X^T W (Y - P)`` (the balance
    equations) and the Hessian block of classes ``a, b`` is
    ``-X^T diag(w p_a (delta_ab - p_b)) X`` (the Newton note, with its lost minus sign and its
    ``X^T W_ab X`` restored). For a one-parameter family the Hessian is ``-X^T diag(w A''(eta)) X``.
    """

    def __new__(cls, dataset: Dataset, penalty: Penalty | None = None, forced=None):
        # forced entries (separated data) select the reduced likelihood, ReducedObjective
        if cls is DualObjective and forced is not None and np.any(
                forced.forced if hasattr(forced, "forced") else forced):
            cls = ReducedObjective
        return super().__new__(cls)

    def __init__(self, dataset: Dataset, penalty: Penalty | None = None, forced=None):
        self.dataset = dataset
        self.family = dataset.family
        self.penalty = penalty if penalty is not None else Penalty()
        self.X = dataset.X
        self.Y = dataset.Y
        self.w = dataset.weights
        #: free entries, packing and gauge (:mod:`dualmaxent.params`)
        self.params = Parameterization.from_dataset(dataset, self.penalty)
        self.penalized_rows = self.params.penalized_rows
        self.q = self.params.q
        self.free = self.params.free
        self._free_flat = self.params.free_flat
        self.n_params = self.params.n_params
        # classes with at least one free entry: the only curvature blocks ever needed
        self._hess_classes = self.params.free_classes
        WY = self.w[:, None] * (self.Y if self.Y.ndim == 2 else self.Y[:, None])
        self.XtWY = self.X.T @ WY  # (m, q)
        self.scale = 1.0 + float(np.abs(self.XtWY).max())

    # -- packing -----------------------------------------------------------------------------
    def theta(self, beta: np.ndarray) -> np.ndarray:
        """Full theta of shape (m, k) or (m,) from the free parameters ``beta``."""
        return self.params.unpack(beta)

    def beta(self, theta: np.ndarray) -> np.ndarray:
        """Free parameters of ``theta`` after moving it to the pinned gauge."""
        return self.params.pack(theta)

    def gauge_fix(self, theta: np.ndarray) -> np.ndarray:
        """Move theta to the reported gauge (last class zero on unpenalised rows)."""
        return self.params.gauge_fix(theta)

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
        return self._loglik(theta)[0] - self.penalty_value(theta)  # cached with the gradient

    def _loglik(self, theta, hessian: bool = False):
        """``(l, X^T W (Y - mu), -H or None)`` of the unpenalised likelihood at full ``theta``.

        One blocked pass over ``X`` (:mod:`dualmaxent._kernels`). The last call is cached, so
        a Newton line search that asked for the curvature at its accepted point does not pay
        for a second pass when :meth:`hessian` is called there. The curvature covers only the
        classes with a free entry (the pinned class's blocks are never formed).
        """
        key = np.asarray(theta, dtype=np.float64).tobytes()
        cache = getattr(self, "_cache", None)
        if cache is not None and cache[0] == key and (cache[3] is not None or not hessian):
            return cache[1], cache[2], cache[3]
        # keep P (categorical) or eta at this point for curvature_operator: (n, k) floats,
        # not a copy of X
        self._point = (key, np.empty((self.X.shape[0], self.q) if self.family.multiclass
                                     else self.X.shape[0]))
        if self.family.multiclass:
            value, G, C = _kernels.categorical_vgh(self.X, self.Y, self.w, theta,
                                                   classes=self._hess_classes, hessian=hessian,
                                                   P_out=self._point[1])
        else:
            value, g, C = _kernels.glm_vgh(self.X, self.Y, self.w, theta, self.family,
                                           hessian=hessian, eta_out=self._point[1])
            G = g[:, None]
        self._cache = (key, value, G, C)
        return value, G, C

    def smooth_value_grad(self, beta, hessian: bool = False):
        """Value and gradient of ``l - L2 penalty`` (the L1 term is left to the solver).

        ``hessian=True`` also forms the curvature in the same pass and caches it for
        :meth:`hessian` at the same ``beta`` (used by Newton's line search at the full step).
        """
        theta = self.theta(beta)
        value, G, _ = self._loglik(theta, hessian)  # G (m, q): the balance equations
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
        m, q = self.X.shape[1], self.q
        C = self._loglik(theta, hessian=True)[2]
        if self.family.multiclass:
            # embed the curvature of the free classes; the pinned class's rows and columns
            # are dropped by the free-index selection below
            cols = (np.asarray(self._hess_classes)[:, None] * m + np.arange(m)).ravel()
            H = np.zeros((q * m, q * m))
            H[np.ix_(cols, cols)] = -C
        else:
            H = -C
        if self.penalty.kind == "l2":
            diag = self.params.penalized_flat.astype(float) * self.penalty.lam
            H[np.diag_indices_from(H)] -= diag
        idx = self._free_flat
        return H[np.ix_(idx, idx)]

    def curvature_operator(self, beta):
        """``(matvec, psolve)``: ``v -> -H v`` and an approximate ``v -> (-H)^{-1} v``.

        ``matvec`` uses two products with ``X`` per call (no Hessian is formed); ``psolve`` is
        the Cholesky solve of the Kronecker approximation ``A (x) X^T W X`` restricted to the
        free entries (see :func:`_cg_step`), plus the L2 penalty's diagonal.
        """
        theta = self.theta(beta)
        point = getattr(self, "_point", None)
        if point is None or point[0] != np.asarray(theta, dtype=np.float64).tobytes():
            self._loglik(theta)
        saved = self._point[1]  # P (categorical) or eta at theta, from the last pass
        m, q = self.X.shape[1], self.q
        wsum = float(self.w.sum())
        if getattr(self, "_gram", None) is None:
            self._gram = _kernels.gram(self.X, self.w)  # X^T W X, once per objective
        lam = self.penalty.lam if self.penalty.kind == "l2" else 0.0
        pdiag = self.params.penalized * lam
        idx = self._free_flat
        if self.family.multiclass:
            P = saved
            wP = self.w @ P
            A = (np.diag(wP) - (P * self.w[:, None]).T @ P) / wsum

            def matvec(v):
                V = self.theta(v)
                return _kernels.categorical_hessp(self.X, self.w, P, V).T.ravel()[idx] + pdiag * v
        else:
            d = self.w * self.family.variance(saved)
            A = np.array([[float(d.sum()) / wsum]])

            def matvec(v):
                return _kernels.glm_hessp(self.X, d, v) + pdiag * v
        if not lam and self.family.multiclass and idx.size == len(self._hess_classes) * m:
            # Every row free in the same classes (no penalty): the preconditioner is a true
            # Kronecker product, inverted factor by factor, (A (x) B)^{-1} = A^{-1} (x) B^{-1}:
            # in matrix form R -> B^{-1} R A^{-1}, O(m^3 + q^3) once instead of O(m^3 q^3).
            # (A is restricted to the free classes: the pinned class's row and column dropped.)
            fc = self._hess_classes
            Aq = A[np.ix_(fc, fc)]
            try:
                ca = scipy.linalg.cho_factor(Aq, lower=True, check_finite=False)
                if getattr(self, "_gram_cf", None) is None:
                    self._gram_cf = scipy.linalg.cho_factor(self._gram, lower=True,
                                                            check_finite=False)
                cb = self._gram_cf

                def psolve(r):
                    R = r.reshape(len(fc), m).T  # (m, q): class-major packing
                    Z = scipy.linalg.cho_solve(cb, R, check_finite=False)
                    Z = scipy.linalg.cho_solve(ca, Z.T, check_finite=False)  # (q, m)
                    return Z.ravel()
                return matvec, psolve
            except np.linalg.LinAlgError:
                pass  # singular factor: the dense path below regularises
        M = np.kron(A, self._gram)[np.ix_(idx, idx)]
        M[np.diag_indices_from(M)] += pdiag + 1e-12 * max(float(np.abs(M).max()), 1.0)
        try:
            cf = scipy.linalg.cho_factor(M, lower=True, check_finite=False)

            def psolve(r):
                return scipy.linalg.cho_solve(cf, r, check_finite=False)
        except np.linalg.LinAlgError:  # rank-deficient X: fall back to Jacobi
            dg = np.maximum(np.diag(M), 1e-300)

            def psolve(r):
                return r / dg
        return matvec, psolve

    def kkt_residual(self, beta, grad=None) -> float:
        """Relative KKT residual of the dual at ``beta`` (see the module docstring)."""
        if grad is None:
            _, grad = self.smooth_value_grad(beta)
        g = np.array(grad)
        if self.penalty.kind == "l1":
            pen = self.params.penalized
            lam = self.penalty.lam
            b = np.asarray(beta)
            gp = g[pen]
            bp = b[pen]
            g[pen] = np.where(bp != 0, gp - lam * np.sign(bp), np.maximum(np.abs(gp) - lam, 0.0))
        return float(np.abs(g).max() / self.scale) if g.size else 0.0

    def start(self) -> np.ndarray:
        """A starting point: zeros, with the intercept at the marginal (weighted) fit.

        The intercept is the link of the weighted mean response, ``g(sum_j w_j Y_j / sum w)``,
        moved inside the mean's domain (a class or count that never occurs would give
        ``-inf``); :meth:`beta` pins the categorical gauge.
        """
        theta = np.zeros(self.free.shape) if self.family.multiclass else np.zeros(self.free.shape[0])
        if self.dataset.intercept:
            mean_response = (self.w @ self.Y) / self.w.sum()
            theta[-1] = self.family.link(self.family.clip_mean(mean_response))
        return self.beta(theta)


class ReducedObjective(DualObjective):
    """The log-likelihood of separated data with its forced entries excluded: ``l_red``.

    ``DualObjective(dataset, forced=mask)`` returns this class when ``mask`` has a True entry.
    With ``F`` the forced entries (:mod:`dualmaxent.separation`),

        l_red(theta) = sum_j w_j [ eta_{j y_j} - log sum_{i: (j, i) not in F} exp(eta_ji) ]

    for the categorical family: ``eta_ji = -inf`` on ``F`` (the softmax runs over the free
    classes only, and ``0 * log 0`` is taken as 0, not as ``0 * (-inf) = nan``), and a row whose
    other classes are all forced contributes ``log 1 = 0``, so it is dropped. For the Bernoulli
    and Poisson families the forced observations contribute 0 (``mu_j = y_j``) and are dropped.
    ``l <= l_red`` everywhere and ``l(theta + t D) -> l_red(theta)`` along the LP's recession
    direction ``D``, so ``max l_red = sup l`` (the separation module's docstring).

    ``l_red`` is constant along the recession directions, so it has no unique maximiser in
    theta. The free parameters ``beta`` are therefore coordinates in an orthonormal basis ``Q``
    (:func:`dualmaxent.separation.identifiable_basis`) of the parameters ``l_red`` depends on,
    in the pivot gauge: ``theta = unpack(Q beta)`` and ``beta = Q^T pack(theta)``, an orthogonal
    projection, so that :meth:`theta` returns the minimum-norm maximiser and ``l_red`` is
    strictly concave in ``beta`` (Newton's Cholesky factorisation succeeds). The Hessian and
    gradient are formed with plain numpy on the kept rows (the data that are left are small).
    """

    def __init__(self, dataset: Dataset, penalty: Penalty | None = None, forced=None):
        from .separation import as_forced, identifiable_basis, kept_observations

        super().__init__(dataset, penalty)
        if self.penalty.active:
            raise DualMaxentError("forced entries belong to the unpenalised problem; a penalty "
                                  "keeps theta* finite, so nothing is forced")
        forced = as_forced(dataset, forced)
        if forced is None:
            raise DualMaxentError("ReducedObjective needs at least one forced entry")
        self.forced = forced
        self.kept = kept_observations(dataset, forced)
        self.w = np.where(self.kept, dataset.weights, 0.0)
        self._XK = dataset.X[self.kept]
        self._YK = dataset.Y[self.kept]
        self._wK = dataset.weights[self.kept]
        self._maskK = forced[self.kept] if forced.ndim == 2 else None
        self.basis = identifiable_basis(dataset, forced, "pivot")
        self.n_params = self.basis.shape[1]
        YK = self._YK if self._YK.ndim == 2 else self._YK[:, None]
        self.XtWY = self._XK.T @ (self._wK[:, None] * YK)
        self.scale = 1.0 + (float(np.abs(self.XtWY).max()) if self.XtWY.size else 0.0)
        self._cache = None

    # -- packing in the basis Q ---------------------------------------------------------------
    def theta(self, beta):
        return super().theta(self.basis @ np.asarray(beta, dtype=np.float64))

    def beta(self, theta):
        return self.basis.T @ super().beta(theta)

    def start(self):
        return super().start() if self.n_params else np.zeros(0)

    # -- the reduced likelihood -----------------------------------------------------------------
    def linear_predictor(self, theta) -> np.ndarray:
        """``X theta`` on every row, ``-inf`` on the forced entries (categorical)."""
        eta = self.X @ np.asarray(theta, dtype=np.float64)
        if self.forced.ndim == 2:
            eta = np.where(self.forced, -np.inf, eta)
        return eta

    def mean(self, theta) -> np.ndarray:
        """``mu(theta)`` of the reduced model on every row: ``Y`` wherever ``mu`` is forced."""
        if self.forced.ndim == 2:
            return nx.softmax(self.linear_predictor(theta))
        mu = self.family.mean(self.X @ np.asarray(theta, dtype=np.float64))
        return np.where(self.forced, self.Y, mu)

    def _reduced(self, beta, hessian=False):
        """``(l_red, gradient of l_red in beta, Hessian in beta or None)``, cached."""
        beta = np.asarray(beta, dtype=np.float64)
        key = beta.tobytes()
        if self._cache is not None and self._cache[0] == key and (
                self._cache[3] is not None or not hessian):
            return self._cache[1:]
        theta = self.theta(beta)
        X, Y, w = self._XK, self._YK, self._wK
        m = X.shape[1]
        eta = X @ theta
        if self._maskK is not None:
            logP = nx.log_softmax(np.where(self._maskK, -np.inf, eta))
            P = nx.exp(logP)  # exactly 0 on the forced entries
            value = float(w @ (Y * np.where(self._maskK, 0.0, logP)).sum(axis=1))
            G = X.T @ (w[:, None] * (Y - P))
            g = G[:, :-1].T.ravel()  # pivot coordinates, class-major
        else:
            value = self.family.canonical_loglik(Y, eta, w)
            g = X.T @ (w * (Y - self.family.mean(eta)))
        H = None
        if hessian:
            if self._maskK is not None:
                q = P.shape[1] - 1
                C = np.zeros((q * m, q * m))
                for a in range(q):
                    for b in range(a, q):
                        d = w * P[:, a] * ((a == b) - P[:, b])
                        if not d.any():
                            continue
                        block = X.T @ (d[:, None] * X)
                        C[a * m:(a + 1) * m, b * m:(b + 1) * m] = block
                        C[b * m:(b + 1) * m, a * m:(a + 1) * m] = block.T
            else:
                C = X.T @ ((w * self.family.variance(eta))[:, None] * X)
            H = -(self.basis.T @ C @ self.basis)
        out = (value, self.basis.T @ g, H)
        self._cache = (key, *out)
        return out

    def eta(self, beta):
        return self.linear_predictor(self.theta(beta))

    def value(self, beta) -> float:
        return self._reduced(beta)[0]

    def smooth_value_grad(self, beta, hessian: bool = False):
        value, grad, _ = self._reduced(beta, hessian)
        return value, grad

    def full_gradient(self, theta) -> np.ndarray:
        """Gradient of ``l_red`` in every entry of theta: ``X^T W (Y - mu_red(theta))``."""
        R = (self.Y - self.mean(theta)).reshape(self.X.shape[0], -1) * self.w[:, None]
        return self.X.T @ R

    def hessian(self, beta) -> np.ndarray:
        return self._reduced(beta, hessian=True)[2]

    def curvature_operator(self, beta):
        C = -self.hessian(beta)
        cf = scipy.linalg.cho_factor(C + 1e-14 * np.eye(len(C)) * max(np.abs(C).max(initial=0),
                                                                        1.0), lower=True)
        return (lambda v: C @ v), (lambda r: scipy.linalg.cho_solve(cf, r))

    def kkt_residual(self, beta, grad=None) -> float:
        # the gradient in theta lies in the span of Q, so Q grad recovers it exactly
        if grad is None:
            grad = self.smooth_value_grad(beta)[1]
        g = self.basis @ np.asarray(grad)
        return float(np.abs(g).max() / self.scale) if g.size else 0.0


def solve_dual(
    dataset: Dataset,
    method: str = "auto",
    tol: float | None = None,
    max_iter: int | None = None,
    l2: float | None = None,
    l1: float | None = None,
    penalty: Penalty | None = None,
    theta0: np.ndarray | None = None,
    forced: np.ndarray | None = None,
) -> DualResult:
    """Maximise the log-likelihood (the Lagrange dual of the maximum-entropy primal).

    Parameters
    ----------
    dataset : Dataset
    method : {"auto", "newton", "newton-cg", "lbfgs", "gradient", "qr"}, default "auto"
        ``auto`` picks ``qr`` for an unpenalised or L2 gaussian model, ``newton-cg`` for a
        categorical model whose Hessian is expensive to form (``p^2 > AUTO_CG_RATIO m k``),
        ``lbfgs`` whenever the Hessian has more than ``AUTO_NEWTON_MAX_PARAMS`` rows, and
        ``newton`` otherwise. With
        the L1 penalty ``newton`` is the proximal Newton method (exact zeros, quadratic
        convergence) and ``lbfgs`` runs L-BFGS-B on the split ``theta = u - v``.
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
    forced : ndarray of bool or Separation, optional
        Entries forced by separation: maximise the reduced likelihood ``l_red`` of
        :class:`ReducedObjective` instead (unpenalised only). Its maximum is the supremum of
        ``l``; ``theta`` is its minimum-norm maximiser in the pivot gauge, and ``loglik`` the
        supremum. None (default): the full likelihood.

    Returns
    -------
    DualResult
        ``converged`` is False (and a :class:`ConvergenceWarning` is emitted) when the tolerance
        was not reached.
    """
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty)
    if method not in METHODS:
        raise DualMaxentError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    obj = DualObjective(dataset, penalty, forced=forced)
    if method == "auto":
        if obj.family.quadratic and penalty.kind != "l1":
            method = "qr"
        elif (penalty.kind != "l1" and obj.family.multiclass
              and obj.n_params ** 2 > AUTO_CG_RATIO * dataset.m * dataset.k
              and (penalty.kind == "none" or obj.n_params <= AUTO_CG_DENSE_MAX_PARAMS)):
            method = "newton-cg"
        elif obj.n_params > AUTO_NEWTON_MAX_PARAMS:
            method = "lbfgs"
        else:
            method = "newton"  # proximal Newton for L1 (see _prox_newton)
    if tol is None:
        tol = DEFAULT_TOLS[method]
    if not (np.isfinite(tol) and tol > 0):
        raise DualMaxentError(f"tol must be a positive number; got {tol}")
    if method == "qr" and not obj.family.quadratic:
        raise DualMaxentError("method 'qr' solves the gaussian family only")
    if method in ("gradient", "qr", "newton-cg") and penalty.kind == "l1":
        raise DualMaxentError(f"method {method!r} does not handle the L1 penalty; use 'newton' "
                              "or 'lbfgs'")
    if theta0 is None:
        beta0 = obj.start()
    else:
        theta0 = np.asarray(theta0, dtype=np.float64)
        expected = obj.free.shape if obj.family.multiclass else (dataset.m,)
        if theta0.shape != expected:
            raise DualMaxentError(f"theta0 must have shape {expected}; got {theta0.shape}")
        beta0 = obj.beta(theta0)
    solver = {"newton": _newton, "lbfgs": _lbfgs, "gradient": _gradient, "qr": _qr,
              "newton-cg": functools.partial(_newton, cg=True)}[method]
    if method == "newton" and penalty.kind == "l1":
        solver = _prox_newton
    if max_iter is None:
        max_iter = {"newton": 100, "newton-cg": 100, "lbfgs": 20000, "gradient": 50000, "qr": 1}[method]
    t0 = time.perf_counter()
    hist = _History(t0)
    beta, status, message = solver(obj, beta0, tol, max_iter, hist)
    seconds = time.perf_counter() - t0
    theta = obj.theta(beta)
    eta = dataset.X @ theta
    fam = obj.family
    canonical = fam.canonical_loglik(dataset.Y, eta, dataset.weights)
    loglik = fam.loglik(dataset.Y, eta, dataset.weights)
    reduced = isinstance(obj, ReducedObjective)
    if reduced:  # l_red, the supremum of l (see ReducedObjective)
        canonical = obj.value(beta)
        loglik = canonical + fam.loglik_constant(dataset.Y, dataset.weights)
    grad_norm = obj.kkt_residual(beta)
    converged = status == "converged"
    if not converged:
        warnings.warn(f"the {method} dual solver did not converge: {message}", ConvergenceWarning,
                      stacklevel=2)
    return DualResult(
        theta=theta,
        loglik=loglik,
        canonical_loglik=canonical,
        objective=canonical - obj.penalty_value(theta),
        grad_norm=grad_norm,
        converged=converged,
        iterations=hist.iterations,
        method=method,
        status=status,
        message=message,
        family=dataset.family.name,
        penalty=penalty,
        solve_seconds=seconds,
        history=hist.arrays(),
        forced=obj.forced if reduced else None,
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


def _newton(obj: DualObjective, beta, tol, max_iter, hist, cg: bool = False):
    """Damped Newton ascent: Cholesky of -H, Armijo backtracking (Boyd & Vandenberghe 9.5).

    With ``cg=True`` (method ``newton-cg``) the Newton system is solved inexactly by
    preconditioned conjugate gradients on Hessian-vector products (:func:`_cg_step`), so the
    Hessian is never formed; the line search and the stopping rule are the same.
    """
    value, grad = obj.smooth_value_grad(beta)
    for it in range(max_iter + 1):
        rel = obj.kkt_residual(beta, grad)
        hist.add(value, rel)
        if rel <= tol:
            return beta, "converged", f"relative dual gradient {rel:.1e} <= {tol:g}"
        if it == max_iter:
            break
        if cg:
            step = _cg_step(obj, beta, grad, rel)
        else:
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
            # At the full step, form the next Hessian in the same pass over X (the full step
            # is almost always accepted), unless quadratic convergence predicts this is the
            # last iteration (rel^2 <= tol) and the Hessian would be wasted.
            new_value, new_grad = obj.smooth_value_grad(
                cand, hessian=(not cg and t == 1.0 and rel * rel > tol))
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


def _cg_step(obj: DualObjective, beta, grad, rel, max_cg: int = 200):
    """Truncated Newton step: solve ``-H s = g`` by preconditioned conjugate gradients.

    ``-H v`` costs two products with ``X`` (:meth:`DualObjective.curvature_operator`) instead of
    the ``n p^2`` flops of forming ``H``, which dominate Newton when ``p = m (k - 1)`` is large
    (measured at n = 10^5, m = 51, k = 10: 2 s per Hessian against 0.01 s per product). The
    preconditioner is the Kronecker approximation ``A (x) X^T W X`` of ``-H``, with ``A`` the
    weighted mean of ``diag(p_j) - p_j p_j^T`` (exact when ``P`` is constant across rows, as at
    the starting point), factored once per step. The inner tolerance follows Eisenstat &
    Walker's forcing term ``||r|| <= min(0.1, sqrt(rel)) ||g||`` (superlinear convergence);
    Nocedal & Wright, Algorithm 7.1.
    """
    matvec, psolve = obj.curvature_operator(beta)
    gnorm = float(np.linalg.norm(grad))
    target = min(0.1, np.sqrt(rel)) * gnorm
    s = np.zeros_like(grad)
    r = np.array(grad, dtype=np.float64)
    z = psolve(r)
    d = z.copy()
    rz = float(r @ z)
    for _ in range(max_cg):
        Cd = matvec(d)
        dCd = float(d @ Cd)
        if not dCd > 0:  # a flat direction of the curvature (singular Hessian): stop here
            break
        alpha = rz / dCd
        s += alpha * d
        r -= alpha * Cd
        if float(np.linalg.norm(r)) <= target:
            break
        z = psolve(r)
        rz_new = float(r @ z)
        d = z + (rz_new / rz) * d
        rz = rz_new
    return s if s.any() else psolve(grad)


def _lbfgs(obj: DualObjective, beta0, tol, max_iter, hist):
    """scipy's L-BFGS-B on the negated objective; L1 via the split ``theta = u - v``."""
    scale = obj.scale
    if obj.penalty.kind == "l1":
        pen = obj.params.penalized
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


def _prox_newton(obj: DualObjective, beta, tol, max_iter, hist):
    """L1: proximal Newton ascent (Lee, Sun & Saunders 2014; newGLMNET, Yuan, Ho & Lin 2012).

    Each step maximises the second-order model of ``l`` at ``beta`` minus the exact L1 term,

        z = argmin_z  1/2 z^T N z - c^T z + lam ||z_R||_1,   N = -H,  c = g + N beta,

    with :func:`_l1_quadratic`, then backtracks on ``t`` in ``beta + t (z - beta)`` until the
    objective rises by a fraction of the model's prediction (Lee et al., eq. 2.9). Why not only
    L-BFGS-B on ``theta = u - v``: its stopping test compares values of ``l``, so it stalls near a
    relative KKT residual of 1e-8 (measured on the categorical factory of the tests: 2.2e-8), and
    it never sets a coefficient exactly to zero, so the active boxes of the primal cannot be read
    off its theta. The model is exact in the zero pattern, and near the optimum the step is
    Newton's on the active set, so the convergence is quadratic and the zeros are exact zeros.
    """
    lam = obj.penalty.lam
    pen = obj.params.penalized
    lamv = np.where(pen, lam, 0.0)

    def total(b, smooth):
        return smooth - lam * float(np.abs(b[pen]).sum())

    value, grad = obj.smooth_value_grad(beta)
    F = total(beta, value)
    rel = obj.kkt_residual(beta, grad)
    for it in range(max_iter + 1):
        rel = obj.kkt_residual(beta, grad)
        hist.add(F, rel)
        if rel <= tol:
            return beta, "converged", f"relative KKT residual {rel:.1e} <= {tol:g}"
        if it == max_iter:
            break
        N = -obj.hessian(beta)
        z = _l1_quadratic(N, grad + N @ beta, lamv, beta)
        d = z - beta
        # the model's predicted rise of F for the full step (>= 0; Lee et al. eq. 2.9)
        predicted = float(grad @ d) - lam * (float(np.abs(z[pen]).sum())
                                             - float(np.abs(beta[pen]).sum()))
        noise = 1e-12 * (1.0 + abs(F))
        t = 1.0
        for _ in range(60):
            cand = beta + t * d
            new_value, new_grad = obj.smooth_value_grad(cand)
            new_F = total(cand, new_value)
            if np.isfinite(new_F) and new_F >= F + 1e-4 * t * predicted:
                break
            # at the round-off floor of F, judge the full step by the KKT residual instead
            # (as in _newton)
            if (t == 1.0 and predicted < noise and np.isfinite(new_F) and new_F >= F - noise
                    and obj.kkt_residual(cand, new_grad) < rel):
                break
            t *= 0.5
        else:
            return beta, "stalled", (f"line search found no ascent at relative KKT residual "
                                     f"{rel:.1e} (round-off floor)")
        beta, value, grad, F = cand, new_value, new_grad, new_F
    return beta, "max_iter", f"reached {max_iter} iterations at relative KKT residual {rel:.1e}"


def _l1_quadratic(N, c, lamv, z0, max_sweeps=500):
    """Minimise ``1/2 z^T N z - c^T z + sum_i lamv_i |z_i|`` (``N`` positive semidefinite).

    Cyclic coordinate descent with soft-thresholding (Friedman, Hastie & Tibshirani 2010) finds
    the zero pattern; once it stops changing, the minimiser with that pattern and those signs is
    the solution of a linear system on the non-zero coordinates, which is solved exactly and
    accepted if it keeps the signs and satisfies ``|c_i - (N z)_i| <= lamv_i`` on the zeros (the
    optimality conditions of the subproblem). Otherwise the sweeps go on from the better point.
    Coordinate descent alone converges only linearly, slowly on the singular directions of the
    categorical Hessian (a class shift of a penalised row), hence the exact finish.
    """
    p = c.size
    z = np.array(z0, dtype=np.float64)
    diag = np.diag(N).copy()
    # a zero curvature (a feature that is zero on every weighted row) would divide by zero
    diag = np.maximum(diag, 1e-12 * max(float(diag.max(initial=0.0)), 1.0))
    r = N @ z - c  # gradient of the smooth part
    pattern = None
    stable = 0
    for sweep in range(max_sweeps):
        biggest = 0.0
        for i in range(p):
            a = diag[i]
            u = z[i] - r[i] / a
            new = np.sign(u) * max(abs(u) - lamv[i] / a, 0.0)
            delta = new - z[i]
            if delta != 0.0:
                r += delta * N[:, i]
                z[i] = new
                biggest = max(biggest, abs(delta) * np.sqrt(a))
        nz = z != 0
        if pattern is not None and np.array_equal(nz, pattern):
            stable += 1
        else:
            stable = 0
        pattern = nz
        if stable >= 1:
            exact = _l1_quadratic_on_pattern(N, c, lamv, z)
            if exact is not None:
                return exact
        if biggest <= 1e-15 * (1.0 + float(np.abs(z).max(initial=0.0))):
            break
    exact = _l1_quadratic_on_pattern(N, c, lamv, z)
    return exact if exact is not None else z


def _l1_quadratic_on_pattern(N, c, lamv, z):
    """The subproblem's minimiser with the zero pattern and signs of ``z``, or None if invalid."""
    A = np.flatnonzero(z != 0)
    s = np.sign(z)
    out = np.zeros_like(z)
    if A.size:
        rhs = c[A] - lamv[A] * s[A]
        NA = N[np.ix_(A, A)]
        try:
            cf = scipy.linalg.cho_factor(NA, lower=True, check_finite=False)
            zA = scipy.linalg.cho_solve(cf, rhs, check_finite=False)
            ok = np.abs(NA @ zA - rhs).max() <= 1e-9 * (1.0 + np.abs(rhs).max())
        except np.linalg.LinAlgError:
            ok = False
        if not ok:  # singular (a class shift of a penalised row): minimum-norm solution
            zA = scipy.linalg.lstsq(NA, rhs, check_finite=False)[0]
        if not np.all(np.isfinite(zA)):
            return None
        signed = lamv[A] > 0
        if np.any(np.sign(zA[signed]) != s[A][signed]):
            return None
        out[A] = zA
    inactive = z == 0
    if inactive.any():
        resid = np.abs(c[inactive] - N[inactive] @ out)
        if np.any(resid > lamv[inactive] * (1.0 + 1e-12) + 1e-12 * (1.0 + np.abs(c).max())):
            return None
    return out
