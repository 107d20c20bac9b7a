"""Soundness of :func:`dualmaxent.certify`, stated as properties against an independent optimum.

``certify(data, theta)`` must be sound for *any* finite theta: with ``OPT`` the optimum of the
max-entropy primal (the minimum over theta of ``-(l(theta) - penalty(theta))``),

    cert.lower_bound - cert.roundoff  <=  OPT  <=  cert.upper_bound + cert.roundoff,

``cert.upper_bound`` is ``-(l(theta) - penalty(theta))`` itself, ``cert.within`` bounds
``upper_bound - OPT`` and ``cert.ok`` is never claimed for a theta farther than ``tol`` from the
optimum (and is claimed at the optimum of a well-conditioned problem).

Nothing here goes through dualmaxent's objective or solvers: the objective, its gradient and its
Hessian are written out below in numpy/scipy, and ``OPT`` comes from ``scipy.optimize.minimize``
(``trust-exact``). The optimiser's answer is accepted only when its own second-order estimate of
the remaining gap, ``|g|^2 / (2 lambda_min(H))``, is below ``1e-10 max(1, |OPT|)`` (hypothesis
rejects the draw otherwise), so every comparison below carries two explicit slacks:

* ``eval_tol(theta)``: the round-off of evaluating the objective at theta in float64, a few
  ``eps`` times the sum of the magnitudes of its terms (see :func:`eval_tol`);
* ``gap_est``: how far scipy's point may still be above the true minimum.

Each assertion is written so that it fails only when the checker is *certainly* wrong, given these
slacks: the true ``OPT`` lies in ``[OPT_hat - eval_tol - gap_est, OPT_hat + eval_tol]``.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import note as _hyp_note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from scipy.optimize import minimize
from _rounding import gamma
from scipy.special import expit, logsumexp, softmax

from dualmaxent import Dataset, solve_dual
from dualmaxent.exceptions import DualMaxentError

certify_module = pytest.importorskip("dualmaxent.certify")
certify = certify_module.certify

EPS = np.finfo(np.float64).eps


def note(text: str) -> None:
    """hypothesis' note inside a property (shown with the falsifying example), print outside
    (shown by pytest with a failing parametrised test)."""
    try:
        _hyp_note(text)
    except InvalidArgument:
        print(text)


FAMILIES = ("categorical", "bernoulli", "poisson", "gaussian")


# --------------------------------------------------------------------------------------------
# the problem, written out independently of dualmaxent
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Problem:
    """``X`` (n, m) with the intercept column last, ``Y`` (n, k) one-hot or (n,), weights ``w``,
    the L2 strength ``lam`` (0: unpenalised). ``q`` columns of theta (k or 1)."""

    family: str
    X: np.ndarray
    Y: np.ndarray
    w: np.ndarray
    lam: float
    y_raw: np.ndarray  # the response handed to Dataset.from_arrays
    weighted: bool

    @property
    def n(self):
        return self.X.shape[0]

    @property
    def m(self):
        return self.X.shape[1]

    @property
    def q(self):
        return self.Y.shape[1] if self.family == "categorical" else 1

    @property
    def theta_shape(self):
        return (self.m, self.q) if self.family == "categorical" else (self.m,)

    def dataset(self) -> Dataset:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = Dataset.from_arrays(self.X[:, :-1], self.y_raw, family=self.family,
                                     weights=self.w if self.weighted else None)
        # the conventions this file relies on (intercept last, the encoding of Y)
        np.testing.assert_array_equal(ds.X, self.X)
        np.testing.assert_array_equal(ds.Y, self.Y)
        np.testing.assert_array_equal(ds.weights, self.w)
        return ds

    def kwargs(self) -> dict:
        return {"l2": self.lam} if self.lam > 0 else {}

    # -- the log-partition per observation, its mean and curvature --------------------------
    def _terms(self, T):
        """``eta`` (n, q), ``A(eta)`` (n,), the mean (n, q)."""
        eta = self.X @ T
        if self.family == "categorical":
            return eta, logsumexp(eta, axis=1), softmax(eta, axis=1)
        e = eta[:, 0]
        if self.family == "bernoulli":
            A, mu = np.logaddexp(0.0, e), expit(e)
        elif self.family == "poisson":
            A = mu = np.exp(e)
        else:
            A, mu = 0.5 * e * e, e
        return eta, A, mu[:, None]

    def _Y2(self):
        return self.Y if self.Y.ndim == 2 else self.Y[:, None]

    def table(self, theta) -> np.ndarray:
        return np.asarray(theta, dtype=np.float64).reshape(self.m, self.q)

    def objective(self, theta) -> float:
        """The dual objective ``l(theta) - (lam/2) ||theta without its intercept row||^2``."""
        T = self.table(theta)
        eta, A, _ = self._terms(T)
        l = float(self.w @ ((self._Y2() * eta).sum(axis=1) - A))
        return l - self.penalty(T)

    def penalty(self, T) -> float:
        """``(lam / 2)`` times the sum of squares of every row but the intercept's (0 unpenalised,
        also when the squares overflow)."""
        return 0.5 * self.lam * float(np.sum(T[:-1] ** 2)) if self.lam > 0 else 0.0

    def gradient(self, theta) -> np.ndarray:
        """Gradient of the objective, an (m, q) table."""
        T = self.table(theta)
        _, _, mu = self._terms(T)
        G = self.X.T @ (self.w[:, None] * (self._Y2() - mu))
        G[:-1] -= self.lam * T[:-1]
        return G

    def neg_hessian(self, theta) -> np.ndarray:
        """Minus the Hessian of the objective, (m q, m q) in the C order of the (m, q) table."""
        T = self.table(theta)
        eta, _, mu = self._terms(T)
        m, q = self.m, self.q
        if self.family == "categorical":
            D = np.einsum("ra,ab->rab", mu, np.eye(q)) - np.einsum("ra,rb->rab", mu, mu)
            H = np.einsum("r,ri,rj,rab->iajb", self.w, self.X, self.X, D).reshape(m * q, m * q)
        else:
            e = eta[:, 0]
            v = {"bernoulli": mu[:, 0] * (1 - mu[:, 0]), "poisson": np.exp(e),
                 "gaussian": np.ones_like(e)}[self.family]
            H = self.X.T @ ((self.w * v)[:, None] * self.X)
        pen = np.zeros((m, q))
        pen[:-1] = self.lam
        return H + np.diag(pen.ravel())

    def eval_tol(self, theta) -> float:
        """Round-off allowance of one float64 evaluation of the objective at theta.

        ``eta = X theta`` carries a relative error of ``m eps`` per term of ``|X| |theta|``, which
        the objective weighs by ``|Y| + |mean|``; the sums over observations and classes add
        ``(n + k) eps`` times the sum of the magnitudes of the terms. The allowance is 16 times
        that: ``16 (m + q + 4) eps S`` with
        ``S = sum_j w_j [(|Y_j|_1 + |mu_j|_1 + 1) max_a (|X_j| |theta|)_a + |A(eta_j)|] + pen``
        plus ``16 n eps`` times the same ``S`` for the accumulation (summation order may differ
        between this file and the checker).
        """
        T = self.table(theta)
        eta, A, mu = self._terms(T)
        mag_eta = (np.abs(self.X) @ np.abs(T)).max(axis=1)
        S = float(self.w @ ((np.abs(self._Y2()).sum(axis=1) + np.abs(mu).sum(axis=1) + 1.0)
                            * mag_eta + np.abs(A)))
        S += self.penalty(T)
        return 16.0 * (self.m + self.q + 4 + self.n) * EPS * S


def free_mask(p: Problem) -> np.ndarray:
    """The pivot gauge: for the categorical family the last class is pinned at zero on every
    unpenalised row (all rows without a penalty, the intercept row with one)."""
    free = np.ones((p.m, p.q), dtype=bool)
    if p.family == "categorical":
        free[-1, -1] = False
        if p.lam == 0:
            free[:, -1] = False
    return free


@dataclasses.dataclass
class Optimum:
    theta: np.ndarray
    opt_hat: float  # -(objective at theta), computed
    gap_est: float  # second-order estimate of (opt_hat - true OPT), round-off aside
    grad_norm: float
    lam_min: float


def solve(p: Problem) -> Optimum:
    """scipy's optimum of the dual (trust-exact on the free entries, analytic derivatives)."""
    free = free_mask(p).ravel()

    def full(beta):
        t = np.zeros(p.m * p.q)
        t[free] = beta
        return t.reshape(p.m, p.q)

    f = lambda b: -p.objective(full(b))  # noqa: E731
    g = lambda b: -p.gradient(full(b)).ravel()[free]  # noqa: E731
    h = lambda b: p.neg_hessian(full(b))[np.ix_(free, free)]  # noqa: E731
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        res = minimize(f, np.zeros(int(free.sum())), jac=g, hess=h, method="trust-exact",
                       options={"gtol": 1e-12, "maxiter": 500})
        beta = res.x
        # two plain Newton steps polish the last digits (trust-exact may stop on its ratio test)
        for _ in range(2):
            try:
                step = np.linalg.solve(h(beta), g(beta))
            except np.linalg.LinAlgError:
                break
            if np.all(np.isfinite(step)) and f(beta - step) <= f(beta):
                beta = beta - step
    T = full(beta)
    gr = g(beta)
    lam_min = float(np.linalg.eigvalsh(h(beta))[0])
    gap = float(gr @ gr) / (2 * lam_min) if lam_min > 0 else np.inf
    theta = T if p.family == "categorical" else T[:, 0]
    return Optimum(theta, -p.objective(theta), gap, float(np.linalg.norm(gr)), lam_min)


def well_solved(p: Problem, o: Optimum) -> bool:
    """The optimum is finite, strictly concave there and accurate to ~1e-10 relative (the data
    are not separated: a separated likelihood has no curvature left along the escape)."""
    return (np.all(np.isfinite(o.theta)) and np.abs(o.theta).max() < 12.0
            and o.lam_min > 1e-6 * p.w.sum() and o.gap_est <= 1e-10 * max(1.0, abs(o.opt_hat)))


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def make_problem(family, n, p_feat, k, lam, weighted, seed) -> Problem:
    """Labels drawn from the family's own model with modest coefficients (noisy, so the data are
    usually not separated; draws that are separated fail :func:`well_solved` and are rejected)."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, p_feat))
    X = np.column_stack([Z, np.ones(n)])
    w = rng.uniform(0.2, 3.0, size=n) if weighted else np.ones(n)
    if family == "categorical":
        B = rng.uniform(-1.0, 1.0, size=(p_feat + 1, k))
        P = softmax(X @ B, axis=1)
        labels = np.array([rng.choice(k, p=row) for row in P])
        labels[: 2 * k] = np.tile(np.arange(k), 2)  # every class present (twice)
        Y = np.eye(k)[labels]
        y_raw = labels
    elif family == "bernoulli":
        b = rng.uniform(-1.0, 1.0, size=p_feat + 1)
        labels = (rng.random(n) < expit(X @ b)).astype(int)
        labels[:4] = [0, 1, 0, 1]
        Y = labels.astype(float)
        y_raw = labels
    elif family == "poisson":
        X[:, :-1] *= 0.5
        b = np.append(rng.uniform(-0.6, 0.6, size=p_feat), rng.uniform(0.0, 1.5))
        Y = rng.poisson(np.exp(X @ b)).astype(float)
        Y[:2] = [1.0, 2.0]
        y_raw = Y
    else:
        b = rng.uniform(-2.0, 2.0, size=p_feat + 1)
        Y = X @ b + rng.normal(size=n)
        y_raw = Y
    return Problem(family, X, Y, w, float(lam), y_raw, bool(weighted))


# --------------------------------------------------------------------------------------------
# the soundness statements
# --------------------------------------------------------------------------------------------
def check_sound(p: Problem, o: Optimum, theta, cert, tol: float = 1e-6) -> None:
    """Every statement the certificate makes about ``OPT`` holds (see the module docstring)."""
    lo_b, up_b, ro = float(cert.lower_bound), float(cert.upper_bound), float(cert.roundoff)
    opt_tol = p.eval_tol(o.theta)
    opt_hi = o.opt_hat + opt_tol  # the true OPT is at most this
    opt_lo = o.opt_hat - opt_tol - o.gap_est  # ... and at least this
    note(f"OPT_hat={o.opt_hat!r} in [{opt_lo!r}, {opt_hi!r}]; lower={lo_b!r} upper={up_b!r} "
         f"roundoff={ro!r} within={getattr(cert, 'within', None)!r} ok={cert.ok!r}")
    note(f"messages={tuple(cert.messages)!r}")

    assert np.isfinite(up_b), "upper_bound must be finite for a finite theta"
    assert np.isfinite(ro) and ro >= 0, f"roundoff must be finite and >= 0; got {ro!r}"
    assert not np.isnan(lo_b) and lo_b < np.inf, f"lower_bound must be a number < inf; {lo_b!r}"

    # upper_bound is -(the objective at theta), to the round-off of one evaluation
    mine = -p.objective(theta)
    assert abs(up_b - mine) <= p.eval_tol(theta), (
        f"upper_bound {up_b!r} != -(objective at theta) {mine!r} "
        f"(diff {up_b - mine:.3e}, allowance {p.eval_tol(theta):.3e})")

    # the bracket contains OPT
    assert lo_b - ro <= opt_hi, f"lower_bound {lo_b!r} exceeds OPT <= {opt_hi!r} (+roundoff {ro})"
    assert opt_lo <= up_b + ro, f"upper_bound {up_b!r} below OPT >= {opt_lo!r} (+roundoff {ro})"
    if np.isinf(lo_b):
        assert len(cert.messages) > 0, "a -inf lower bound must say why in cert.messages"

    # within bounds upper - OPT
    within = float(cert.within)
    assert not np.isnan(within) and within >= 0, f"within must be >= 0; got {within!r}"
    assert up_b - opt_hi <= within + ro, (
        f"within={within!r} but upper - OPT >= {up_b - opt_hi!r} (+roundoff {ro})")

    # no false OK: the relative gap is within tol, by the certificate's own numbers and truly
    if cert.ok:
        scale = max(1.0, abs(up_b))
        assert np.isfinite(lo_b)
        assert (up_b - lo_b) / scale <= tol * (1 + 1e-12), (
            f"ok with relative gap {(up_b - lo_b) / scale:.3e} > tol {tol}")
        assert ro <= tol * scale, f"ok with a roundoff {ro!r} above tol * max(1, |upper|)"
        assert up_b - opt_hi <= tol * scale + ro, (
            f"false OK: upper - OPT >= {up_b - opt_hi:.3e} > tol * max(1,|upper|) + roundoff "
            f"= {tol * scale + ro:.3e}")


THETA_KINDS = ("noise", "zero", "scaled", "swap", "gauge")


def make_theta(p: Problem, o: Optimum, kind: str, u: float, factor: float, seed: int):
    rng = np.random.default_rng(seed + 1)
    if kind == "noise":
        return o.theta + 10.0 ** u * rng.normal(size=o.theta.shape)
    if kind == "zero":
        return np.zeros(p.theta_shape)
    if kind == "scaled":
        return factor * o.theta
    if kind == "swap":
        a, b = rng.choice(p.q, size=2, replace=False)
        t = o.theta.copy()
        t[:, [a, b]] = t[:, [b, a]]
        return t
    # "gauge": the same objective (categorical: a vector added to every class column on the
    # unpenalised rows); the one-parameter families get an intercept shift instead
    t = o.theta.copy()
    c = 10.0 ** u * rng.normal(size=p.m)
    if p.family == "categorical":
        if p.lam > 0:
            c[:-1] = 0.0
        return t + c[:, None]
    t[-1] += c[-1]
    return t


@st.composite
def problems(draw):
    family = draw(st.sampled_from(FAMILIES))
    p_feat = draw(st.integers(1, 3))
    k = draw(st.integers(2, 4)) if family == "categorical" else 1
    n_params = (p_feat + 1) * k
    n = draw(st.integers(min(80, max(20, 6 * n_params)), 80))
    lam = draw(st.one_of(st.just(0.0), st.floats(-1.0, 1.0).map(lambda e: 10.0 ** e)))
    weighted = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return family, n, p_feat, k, lam, weighted, seed


@settings(max_examples=500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(spec=problems(), kind=st.sampled_from(THETA_KINDS), u=st.floats(-6.0, 0.0),
       factor=st.floats(-1.0, 3.0))
def test_bracket_contains_the_optimum(spec, kind, u, factor):
    family, n, p_feat, k, lam, weighted, seed = spec
    note(f"make_problem({family!r}, n={n}, p_feat={p_feat}, k={k}, lam={lam!r}, "
         f"weighted={weighted}, seed={seed}); theta kind={kind!r} u={u!r} factor={factor!r}")
    if kind == "swap" and family != "categorical":
        kind = "noise"
    p = make_problem(family, n, p_feat, k, lam, weighted, seed)
    o = solve(p)
    assume(well_solved(p, o))
    theta = make_theta(p, o, kind, u, factor, seed)
    cert = certify(p.dataset(), theta, **p.kwargs())
    check_sound(p, o, theta, cert)


# --------------------------------------------------------------------------------------------
# no false NOT OK: at scipy's optimum of a well-conditioned problem, the certificate says OK
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("lam", [0.0, 1.0], ids=["none", "l2"])
@pytest.mark.parametrize("family", FAMILIES)
def test_ok_at_the_optimum(family, lam, weighted):
    p = make_problem(family, 200, 2, 3, lam, weighted, seed=7)
    o = solve(p)
    assert well_solved(p, o), (o.grad_norm, o.lam_min, o.gap_est)
    cert = certify(p.dataset(), o.theta, **p.kwargs())
    check_sound(p, o, o.theta, cert)
    assert cert.ok, f"NOT OK at the optimum: {tuple(cert.messages)}"
    assert np.isfinite(cert.lower_bound)
    assert cert.within <= 1e-6 * max(1.0, abs(cert.upper_bound)) + cert.roundoff


# --------------------------------------------------------------------------------------------
# extreme theta: still finite, so still a certificate (or a one-line DualMaxentError)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e2, 1e3, 1e150, 1e200])
@pytest.mark.parametrize("lam", [0.0, 1.0], ids=["none", "l2"])
@pytest.mark.parametrize("family", FAMILIES)
def test_extreme_theta(family, lam, scale):
    """Far from the optimum ``exp`` and squares overflow float64; the certificate may give up
    (``lower_bound = -inf``, ``upper_bound = +inf`` when the objective itself overflows) but
    never states a NaN as a bound, never raises anything but a :class:`DualMaxentError`, never
    puts its bound above ``OPT`` and never says OK."""
    p = make_problem(family, 40, 2, 3, lam, False, seed=11)
    o = solve(p)
    assert well_solved(p, o)
    theta = o.theta + scale * np.random.default_rng(5).normal(size=p.theta_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cert = certify(p.dataset(), theta, **p.kwargs())
        except DualMaxentError as e:
            assert "\n" not in str(e).strip()
            return
        with np.errstate(all="ignore"):
            mine = -p.objective(theta)
    lo_b, up_b, ro = float(cert.lower_bound), float(cert.upper_bound), float(cert.roundoff)
    within = float(cert.within)
    note(f"lower={lo_b!r} upper={up_b!r} roundoff={ro!r} within={within!r} ok={cert.ok!r} "
         f"-l(theta)={mine!r} OPT={o.opt_hat!r}")
    assert not any(np.isnan(v) for v in (lo_b, up_b, ro, within)), "NaN in the certificate"
    assert lo_b < np.inf and ro >= 0 and within >= 0
    assert lo_b - ro <= o.opt_hat + p.eval_tol(o.theta)
    assert up_b + ro >= o.opt_hat
    if np.isfinite(mine):
        assert up_b >= mine - 1e-12 * abs(mine)
    else:
        assert up_b == np.inf
    assert not cert.ok, f"OK at a theta {up_b - o.opt_hat!r} nats above the optimum"


# --------------------------------------------------------------------------------------------
# separated data: the supremum is not attained, the bracket must still contain it
# --------------------------------------------------------------------------------------------
def separated_problem(family, n, p_feat, k, seed):
    """Separated data, whose supremum ``OPT`` is known, and the directions approaching it.

    * categorical: labels by the nearest of ``k`` data rows (a Voronoi split, linearly separable
      with an intercept); bernoulli: the sign of a random direction, split at its median. Both
      are completely separated, so the likelihood's supremum is 0 and ``OPT = 0`` exactly.
    * poisson: the zero counts have ``x1 < 0`` and the positive counts ``x1 = 0``: along
      ``+x1`` the zeros' means go to 0 and the positives' are unchanged, so the supremum is the
      Poisson fit of the positive counts on the other columns (computed here by :func:`solve`).

    Returns ``(problem, OPT, theta_sup, d)``: ``theta_sup + s * d`` approaches the supremum as
    ``s`` grows (``theta_sup`` is zero for the first two families, ``d`` the separating
    direction).
    """
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, p_feat))
    X = np.column_stack([Z, np.ones(n)])
    w = np.ones(n)
    if family == "categorical":
        C = Z[rng.choice(n, size=k, replace=False)]
        V = np.vstack([C.T, -0.5 * np.sum(C * C, axis=1)])
        labels = np.argmax(X @ V, axis=1)
        p = Problem(family, X, np.eye(k)[labels], w, 0.0, labels, False)
        return p, 0.0, np.zeros(p.theta_shape), V
    if family == "bernoulli":
        v = rng.normal(size=p_feat + 1)
        v[-1] = -np.median(Z @ v[:-1])
        labels = (X @ v > 0).astype(int)
        p = Problem(family, X, labels.astype(float), w, 0.0, labels, False)
        return p, 0.0, np.zeros(p.theta_shape), v
    Y = rng.poisson(3.0, size=n).astype(float) + 1.0
    zero = np.arange(n) % 3 == 0
    Y[zero] = 0.0
    X[:, 0] = np.where(zero, -np.abs(Z[:, 0]) - 0.1, 0.0)
    p = Problem(family, X, Y, w, 0.0, Y, False)
    sub = Problem(family, X[~zero][:, 1:], Y[~zero], w[~zero], 0.0, Y[~zero], False)
    o = solve(sub)
    assert well_solved(sub, o)
    theta_sup = np.concatenate([[0.0], o.theta])
    d = np.zeros(p.m)
    d[0] = 1.0
    return p, o.opt_hat, theta_sup, d


@settings(max_examples=50, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(("categorical", "bernoulli", "poisson")), n=st.integers(12, 40),
       p_feat=st.integers(1, 2), k=st.integers(2, 3), seed=st.integers(0, 2**31 - 1),
       kind=st.sampled_from(("zero", "random", "direction")),
       scale=st.floats(-1.0, 3.0).map(lambda e: 10.0 ** e))
def test_bracket_on_separated_data(family, n, p_feat, k, seed, kind, scale):
    p, opt, theta_sup, d = separated_problem(family, n, p_feat, k, seed)
    note(f"separated_problem({family!r}, n={n}, p_feat={p_feat}, k={k}, seed={seed}); "
         f"kind={kind!r} scale={scale!r}; OPT={opt!r}")
    rng = np.random.default_rng(seed + 2)
    shape = p.theta_shape
    if kind == "zero":
        theta = np.zeros(shape)
    elif kind == "direction":
        theta = theta_sup + scale * d
    else:
        theta = scale * 0.1 * rng.normal(size=shape)
    cert = certify(p.dataset(), theta)
    lo_b, up_b, ro = float(cert.lower_bound), float(cert.upper_bound), float(cert.roundoff)
    note(f"lower={lo_b!r} upper={up_b!r} roundoff={ro!r} within={cert.within!r} "
         f"ok={cert.ok!r} {tuple(cert.messages)}")
    # the bracket contains the supremum (0, or the fit of the positive counts) ...
    opt_tol = 1e-9 * max(1.0, abs(opt))
    assert lo_b <= up_b + ro
    assert lo_b - ro <= opt + opt_tol, f"lower_bound {lo_b!r} above the supremum {opt!r}"
    assert opt - opt_tol <= up_b + ro, f"upper_bound {up_b!r} below the supremum {opt!r}"
    # ... and the necessary condition: every -l(theta') is at least OPT, hence >= the lower bound
    probes = [np.zeros(shape), theta] + [theta_sup + s * d for s in (1.0, 10.0, 1e2, 1e3, 1e4)]
    probes += [0.3 * rng.normal(size=shape) for _ in range(3)]
    for t in probes:
        assert lo_b - ro <= -p.objective(t) + p.eval_tol(t), (
            f"lower_bound {lo_b!r} exceeds -l(theta') = {-p.objective(t)!r}")
    # upper_bound is the objective at the *given* theta (not at a reduced problem's theta), so
    # within and ok speak about the given theta too
    mine = -p.objective(theta)
    assert abs(up_b - mine) <= p.eval_tol(theta), (
        f"upper_bound {up_b!r} != -(objective at theta) {mine!r} on separated data")
    assert mine - opt - opt_tol <= float(cert.within) + ro, (
        f"within={cert.within!r} understates -l(theta) - OPT = {mine - opt!r}")
    if cert.ok:
        assert mine - opt - opt_tol <= 1e-6 * max(1.0, abs(mine)) + ro, (
            f"false OK: theta is {mine - opt!r} nats above the supremum")


# --------------------------------------------------------------------------------------------
# bad theta: one-line DualMaxentError naming the expected shape
# --------------------------------------------------------------------------------------------
def _wrong_shapes(m, k, family):
    if family == "categorical":
        return [(m,), (m, k + 1), (m, k - 1), (m + 1, k), (k, m), (m * k,), (m, k, 1), ()]
    return [(m + 1,), (m - 1,), (m, 2), (1, m + 1), ()]


@pytest.mark.parametrize("family", FAMILIES)
def test_wrong_shape_raises(family):
    p = make_problem(family, 60, 2, 3, 0.0, False, seed=3)
    ds = p.dataset()
    expected = p.theta_shape
    for shape in _wrong_shapes(p.m, p.q, family):
        if shape == expected:
            continue
        with pytest.raises(DualMaxentError) as info:
            certify(ds, np.full(shape, 0.1))
        msg = str(info.value)
        assert "\n" not in msg.strip(), f"multi-line message for shape {shape}: {msg!r}"
        assert str(expected) in msg, f"message for shape {shape} does not name {expected}: {msg!r}"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("family", FAMILIES)
def test_non_finite_theta_raises(family, bad):
    p = make_problem(family, 60, 2, 3, 0.0, False, seed=3)
    theta = np.zeros(p.theta_shape)
    theta.flat[1] = bad
    for kwargs in ({}, {"l2": 1.0}):
        with pytest.raises(DualMaxentError) as info:
            certify(p.dataset(), theta, **kwargs)
        msg = str(info.value)
        assert msg.strip() and "\n" not in msg.strip(), f"not one line: {msg!r}"
        assert any(s in msg.lower() for s in ("finite", "nan", "inf")), msg
        assert str(p.theta_shape) in msg, f"message does not name {p.theta_shape}: {msg!r}"


@pytest.mark.parametrize("family", ["bernoulli", "categorical"])
def test_gradient_budget_from_its_definition(family):
    """Pass 1's rounding budget of the gradient ``R = X^T W (Y - mu)``, recomputed from its
    definition: ``|X|^T W (gamma(n + 2) |Y - mu| + 4 u |mu| + s_j e_j)`` with ``s_j`` the
    mean's sensitivity ``|d mu_j / d eta_j|`` (the curvature for one parameter, twice the
    largest probability's for the categorical family), ``e_j`` the proved error of ``eta_j``
    (``gamma(m + 1) (1 + gamma(2 m + 8)) |x_j| max_c |theta_c|``), and ``n`` the rows of *all*
    blocks, since the block sums are added up: weights below one (where a second factor ``w_j``
    would shrink the budget) and a block of a quarter of the rows."""
    rng = np.random.default_rng(11)
    n, m, k = 400, 5, 3
    X = rng.standard_normal((n, m))
    y = rng.integers(0, 2 if family == "bernoulli" else k, n)
    data = Dataset.from_arrays(X, y, weights=rng.uniform(0.05, 0.5, n),
                               family=family)
    Xd, Y, w = data.X, data.Y, data.weights
    mm = Xd.shape[1]
    theta = 0.3 * rng.standard_normal((mm, 1 if family == "bernoulli" else k))
    eta = Xd @ theta
    if family == "bernoulli":
        mu = expit(eta)
        sens = mu * (1 - mu)
        Y2 = Y.reshape(n, 1)
    else:
        mu = softmax(eta, axis=1)
        sens = np.repeat(2.0 * mu.max(axis=1, keepdims=True), k, axis=1)
        Y2 = Y
    gam = certify_module.gamma
    e = (gam(mm + 1) * (1 + gam(2 * mm + 8)) * np.sqrt((Xd ** 2).sum(axis=1))
         * np.sqrt((theta ** 2).sum(axis=0)).max())
    weights = w[:, None] * (gam(n + 2) * np.abs(Y2 - mu) + 4 * 2.0 ** -53 * np.abs(mu)
                            + sens * e[:, None])
    expected = np.abs(Xd).T @ weights
    block = slice(0, n // 4)
    sel = np.zeros(0, dtype=int)
    one = certify_module._pass_one(Xd[block], Y[block], w[block], None, theta, data.family,
                                   sel, False, n, curvature=False)
    part = np.abs(Xd[block]).T @ weights[block]
    # the same sums in another order: a few ulps apart at most
    np.testing.assert_allclose(one.grad_budget, part, rtol=1e-12)
    whole = certify_module._pass_one(Xd, Y, w, None, theta, data.family, sel, False, n,
                                     curvature=False)
    np.testing.assert_allclose(whole.grad_budget, expected, rtol=1e-12)


def test_the_gap_budget_charges_the_penalty_over_its_own_number_of_terms():
    """The penalty ``(lam / 2) ||theta_R||^2`` is a sum of ``|R| q`` nonnegative terms, each
    squared and the sum scaled: its rounding is at most ``gamma(|R| q + 2)`` of its value, in
    any order. With many more entries than rows and columns (20 rows, 200 columns, ten
    classes: 2000 entries) and a theta whose penalty dwarfs the likelihood (large entries on
    columns of tiny scale), the gap's budget must cover that alone."""
    from dualmaxent import Dataset
    from dualmaxent.certify import bracket
    from dualmaxent.params import make_penalty

    rng = np.random.default_rng(4)
    n, m, k = 20, 200, 10
    X = 1e-6 * rng.standard_normal((n, m))
    ds = Dataset.from_arrays(X, np.arange(n) % k)
    theta = 1e3 * rng.standard_normal((ds.m, k))
    theta[-1] = 0.0  # the intercept row, unpenalised
    lam = 0.5
    br = bracket(ds, theta, make_penalty(l2=lam))
    entries = (ds.m - 1) * k
    pen = 0.5 * lam * float(np.sum(theta[:-1] ** 2))
    u = 2.0 ** -53
    assert br.roundoff >= (entries + 2) * u / (1 - (entries + 2) * u) * pen


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "gaussian"])
def test_nearly_collinear_columns_are_not_certified_from_the_stand_in(family):
    """Two columns equal to 1e-8 (full rank to the identifiability's QR, a flat direction of
    the curvature): the theta of the fit without the second column is far from the optimum
    (theta* is of order 1e8 along the columns' difference), and the stepped point's residual,
    charged with that theta standing in for theta*, gave a lower bound above the optimum. The
    optimum is bounded here from above independently: the fit on the well-conditioned
    reparameterisation ``(x1, (x2 - x1) / 1e-8, x3)``, mapped back, its objective evaluated
    in written-out numpy. The certificate must not claim a lower bound above it: it proves
    nothing and says so. Duplicated columns (an exact dependency) stay certified."""
    rng = np.random.default_rng(0)
    n = 200
    x1, x3, z = rng.normal(size=(3, n))
    x2 = x1 + 1e-8 * z
    y = {"bernoulli": (rng.random(n) < expit(x1 + z)).astype(float),
         "poisson": rng.poisson(np.exp(0.3 * (x1 + z))).astype(float),
         "gaussian": x1 + z + rng.normal(size=n)}[family]
    full = Dataset.from_arrays(np.c_[x1, x2, x3], y, family=family)
    assert full.rank == 4
    reduced = solve_dual(Dataset.from_arrays(np.c_[x1, x3], y, family=family), tol=1e-12).theta
    good = solve_dual(Dataset.from_arrays(np.c_[x1, z, x3], y, family=family), tol=1e-12).theta
    mapped = np.array([good[0] - good[1] / 1e-8, good[1] / 1e-8, good[2], good[3]])
    eta = np.c_[x1, x2, x3, np.ones(n)] @ mapped
    A = {"bernoulli": np.logaddexp(0.0, eta), "poisson": np.exp(eta), "gaussian": eta**2 / 2}
    opt_above = float(np.sum(A[family] - y * eta))  # -l(theta) at a feasible theta >= OPT
    cert = certify(full, np.insert(reduced, 1, 0.0))
    assert cert.lower_bound - cert.roundoff <= opt_above + 1e-6 * abs(opt_above)
    assert not cert.ok and not np.isfinite(cert.within) and cert.projected.flat
    assert any("nearly collinear" in m for m in cert.messages)
    dup = Dataset.from_arrays(np.c_[x1, x1, x3], y, family=family)
    ok = certify(dup, np.insert(reduced, 1, 0.0))
    assert ok.ok and ok.within <= 1e-6 * max(1.0, abs(ok.upper_bound)), ok.messages


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "gaussian", "categorical"])
@pytest.mark.parametrize("eps", [1e-10, 1e-12])
def test_a_near_dependency_named_by_the_rank_is_not_certified(family, eps):
    """``x2 = x1 + eps z`` below the QR's rank tolerance: named ``x2 = x1``, and the fit made
    modulo it, but ``z`` is in the data (to 6 and 4 digits) and the optimum takes it with
    coefficients of order ``1 / eps``. The checker once treated the dependency as exact and
    printed OK for a theta tens of nats from the optimum. Here the optimum is bounded from
    above independently (the fit on ``(x1, z)``, mapped back and evaluated on the given columns
    in written-out numpy); the certificate's proved statement ``upper - within <= OPT`` must
    hold, and it proves nothing and says why."""
    rng = np.random.default_rng(1)
    n = 300
    x1, z = rng.normal(size=(2, n))
    signal = 0.5 * x1 + 1.5 * z
    y = {"bernoulli": (rng.random(n) < expit(signal)).astype(float),
         "poisson": rng.poisson(np.exp(0.3 * signal)).astype(float),
         "gaussian": signal + rng.normal(size=n),
         "categorical": np.digitize(signal + rng.logistic(size=n), [-1.0, 1.0])}[family]
    data = Dataset.from_arrays(np.c_[x1, x1 + eps * z], y, family=family)
    assert data.rank == 2  # named a dependency
    good = solve_dual(Dataset.from_arrays(np.c_[x1, z], y, family=family), tol=1e-12).theta
    good = good.reshape(3, -1)
    mapped = np.stack([good[0] - good[1] / eps, good[1] / eps, good[2]])
    eta = np.c_[x1, x1 + eps * z, np.ones(n)] @ mapped
    if family == "categorical":
        top = eta.max(axis=1)
        lse = top + np.log(np.exp(eta - top[:, None]).sum(axis=1))
        opt_above = float(np.sum(lse - eta[np.arange(n), y]))
    else:
        eta = eta[:, 0]
        A = {"bernoulli": np.logaddexp(0.0, eta), "poisson": np.exp(eta),
             "gaussian": eta**2 / 2}[family]
        opt_above = float(np.sum(A - y * eta))
    cert = certify(data, solve_dual(data).theta)
    assert cert.upper_bound - cert.within <= opt_above + 1e-9 * abs(opt_above)
    assert cert.upper_bound - opt_above > 1.0  # (the reduced fit is far from the optimum)
    assert not cert.ok and cert.projected.flat == "near"
    assert any("only nearly" in m for m in cert.messages)


def test_the_verdict_counts_the_round_off_budget(monkeypatch):
    """``ok`` means theta is proved within ``tol`` of the optimum: the round-off budget is part
    of that proof. A class of zero total weight (its probability runs to 0, the penalised
    bracket's budget infinite) closed its gap and was printed OK; it is not, and says what it
    proved. (The unpenalised problem's point bounds it with a finite budget, a penalty being
    never negative; the verdict is still NOT OK, the penalised optimum not attained. The
    budget's test is taken with that point off.) Columns scaled by 1e8 and 1e-8 took the
    budget to tens of nats once (the logits' error bounded through the rows' norm, the sums'
    through ``gamma(n)``): the same likelihood as the unscaled design's at theta scaled back
    (the logits are the same numbers), now proved to the same bracket, within the two
    budgets."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    data = Dataset.from_arrays(X, y, family="bernoulli", weights=(y == 1).astype(float))
    theta = solve_dual(data, l2=1.0).theta
    free = certify(data, theta, l2=1.0)
    assert free.projected.unpenalised and np.isfinite(free.roundoff)
    assert not free.ok and any("not attained" in m for m in free.messages)
    monkeypatch.setattr(certify_module, "_unpenalised_lower", lambda data, theta, pen, br, *a: br)
    cert = certify(data, theta, l2=1.0)
    assert cert.relative_gap <= cert.tol  # the gap closes
    assert not cert.roundoff <= cert.tol * max(1.0, abs(cert.upper_bound))
    assert not cert.ok and any("round-off budget" in m for m in cert.messages)
    assert cert.within >= cert.roundoff
    # not a nearly collinear design: the message does not say so
    assert not cert.projected.flat and not any("collinear" in m for m in cert.messages)
    monkeypatch.undo()
    scale = np.array([1e8, 1.0, 1e-8, 1.0])  # (the intercept last, unscaled)
    wide = Dataset.from_arrays(X * scale[:3], y, family="bernoulli")
    plain = Dataset.from_arrays(X, y, family="bernoulli")
    theta = np.asarray(solve_dual(wide).theta, dtype=float)
    cert = certify(wide, theta)
    same = certify(plain, theta * scale)
    assert cert.ok, cert.messages
    assert cert.roundoff <= cert.tol * max(1.0, abs(cert.upper_bound))
    assert abs(cert.upper_bound - same.upper_bound) <= cert.roundoff + same.roundoff
    assert abs(cert.lower_bound - same.lower_bound) <= cert.roundoff + same.roundoff


@pytest.mark.parametrize("shift", [0.0, 1e4])
def test_a_wrong_least_squares_fit_is_not_ok_whatever_the_mean_of_y(shift):
    """The gaussian objective ``sum (eta^2 / 2 - y eta)`` carries the data's constant ``-sum
    y^2 / 2``: with y shifted by 1e4 a fit 939 nats off was 2e-7 of ``|upper|`` and printed OK.
    Its gap beyond round-off is judged against half the residual sum of squares at theta too,
    recomputed here, and the exact fit stays OK."""
    from sklearn.linear_model import LinearRegression

    from dualmaxent.adapters import certify_model

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = shift + X @ [1.0, 2.0] + rng.normal(size=100)
    model = LinearRegression().fit(X, y)
    assert certify_model(model, X, y).ok
    model.coef_ += 3.0
    cert = certify_model(model, X, y)
    half_rss = 0.5 * float(np.sum((y - model.predict(X)) ** 2))
    assert cert.duality_gap - cert.roundoff > cert.tol * half_rss  # the fit is far off
    assert not cert.ok


def _objective_difference(X, y, theta_a, theta_b, family) -> float:
    """``f(theta_a) - f(theta_b)`` of the unpenalised dual objective ``sum A(eta) - y eta``, in
    40 digits from the float64 inputs: no float64 sum of either objective (1e17 nats at y ~
    1e8) resolves a difference of a few nats."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 40
        ta = [Decimal(float(v)) for v in theta_a]
        tb = [Decimal(float(v)) for v in theta_b]
        total = Decimal(0)
        for x_j, y_j in zip(X, y):
            xs = [Decimal(float(v)) for v in x_j]
            ea = sum(a * b for a, b in zip(xs, ta))
            eb = sum(a * b for a, b in zip(xs, tb))
            A = ((ea * ea - eb * eb) / 2 if family == "gaussian" else ea.exp() - eb.exp())
            total += A - Decimal(float(y_j)) * (ea - eb)
        return float(total)


@pytest.mark.parametrize("family, offset", [("gaussian", 1e6), ("gaussian", 1e8),
                                            ("poisson", 1e12), ("poisson", 1e15)])
def test_a_fit_far_from_zero_is_judged_by_its_own_excess(family, offset):
    """Least squares with y near 1e8 and counts near 1e15: the objective is mostly the data's
    constant (1e17 nats), so a slope 1000 nats off was within its round-off budget and printed
    OK. The gap is evaluated centred (Fenchel-Young's divergence at the point, held as ``mu~ -
    Y``, plus ``<theta, r>``), so the exact fit is proved within a millionth of its own excess
    and the moved one is not; ``within`` bounds every theta's distance from the optimum, which is
    recomputed here in 40 digits against a reference fit (centred least squares; for the Poisson
    family the solver's own)."""
    rng = np.random.default_rng(3)
    n = 300
    Z = rng.normal(size=(n, 2)) * (1.0 if family == "gaussian" else 0.1)
    X = np.c_[Z, np.ones(n)]
    if family == "gaussian":
        y = offset + Z @ [1.0, -2.0] + rng.normal(size=n)
        ref, *_ = np.linalg.lstsq(X, y - offset, rcond=None)
        ref[-1] += offset
    else:
        lam = offset * np.exp(Z @ [1.0, -0.5])
        y = np.round(lam + np.sqrt(lam) * rng.normal(size=n))
    ds = Dataset.from_arrays(Z, y, family=family)
    if family == "poisson":
        ref = np.asarray(solve_dual(ds).theta, dtype=np.float64)
    cert = certify(ds, ref)
    assert cert.ok, cert.messages
    excess = cert.projected.excess_reference
    assert cert.within <= cert.tol * excess
    moved = ref.copy()
    moved[0] += 0.2 if family == "gaussian" else 1e-6
    far = _objective_difference(X, y, moved, ref, family)
    assert far > 10 * cert.tol * excess  # the moved theta is far, by its own excess
    wrong = certify(ds, moved)
    assert not wrong.ok
    assert wrong.within >= far  # (f(ref) >= OPT)


@pytest.mark.parametrize("family, offset", [("gaussian", 1e4), ("gaussian", 1e6),
                                            ("poisson", 1e9)])
@pytest.mark.parametrize("l1_ratio", [None, 0.5])
def test_an_l1_fit_far_from_zero_is_judged_centred_inside_its_segment(family, offset, l1_ratio):
    """L1 and the elastic net with y near 1e6 (counts near 1e9), the fit's excess 8 nats: the
    Newton point ``mu~`` lies a rounding past an L1 box, so the lower bound is taken inside
    its segment, where the gap was the difference of two bounds of 1e14 nats: a round-off of
    21 nats, NOT OK for the exact fit, and the segment's point chosen by those bounds' rounding
    (``t = 0.992``). Inside the segment the gap is now evaluated centred too (the point's own
    divergence, its ``t`` chosen by the divergence's convexity). Each seed's fit is proved within a millionth of its excess, and ``within``
    bounds its distance from the optimum and a moved theta's, recomputed here in 40 digits
    against a reference fit at tol 1e-13 (for least squares on ``y - offset``, whose intercept
    is the one that moves)."""
    lam, n = 1.0, 300
    penalty = dict(l1=lam, l1_ratio=l1_ratio)
    a = 1.0 if l1_ratio is None else l1_ratio

    def objective_difference(theta_a, theta_b):
        pen = lambda t: lam * (a * np.abs(t[:-1]).sum() + (1 - a) / 2 * (t[:-1] ** 2).sum())
        return (_objective_difference(X, y, theta_a, theta_b, family)
                + float(pen(theta_a) - pen(theta_b)))

    for seed in range(4):
        rng = np.random.default_rng(seed)
        Z = rng.normal(size=(n, 6)) * (1.0 if family == "gaussian" else 1e-4)
        X = np.c_[Z, np.ones(n)]
        beta = np.array([1.0, -2.0, 0.5, 0.0, 0.0, 3.0])
        if family == "gaussian":
            y = offset + Z @ beta + 0.1 * rng.normal(size=n)
            centred = Dataset.from_arrays(Z, y - offset, family=family)
            ref = np.asarray(solve_dual(centred, tol=1e-13, **penalty).theta, dtype=np.float64)
            ref[-1] += offset
        else:
            mean = offset * np.exp(Z @ beta)
            y = np.round(mean + np.sqrt(mean) * rng.normal(size=n))
        ds = Dataset.from_arrays(Z, y, family=family)
        if family == "poisson":
            ref = np.asarray(solve_dual(ds, tol=1e-13, **penalty).theta, dtype=np.float64)
        fit = np.asarray(solve_dual(ds, **penalty).theta, dtype=np.float64)
        cert = certify(ds, fit, **penalty)
        excess = cert.projected.excess_reference
        assert cert.ok, (seed, cert.messages)
        assert cert.within <= cert.tol * excess
        assert cert.within >= objective_difference(fit, ref)  # (f(ref) >= OPT)
        moved = fit.copy()
        moved[0] += 1e-3 if family == "gaussian" else 1.0
        wrong = certify(ds, moved, **penalty)
        far = objective_difference(moved, ref)
        assert far > 10 * cert.tol * excess  # the moved theta is far, by its own excess
        assert not wrong.ok
        assert wrong.within >= far


def test_the_gap_inside_the_segment_is_the_points_own():
    """A weak L1 fit (lam = 0.01) of least squares with features of sizes 1e-2 to 1e2: the
    Newton point lies past an L1 box by up to 1e-7 of itself, so the lower bound is taken at
    ``p = Y + t (mu~ - Y)``, ``1 - t`` up to 1.4e-7. There the divergence was bounded by
    convexity, ``(1 - t)`` times the data's (1e7 nats): 1.4 nats more than the point's own
    gap. The segment's pass now sums the point's divergence itself, so the printed gap is
    ``dual(theta) - H(p)`` (L1's boxes hold at ``p``: no charge) to within its round-off;
    recomputed here in 50 digits from the point the bracket reports (its entries as given,
    each a rounding from the exact point: ``|p| u`` each, at most ``|p| u`` in ``p^2 / 2``)."""
    from decimal import Decimal, localcontext

    lam, n, m = 0.01, 2000, 8
    inside = 0
    for seed in range(0, 40, 2):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, m)) * 10.0 ** rng.uniform(-2, 2, m)
        Z = (X - X.mean(0)) / X.std(0)
        y = 1e3 * (Z @ (rng.standard_normal(m) * 0.5)) + 100 * rng.standard_normal(n)
        ds = Dataset.from_arrays(X, y, family="gaussian")
        theta = np.asarray(solve_dual(ds, l1=lam).theta, dtype=np.float64)
        cert = certify(ds, theta, l1=lam)
        br = cert.projected
        assert cert.ok, cert.messages
        if not br.segment < 1.0:
            continue
        inside += 1
        p = br.mu
        eta = np.c_[X, np.ones(n)] @ theta
        with localcontext() as ctx:
            ctx.prec = 50
            total = Decimal(0)
            for x_j, y_j, p_j in zip(np.c_[X, np.ones(n)], y, p):
                e = sum(Decimal(float(a)) * Decimal(float(b)) for a, b in zip(x_j, theta))
                total += e * e / 2 - Decimal(float(y_j)) * e + Decimal(float(p_j)) ** 2 / 2
            total += Decimal(lam) * sum(Decimal(abs(float(v))) for v in theta[:-1])
            gap = float(total)
        point_rounding = float(np.sum(np.abs(p) * np.abs(p))) * EPS
        note(f"seed {seed}: 1 - t = {1 - br.segment:.1e}, gap {cert.duality_gap:.3e}, exact "
             f"{gap:.3e}, round-off {cert.roundoff:.1e}, eta {np.abs(eta).max():.1e}")
        assert abs(cert.duality_gap - gap) <= cert.roundoff + point_rounding
    assert inside >= 5  # (the case under test: most of these fits' points are past a box)


@pytest.mark.parametrize("family", ["gaussian", "bernoulli"])
def test_a_moderately_collinear_design_charges_the_newton_points_own_multiplier(family):
    """Below the condition where nothing is proved (here about 3e5), the Newton point's
    residual is charged with ``|theta + a| + |a|`` (the step ``a``): the given theta alone,
    the fit without one of two columns equal to 5e-6 (zero inserted), misses theta*'s large
    part along their difference, and the lower bound rose above the optimum (by 1.85 nats on
    a least-squares problem of 2e4 rows at 2e-6). The optimum is bounded above independently:
    the fit on the reparameterisation ``(x1, (x2 - x1) / eps, x3)``, mapped back, its
    objective written out in numpy; ``within`` must cover ``upper - OPT`` too."""
    from dualmaxent.certify import stand_in_condition_max

    rng = np.random.default_rng(9001)
    n, eps = 20000, 5e-6
    x1, x3, z = rng.normal(size=(3, n))
    x2 = x1 + eps * z
    eta0 = 0.5 * x1 + 0.8 * z - 0.3 * x3
    y = (x1 + z + rng.normal(size=n) if family == "gaussian"
         else (rng.random(n) < expit(eta0)).astype(float))
    full = Dataset.from_arrays(np.c_[x1, x2, x3], y, family=family)
    assert 1e4 < full.identifiability.condition < stand_in_condition_max(4)
    drop = solve_dual(Dataset.from_arrays(np.c_[x1, x3], y, family=family), tol=1e-12).theta
    good = solve_dual(Dataset.from_arrays(np.c_[x1, z, x3], y, family=family), tol=1e-12).theta
    mapped = np.array([good[0] - good[1] / eps, good[1] / eps, good[2], good[3]])
    eta = np.c_[x1, x2, x3, np.ones(n)] @ mapped
    A = np.logaddexp(0.0, eta) if family == "bernoulli" else eta**2 / 2
    terms = A - y * eta
    opt_above = float(np.sum(terms)) + 1e-12 * float(np.sum(np.abs(terms)))  # -l >= OPT
    cert = certify(full, np.insert(drop, 1, 0.0))
    assert cert.lower_bound - cert.roundoff <= opt_above
    assert cert.upper_bound - opt_above <= cert.within


def test_the_logits_error_bound_reads_the_columns_largest_entries(monkeypatch):
    """Pass 1 bounds each logit's rounding by ``gamma(m + 1) sum_i |x_ji theta_ic|`` from
    above, through the row's norm times theta's (Cauchy-Schwarz) and through ``_eta_cap``, the
    columns' largest entries against theta's: the cap is at least that sum on every row (from
    its definition), each computed logit is within ``gamma(m + 1)`` times it of the exact one
    (rational arithmetic, on rows of the widest entries), and on a feature near 1e6 beside an
    intercept of some hundreds, where the row's norm meets theta's largest entry, the bracket's
    round-off falls a hundredfold with it."""
    from fractions import Fraction

    rng = np.random.default_rng(7)
    n = 4000
    Z = rng.standard_normal((n, 3))
    X = np.column_stack([1e6 + 2e3 * Z[:, 0], Z[:, 1], 0.01 * Z[:, 2]])
    y = (rng.random(n) < expit(Z @ np.array([1.0, -0.5, 0.7]))).astype(int)
    data = Dataset.from_arrays(X, y, family="bernoulli")
    theta = np.asarray(solve_dual(data, l2=1.0).theta, dtype=float)
    th = theta.reshape(data.m, 1)
    cap = certify_module._eta_cap(data, th)
    sums = np.abs(data.X) @ np.abs(th)
    assert cap >= float(sums.max())
    g = certify_module.gamma(data.m + 1)
    eta = data.X @ th
    for j in np.argsort(-np.abs(data.X[:, 0]))[:20]:
        exact = sum(Fraction(float(x)) * Fraction(float(t)) for x, t in zip(data.X[j], th[:, 0]))
        assert abs(Fraction(float(eta[j, 0])) - exact) <= Fraction(g * cap)
    cert = certify(data, theta, l2=1.0)
    monkeypatch.setattr(certify_module, "_eta_cap", lambda *a: None)
    loose = certify(data, theta, l2=1.0)
    assert cert.ok, cert.messages
    assert loose.roundoff > 100 * cert.roundoff


def test_the_sums_depth_counts_every_rounding_on_a_terms_path():
    """``sum_depth(n, rows)``: a sum over ``n`` rows formed in blocks of ``rows`` (any order
    within a block: a binary tree, at most ``b - 1`` additions on a term's path), each term's
    product with its weight (one rounding), then the blocks' sums added in turn (``blocks -
    1`` more) meets at most ``sum_depth`` roundings, and never more than ``n`` is claimed (one
    block, or blocks so small that adding them up is the longer path)."""
    depth = certify_module.sum_depth
    for n, rows in [(1, 1), (10, 3), (1000, 1000), (1000, 4000), (12345, 256), (10**6, 4927),
                    (10**6, 1), (7, 2)]:
        b = min(rows, n)
        blocks = -(-n // b)
        longest = (b - 1) + 1 + (blocks - 1)
        assert longest <= depth(n, rows) <= n
    assert depth(10**6, 4927) < 10**6 / 100  # (the bracket's sums at n = 1e6: 195 times fewer)


@pytest.mark.parametrize("family", ["bernoulli", "categorical"])
def test_blocked_sums_are_within_their_depths_bound_and_shrink_the_round_off(family,
                                                                             monkeypatch):
    """In memory a dense design is summed in row blocks: the residual ``R = X^T W (Y - mu)``
    of pass 1 is within ``gamma(L + 2) |X|^T W |Y - mu|`` of its exact value (the stored
    numbers as fractions), ``L`` the runner's depth (:func:`sum_depth`), far below ``n``; the
    bracket's round-off charged with it is a fraction of the one-block bracket's, whose sums
    run over all ``n`` rows, on the same theta; and either bracket holds the optimum (a tight
    solve's value) within its round-off, at the solver's theta and at one moved off it."""
    from fractions import Fraction

    rng = np.random.default_rng(21)
    n, p = 6000, 5
    X = rng.standard_normal((n, p)) + 3.0
    k = 2 if family == "bernoulli" else 3
    eta = X @ rng.standard_normal((p, k)) * 0.4
    y = np.array([rng.choice(k, p=row) for row in softmax(eta, axis=1)])
    ds = Dataset.from_arrays(X, y, weights=rng.uniform(0.2, 2.0, n), family=family)
    theta = np.asarray(solve_dual(ds, tol=1e-13).theta, dtype=float)
    one_block = certify_module.certify(ds, theta, tol=1e-12)
    monkeypatch.setattr(certify_module, "BLOCK_BYTES", 1 << 13)  # (the 256-row floor)
    run = certify_module._runner(ds, None, None)
    assert run.depth == certify_module.sum_depth(n, 256) < n / 10
    q = ds.Y.reshape(n, -1).shape[1]
    th = theta.reshape(ds.m, q)
    one = run(certify_module._pass_one, th, ds.family, np.zeros(0, dtype=int), False,
              run.depth, curvature=False)
    mu = expit(ds.X @ th) if q == 1 else softmax(ds.X @ th, axis=1)
    Y = ds.Y.reshape(n, q)
    size = np.abs(ds.X).T @ (ds.weights[:, None] * np.abs(Y - mu))
    g = certify_module.gamma(run.depth + 2)
    for i in (0, ds.m - 1):
        for c in range(q):
            # the exact sum of the computed means' terms, and the means' own rounding (a few
            # u of each, far inside the depth's bound, which covers the sums alone)
            exact = sum(Fraction(float(x)) * Fraction(float(w)) * (Fraction(float(yy))
                                                                   - Fraction(float(mm)))
                        for x, w, yy, mm in zip(ds.X[:, i], ds.weights, Y[:, c], mu[:, c]))
            slack = 16 * certify_module.U * size[i, c]
            assert abs(Fraction(float(one.R[i, c])) - exact) <= Fraction(
                float(g * size[i, c] + slack))
    blocked = certify_module.certify(ds, theta, tol=1e-12)
    assert blocked.roundoff < one_block.roundoff / 4, (blocked.roundoff, one_block.roundoff)
    optimum = one_block.upper_bound
    moved = theta.copy()
    moved[0] += 1e-5
    for cert in (blocked, one_block, certify_module.certify(ds, moved, tol=1e-12)):
        assert cert.lower_bound - cert.roundoff <= optimum + one_block.within
        assert optimum - one_block.within <= cert.upper_bound + cert.roundoff


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "gaussian", "categorical"])
def test_a_very_weak_penalty_is_bracketed_from_the_unpenalised_point(family):
    """A penalty is never negative, so the penalised optimum is at least the unpenalised one,
    and any point meeting the balance equations exactly bounds both from below. Under L2 at
    ``lam = 1e-50`` the penalised point's charge for its slack, ``||s||^2 / (2 lam)`` with
    ``s`` at its rounding, took the bracket to 1e22 nats (NOT OK) for a fit equal to the
    unpenalised one. The checker now takes the unpenalised point there: this test recomputes
    the upper bound, the point's entropy and residual from their definitions, charges the
    residual to first order with theta, and bounds the optimum from above independently."""
    rng = np.random.default_rng(3)
    n, lam, eps = 200, 1e-50, np.finfo(float).eps
    X = rng.normal(size=(n, 2))
    s = 0.8 * X[:, 0] - 0.5 * X[:, 1]
    y = {"bernoulli": (rng.random(n) < expit(s)).astype(float),
         "poisson": rng.poisson(np.exp(0.3 * s)).astype(float),
         "gaussian": s + rng.normal(size=n),
         "categorical": np.digitize(s + rng.logistic(size=n), [-1.0, 1.0])}[family]
    data = Dataset.from_arrays(X, y, family=family)
    Xa, w, m = np.asarray(data.X), data.weights, data.m
    Y = data.Y.reshape(n, -1)

    def dual(theta):  # (-l(theta) + lam/2 |theta_R|^2 written out, and its terms' magnitude)
        eta = Xa @ theta.reshape(m, -1)
        if family == "categorical":
            A, yeta = logsumexp(eta, axis=1), (Y * eta).sum(axis=1)
        else:
            eta = eta[:, 0]
            A = {"bernoulli": np.logaddexp(0.0, eta), "poisson": np.exp(eta),
                 "gaussian": eta**2 / 2}[family]
            yeta = Y[:, 0] * eta
        pen = 0.5 * lam * float(np.sum(theta.reshape(m, -1)[:-1] ** 2))  # (intercept last)
        return float(w @ (A - yeta)) + pen, float(w @ (np.abs(A) + np.abs(yeta)))

    def entropy(mu):  # H = -sum_j w_j A*(mu_j), written out
        mu = mu.reshape(n, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            if family in ("categorical", "bernoulli"):
                P = mu if family == "categorical" else np.c_[mu, 1.0 - mu]
                terms = np.where(P > 0, P * np.log(P), 0.0).sum(axis=1)
            else:
                terms = {"poisson": np.where(mu > 0, mu * np.log(mu), 0.0) - mu,
                         "gaussian": mu**2 / 2}[family][:, 0]
        return -float(w @ terms), float(w @ np.abs(terms))

    with warnings.catch_warnings():  # (the categorical gauge: a singular Hessian, said)
        warnings.simplefilter("ignore")
        theta = np.asarray(solve_dual(data, l2=lam).theta, dtype=float)
    cert = certify(data, theta, l2=lam)
    br = cert.projected
    assert br.unpenalised and cert.ok, cert.messages
    assert any("unpenalised problem's point" in note for note in cert.notes)
    # the upper bound is the objective at theta, to its own budget and our sum's rounding
    upper, magnitude = dual(theta)
    evaluation = 2 * (n + m + 8) * eps * magnitude  # (n terms of a few roundings each, twice)
    assert abs(cert.upper_bound - upper) <= br.upper_roundoff + evaluation
    # the lower bound is the point's entropy, less the first-order charge of its residual
    # (theta standing in for the multiplier), both within the certificate's round-off budget
    mu = np.asarray(br.mu, dtype=float).reshape(n, -1)
    h, h_magnitude = entropy(mu)
    resid = Xa.T @ (w[:, None] * (mu - Y))
    charge = float(np.sum(np.abs(theta.reshape(m, -1)) * np.abs(resid)))
    assert abs(h - cert.lower_bound) + charge <= cert.roundoff + 2 * (n + 8) * eps * h_magnitude
    # the optimum from above, independently: the objective at the unpenalised fit
    free = np.asarray(solve_dual(data, tol=1e-12).theta, dtype=float)
    assert cert.lower_bound - cert.roundoff <= min(dual(free)[0], upper) + evaluation
    assert cert.within <= 1e-6 * max(1.0, abs(cert.upper_bound))


def test_a_declined_penalised_step_leaves_the_intercept_steps_point():
    """Three classes, one feature ``1e6 + z``, a weak ridge: the intercept's step moves the
    feature's slack by a million times its residual, so the penalised problem's step is tried
    (:func:`~dualmaxent.certify._penalised_step`); its pass 2 wrote its own point into the
    table the intercept step's point was kept in, and where it was declined the bracket paired
    the intercept step's sums with the other point: a lower bound 1.15 nats above the
    optimum, printed OK. The optimum is bounded above here independently: the same problem on
    the centred feature (only the intercept moves), mapped back, its objective written out."""
    rng = np.random.default_rng(189)
    k = int(rng.choice([2, 3, 5]))
    rng.choice(["l2", "en"])  # (the fuzz draw's stream, kept)
    n = int(rng.integers(50, 300))
    z = rng.normal(size=n)
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    lam = float(10 ** rng.uniform(-6, -1))
    X1 = np.c_[1e6 + z, np.ones(n)]

    def objective(theta):  # (-l + lam/2 theta_R^2, and a bound on its float64 evaluation)
        eta = X1 @ theta
        terms = logsumexp(eta, axis=1) - eta[np.arange(n), y]
        eta_error = 4 * np.finfo(float).eps * (np.abs(X1) @ np.abs(theta)).max(axis=1)
        value = float(terms.sum()) + 0.5 * lam * float(np.sum(theta[0] ** 2))
        return value, float(2 * eta_error.sum() + 4 * n * np.finfo(float).eps
                             * (np.abs(terms).sum() + 1))

    data = Dataset.from_arrays(X1[:, :1], y)
    centred = np.asarray(solve_dual(Dataset.from_arrays(z[:, None], y), l2=lam).theta)
    ref = centred.copy()
    ref[1] = centred[1] - 1e6 * centred[0]
    opt_above, error = objective(ref)
    cert = certify(data, solve_dual(data, l2=lam).theta, l2=lam)
    assert cert.lower_bound - cert.roundoff <= opt_above + error
    assert cert.upper_bound - cert.within <= opt_above + error


def test_a_negative_gap_of_a_flat_bracket_is_said_as_such_with_its_cause():
    """A bracket that proves nothing (a flat direction: infinite round-off) may put its lower
    bound above its upper one by more than the tolerance (five classes, features of sizes 1e-3
    to 1e4 centred far off zero: -1.1e-2 nats). The verdict said the gap "exceeds" the
    tolerance and gave no cause; it says the gap is negative and names the flat direction, and
    a gap above the tolerance still "exceeds" it."""
    from dataclasses import replace

    from _factories import make_dataset
    from dualmaxent.certify import _bracket_messages

    ds = make_dataset("categorical")
    br = certify(ds, solve_dual(ds, tol=1e-12).theta).projected
    flat = replace(br, duality_gap=-0.011, relative_gap=0.011 / abs(br.upper_bound),
                   roundoff=float("inf"), flat="collinear")
    (said,) = [m for m in _bracket_messages(flat, 1e-6) if "duality gap" in m]
    assert "is negative" in said and "exceeds" not in said and "nearly collinear" in said
    wide = replace(br, duality_gap=0.011, relative_gap=0.011 / abs(br.upper_bound))
    (said,) = [m for m in _bracket_messages(wide, 1e-6) if "duality gap" in m]
    assert "exceeds the tolerance" in said and "negative" not in said


def _separated(family, n, k, seed=0):
    """Completely separated data with a margin: ``y`` the class of largest ``x^T w_c`` (two
    standard normal features, ``k`` for ten classes, so that each class has its region), rows
    whose two largest scores are within 0.05 dropped; and a theta far along ``W`` (intercept
    0), whose logits reach some thousands."""
    rng = np.random.default_rng(seed)
    m = 2 if k <= 3 else k
    W = rng.standard_normal((m, max(k, 2)))
    X = rng.standard_normal((int(1.5 * n), m))
    scores = X @ W
    top2 = np.sort(scores, axis=1)[:, -2:]
    X = X[top2[:, 1] - top2[:, 0] > 0.05][:n]
    scores = X @ W
    if family == "bernoulli":
        y = (scores[:, 0] > scores[:, 1]).astype(float)
        theta = np.r_[2000.0 * (W[:, 0] - W[:, 1]), 0.0]
    else:
        y = scores.argmax(axis=1)
        theta = np.r_[2000.0 * W, np.zeros((1, k))]
    return Dataset.from_arrays(X, y, family=family), theta


@pytest.mark.parametrize("family, n, k", [("categorical", 3000, 3), ("categorical", 2000, 10),
                                          ("categorical", 200_000, 3),
                                          ("bernoulli", 300_000, 2)])
def test_completely_separated_data_are_certified_near_their_optimum_zero(family, n, k):
    """Completely separated data: the likelihood's supremum is 0, not attained, and the
    max-entropy optimum is ``H(Y) = 0``. A theta far along the separating direction is within
    ``-l(theta) = sum_j log(1 + sum_{c != y_j} exp(-d_jc))`` of it, ``d_jc`` the row's logit
    gaps (here 100 nats or more): a sound certificate must hold 0 and ``-l(theta)``, and may
    say ok.

    Two budgets had the size of the logits rather than of the terms: the upper bound's sums,
    ``u (|Y eta| + |A|)`` a row (categorical, n = 3000, three classes: 4.6e-5 nats of 1e-6
    allowed), and the labels' point, ``2 u |Y|`` an entry, ``n^2 u`` in all (n = 3e5: 2e-5).
    Recomputed here: every gap from the definitions with its own rounding bound, and
    ``-l(theta)`` between its values at the gaps moved by that bound, each a sum of positive
    terms within ``gamma(n + k + 8)`` of itself."""
    ds, theta = _separated(family, n, k)
    X1 = np.c_[ds.X[:, :-1], np.ones(ds.n)]
    th = theta.reshape(ds.m, -1)
    eta = X1 @ th
    error = 4 * EPS * (np.abs(X1) @ np.abs(th)).max(axis=1)
    if family == "bernoulli":
        gaps = np.where(ds.Y > 0.5, eta[:, 0], -eta[:, 0])[:, None]
    else:
        own = eta[np.arange(ds.n), ds.Y.argmax(axis=1)]
        gaps = np.where(ds.Y > 0.5, np.inf, own[:, None] - eta)
    assert float(gaps.min()) > 100.0  # (the construction)
    spread = gamma(ds.n + k + 8)

    def minus_loglik(shift):  # sum_j log1p(sum_c exp(-(d_jc + shift_j)))
        return float(np.sum(np.log1p(np.exp(-(gaps + shift[:, None])).sum(axis=1))))

    low = minus_loglik(2 * error) * (1 - spread)
    high = minus_loglik(-2 * error) * (1 + spread)
    cert = certify(ds, theta)
    note(f"{family}, n = {ds.n}: -l in [{low:.3e}, {high:.3e}], gap {cert.duality_gap:.2e}, "
         f"round-off {cert.roundoff:.2e}")
    assert cert.separation is not None and cert.separation.kind == "complete"
    assert cert.lower_bound - cert.roundoff <= 0.0 <= cert.upper_bound + cert.roundoff
    assert low - cert.roundoff <= cert.upper_bound <= high + cert.roundoff
    assert cert.within >= low
    assert cert.ok, cert.messages


@pytest.mark.parametrize("family", ["categorical", "bernoulli", "poisson"])
def test_the_full_likelihoods_terms_are_within_their_own_budget(family):
    """:func:`dualmaxent.certify._full_terms` (the likelihood of separated data at theta, with
    every row): its sum within ``gamma(n + k + 8) magnitude + constant`` of the exact one,
    computed here in 60 digits from the same float logits, on rows whose logits reach 1e4
    and whose terms range from 1e-300 to hundreds of nats; and ``dev = |Y - A'(eta)|_1``."""
    from decimal import Decimal, localcontext

    from dualmaxent.certify import _full_terms

    rng = np.random.default_rng(3)
    n, k = 300, (4 if family == "categorical" else 1)
    scale = 10.0 ** rng.uniform(-1, 4, n)[:, None]
    eta = rng.standard_normal((n, k)) * scale
    w = rng.uniform(0.1, 3.0, n)
    if family == "categorical":
        Y = np.eye(k)[np.where(rng.random(n) < 0.8, eta.argmax(axis=1), rng.integers(0, k, n))]
        mean = softmax(eta, axis=1)
    elif family == "bernoulli":
        Y = ((eta[:, 0] > 0) ^ (rng.random(n) < 0.2)).astype(float)[:, None]
        mean = expit(eta)
    else:
        eta = np.clip(eta, -700, 5.0)
        Y = rng.poisson(np.exp(np.clip(eta, -30, 5))).astype(float)
        mean = np.exp(eta)
    ds = Dataset.from_arrays(np.zeros((n, 1)), Y.argmax(axis=1) if family == "categorical"
                             else Y[:, 0], family=family)
    value, magnitude, constant, dev = _full_terms(ds.family, Y, eta, w)
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(0)
        for j in range(n):
            e = [Decimal(float(v)) for v in eta[j]]
            if family == "categorical":
                top = max(e)
                A = top + sum((v - top).exp() for v in e).ln()
            elif family == "bernoulli":
                A = max(e[0], Decimal(0)) + (1 + (-abs(e[0])).exp()).ln()
            else:
                A = e[0].exp()
            inner = sum(Decimal(float(a)) * b for a, b in zip(Y[j], e))
            exact += Decimal(float(w[j])) * (inner - A)
        exact = float(exact)
    note(f"{family}: {value!r} against {exact!r}, budget {gamma(n + k + 8) * magnitude:.2e}")
    assert abs(value - exact) <= gamma(n + k + 8) * magnitude + constant
    reference = np.abs(Y - mean).sum(axis=1)
    assert np.allclose(dev, reference, rtol=1e-12, atol=8 * EPS)
