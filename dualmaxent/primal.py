"""The primal problem: maximum entropy subject to the balance equations, built in CVXPY.

This module builds and solves the CVXPY problem; the only other CVXPY expressions are the
families' conjugates (:meth:`dualmaxent.families.Family.cvxpy_conjugate`, kept side by side with
their numpy twins). Both import CVXPY lazily, inside the functions, to keep the CLI's start-up
fast.

Conventions
-----------
With weights ``w`` (``W = diag(w)``) and the family's conjugate ``A*`` (``A*(p) = sum p log p``
for the categorical family), the primal is

    maximise    H(mu) = -sum_j w_j A*(mu_j)              (nats, a sum over observations)
    subject to  X^T W (mu - Y) = 0                       (the balance equations, one matrix
                                                          constraint of shape (m, k))
                mu_j in the domain of A*                 (rows of P on the simplex).

A row of weight zero is in neither sum; its ``mu_j`` is pinned at ``A'(0)`` in the problem and
reported as the model's prediction ``A'(x_j^T theta)`` at the recovered theta, so that a zero
weight equals dropping the row.

Penalties relax the balance equations on the penalised (non-intercept) rows ``R`` of ``X^T``:

* L2 (dual ``- lam/2 ||theta_R||^2``): the constraint on ``R`` is dropped and
  ``- ||X_R^T W (mu - Y)||^2 / (2 lam)`` is added to the objective;
* L1 (dual ``- lam ||theta_R||_1``): the "box" balance equations ``|X_R^T W (mu - Y)| <= lam``;
* elastic net (dual ``- lam (a ||theta_R||_1 + (1 - a)/2 ||theta_R||^2)``): the constraint on
  ``R`` is dropped and ``- sum (|S| - lam a)_+^2 / (2 lam (1 - a))`` is added, ``S = X_R^T W
  (mu - Y)`` entry by entry: the L1 box softened by a quadratic (the convex conjugate of the
  penalty, derived in :class:`dualmaxent.params.Penalty`). In CVXPY
  ``cp.sum(cp.square(cp.pos(cp.abs(S) - lam a))) / (2 lam (1 - a))``: ``pos`` of a convex
  expression is convex and non-negative, and ``square`` is convex and increasing there, so the
  charge is convex and subtracting it in a Maximize follows the DCP rules.

Signs. CVXPY states a Maximize problem as the minimisation of ``-H`` and attaches to the
constraint ``X^T W mu == X^T W Y`` a multiplier ``nu`` with Lagrangian ``-H + <nu, X^T W (mu - Y)>``.
Stationarity gives ``mu_j ∝ exp(-x_j^T nu)``, so **theta = -dual_value** (pinned by a test). For
the L1 boxes, with ``u`` the dual of ``S <= lam`` and ``v`` that of ``S >= -lam``,
``theta_R = v - u``; for L2, ``theta_R = X_R^T W (Y - mu) / lam``. For the elastic net, as for
L2, theta is the charge's derivative at the optimum's slack with its sign flipped (the multiplier
of the dropped constraint): ``theta_R = -sign(S) (|S| - lam a)_+ / (lam (1 - a))``, which is
``-S / lam`` at ``a = 0`` and exactly 0 inside the box.

Gauge. ``gauge="full"`` states all ``k`` class blocks of the balance equations; they are linearly
dependent because the rows of ``P`` and ``Y`` both sum to one (the intercept row makes the
dependence exact). ``gauge="pivot"`` drops the last class's block on the unpenalised rows, which
pins ``theta[:, k-1] = 0`` there, the gauge of :mod:`dualmaxent.params` that the dual reports.
It is the default because it is faster where the primal is slow: measured at n = 2 x 10^4,
k = 3, m = 11 (the benchmark's data), 31 Clarabel iterations and 2.5 s against 38 and 3.9 s with
every block kept. On the small problems of ``figures/gauge.png`` the two gauges are within a few
iterations of each other, in either direction from one machine or Clarabel version to another.

Repeated rows. Observations with the same ``x`` have the same mean ``A'(x^T theta)`` at the
optimum (the entropy is strictly concave, so its maximiser is unique and treats them alike),
so they are merged before the problem is built: one row per distinct ``x`` with the summed
weight and the weighted mean response (a fractional ``Y`` row for the categorical family). The
entropy, the balance equations and their multipliers are those of the full problem; ``mu`` is
expanded back to every observation. With ``aggregate=False`` every observation keeps its row.

Large ``n`` (``n > TREE_MIN_ROWS``). Each balance row ``sum_j w_j x_jr (mu_ji - Y_ji)`` touches
every observation; a handful of such dense rows makes the sparse factorisation of the solver's
KKT system fill in (time grows like ``n^1.6``). They are then computed in two stages, with an
auxiliary variable ``S`` of partial sums over blocks of about ``sqrt(n)`` observations
(``S = G mu``, one sparse matrix ``G`` of the ``X_b^T W_b`` blocks) and the balance equations
stated on ``sum_b S_b``: the same problem, with rows of ``sqrt(n)`` entries instead of ``n``
(measured at n = 2 x 10^4: 6.5 s down to 2.3 s with Clarabel).

Separated data (``forced=``, unpenalised only). Entries forced to zero by separation
(:mod:`dualmaxent.separation`) are *not variables*: the free entries of the rows that keep at
least two free classes form one vector ``v``, mapped into the (n, k) table by a sparse 0/1
matrix; every other row is ``mu_j = Y_j`` and leaves the problem (for Bernoulli and Poisson the
forced observations leave it). The entropy is ``sum w_j entr(v)``, each kept row sums to one, and
the balance equations are one vectorised constraint ``Q^T vec(X^T W (mu - Y)) = 0`` over the
class blocks of the gauge, with ``Q`` the orthonormal basis of
:func:`dualmaxent.separation.identifiable_basis`: the blocks' combinations that the simplex rows
already imply (a class with no free entry, a recession direction) are left out, so the
constraint has full row rank, the problem is strictly feasible, and its dual is unique. Then
``theta = -Q z`` (``z`` the constraint's dual value), the minimum-norm maximiser of the reduced
likelihood, moved to the pivot gauge.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from . import design
from .data import Dataset, require_dataset
from .exceptions import DualMaxentError, InaccurateSolutionWarning, user_stacklevel
from .params import Parameterization, Penalty, make_penalty
from .results import PrimalResult
from .separation import as_forced

__all__ = ["solve_primal", "build_primal", "exp_cone_solvers", "GAUGES", "ParametrizedPrimal",
           "parametrized_primal"]

GAUGES = ("full", "pivot")

#: CVXPY solvers that handle the exponential cone (the entropy), best first.
EXP_CONE_SOLVERS = ("CLARABEL", "MOSEK", "SCS", "ECOS", "COPT")

#: Tolerances tighter than the solvers' defaults (measured on blobs: Clarabel's defaults of 1e-8
#: leave max |P_primal - softmax(X theta*)| at 6e-6; 1e-10 brings it to 5e-8, 1e-11 to 2e-9).
#: The error in mu is of the order of the square root of the objective gap (the entropy is
#: flat at its maximum), so 1e-10 still left 2e-6 to 5e-6 on the small categorical, Bernoulli
#: and Poisson data of tests/_factories.py, failing the certificate's 1e-6; 1e-11 brings all 24
#: family x penalty x weights cases below 4e-7 for about 10 more iterations, while 1e-12 makes
#: Clarabel report "optimal_inaccurate" on two of them. User options override these.
#: At 1e-11 Clarabel's end game sometimes stalls (steps shrink to 0 while the residuals sit at
#: 1e-10, status AlmostSolved = "optimal_inaccurate"): 5 of 143 cases (the test factories with
#: duplicated, zero and repeated weights, no intercept, lambda up to 1e6, and blobs) with the
#: default step fraction 0.99; 0.95 leaves 2, and each of those is solved by one of the
#: FALLBACK_SOLVER_OPTIONS below (measured: 0 of 143 left, worst |mu_p - mu(theta*)| 2.2e-7).
DEFAULT_SOLVER_OPTIONS = {
    "CLARABEL": {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11,
                 "max_step_fraction": 0.95},
    "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 100000},
}

#: Looser tolerances for more observations: ``(largest n, options)``, first match wins. The
#: round-off of sums over n observations grows with n, and Clarabel's end game on many
#: exponential cones is slow and erratic (steps of 0.01 to 0.3 once its gap is near 1e-6).
#: Measured with k = 3, m = 11 (the benchmark's synthetic data): at n = 2 x 10^4 the defaults
#: give "optimal" in 31 iterations (2.3 s); at n = 5 x 10^4 1e-11 ends "optimal_inaccurate",
#: 1e-10 "optimal" in 33 iterations with max |P_p - P(theta*)| 4e-7 (certified); at
#: n = 2 x 10^5 1e-11 and 1e-10 end "optimal_inaccurate" after 50 to 115 iterations and 1e-9
#: "optimal" after 43 to 84 iterations (relative gap 3e-11, but max |P_p - P(theta*)| 5e-6 to
#: 8e-6, above the certificate's default 1e-6).
SIZED_SOLVER_OPTIONS = {
    "CLARABEL": (
        (20_000, DEFAULT_SOLVER_OPTIONS["CLARABEL"]),
        (100_000, {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10,
                   "max_step_fraction": 0.95}),
        (None, {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9}),
    ),
}


def default_solver_options(solver: str, n: int) -> dict:
    """The options :func:`solve_primal` passes to ``solver`` for ``n`` observations."""
    for largest, options in SIZED_SOLVER_OPTIONS.get(solver, ()):
        if largest is None or n <= largest:
            return dict(options)
    return dict(DEFAULT_SOLVER_OPTIONS.get(solver, {}))


#: A retry with the fallback options costs about as much as the first solve; beyond this many
#: seconds the inaccurate result is reported at once instead.
FALLBACK_MAX_SECONDS = 10.0

#: Options tried in turn, when the user gave none, after an "optimal_inaccurate" solve: the
#: solver's own step fraction, then tighter iterative refinement of the KKT solves, then less
#: static regularisation (each rescued different cases of the sweep above).
FALLBACK_SOLVER_OPTIONS = {
    "CLARABEL": (
        {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11},
        {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11,
         "iterative_refinement_reltol": 1e-15, "iterative_refinement_abstol": 1e-15,
         "iterative_refinement_max_iter": 50},
        {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11,
         "static_regularization_constant": 1e-10},
    ),
}


def exp_cone_solvers() -> list[str]:
    """The installed CVXPY solvers that handle the exponential cone."""
    import cvxpy as cp

    installed = set(cp.installed_solvers())
    return [s for s in EXP_CONE_SOLVERS if s in installed]


#: Above this many observations the balance rows are summed in two stages (module docstring).
TREE_MIN_ROWS = 2000


def _balance_sums(XW: np.ndarray, mu):
    """``X^T W mu`` as a CVXPY expression of shape (m, q), and the constraints it needs.

    ``XW`` is ``X * w[:, None]`` (n, m) and ``mu`` an (n, q) expression. Up to
    ``TREE_MIN_ROWS`` observations this is the plain product; beyond, the two-stage sum of the
    module docstring (auxiliary partial sums ``S`` over row blocks, one equality constraint).
    """
    import cvxpy as cp
    import scipy.sparse as sp

    n, m = XW.shape
    if n <= TREE_MIN_ROWS:
        return XW.T @ mu, []
    size = int(np.ceil(np.sqrt(n)))
    nb = -(-n // size)
    block = np.arange(n) // size
    G = sp.csr_matrix((XW.ravel(), ((block[:, None] * m + np.arange(m)).ravel(),
                                    np.repeat(np.arange(n), m))), shape=(nb * m, n))
    S = cp.Variable((nb * m, mu.shape[1]), name="partial_sums")
    total = sp.csr_matrix((np.ones(nb * m), (np.tile(np.arange(m), nb), np.arange(nb * m))),
                          shape=(m, nb * m))
    return total @ S, [G @ mu == S]


def _aggregate(X: np.ndarray, Y: np.ndarray, w: np.ndarray):
    """Merge observations with identical rows of ``X`` (module docstring, Repeated rows).

    Returns ``(X, Y, w, inverse)``: the distinct rows, their weighted mean responses and summed
    weights, and ``inverse`` of shape (n,) mapping each observation to its row; ``inverse`` is
    None (and the arrays are returned as given) when every row is distinct.
    """
    if design.is_sparse(X):  # kept as they are: no dense copy to compare rows
        return X, Y, w, None
    rows, inverse = np.unique(X, axis=0, return_inverse=True)
    if rows.shape[0] == X.shape[0]:
        return X, Y, w, None
    inverse = inverse.reshape(-1)
    weight = np.bincount(inverse, weights=w, minlength=rows.shape[0])
    total = np.zeros((rows.shape[0],) + Y.shape[1:])
    np.add.at(total, inverse, Y * (w[:, None] if Y.ndim == 2 else w))
    scale = np.divide(1.0, weight, out=np.zeros_like(weight), where=weight > 0)
    mean = total * (scale[:, None] if Y.ndim == 2 else scale)
    return rows, mean, weight, inverse


def build_primal(dataset: Dataset, penalty: Penalty | None = None, gauge: str = "pivot",
                 forced: np.ndarray | None = None, aggregate: bool = True,
                 parametrized: bool = False):
    """Build the CVXPY problem; return ``(problem, mu, handles)``.

    ``handles`` maps ``"balance"``, ``"upper"`` and ``"lower"`` to the balance-equation
    constraints (or None), for the dual variables.

    With ``parametrized=True`` lambda enters only through ``cvxpy.Parameter`` objects (DPP:
    ``handles["lam"]`` holds them and ``handles["set_lam"](lam)`` sets them all), so that
    solving again at another lambda re-uses CVXPY's compiled problem (:class:`ParametrizedPrimal`).

    Parameters
    ----------
    forced : ndarray of bool (same shape as ``dataset.Y``) or Separation, optional
        Entries forced by separation (:mod:`dualmaxent.separation`): build the reduced problem
        of the module docstring, in which they are not variables. ``mu`` is then an affine
        expression of the shape of ``Y`` and ``handles["basis"]`` the basis ``Q``.
    aggregate : bool, default True
        Merge observations with identical features into weighted rows (module docstring);
        ``handles["rows"]`` is the number of rows the solver sees.
    """
    import cvxpy as cp

    penalty = penalty if penalty is not None else Penalty()
    fam = dataset.family
    if gauge not in GAUGES:
        raise DualMaxentError(f"unknown gauge {gauge!r}; choose 'full' or 'pivot'")
    forced = as_forced(dataset, forced)
    if forced is not None:
        if penalty.active:
            raise DualMaxentError("forced entries belong to the unpenalised problem; a penalty "
                                  "keeps theta* finite, so nothing is forced")
        return _build_reduced(dataset, gauge, forced)
    X, Y, w = dataset.X, dataset.Y, dataset.weights
    inverse = None
    if aggregate:
        X, Y, w, inverse = _aggregate(X, Y, w)
    n = X.shape[0]
    mu = cp.Variable(Y.shape, name="mu")
    entropy = -(w @ fam.cvxpy_conjugate(mu))
    constraints = list(fam.cvxpy_domain(mu))
    # A row of weight zero enters neither the entropy nor the balance equations, so its mu is
    # undetermined (the interior-point solver returns an arbitrary point, and for the gaussian
    # family an unbounded free variable). Pin it at A'(0), a point of the domain, so that the
    # problem equals the one without the row; solve_primal reports A'(x_j theta) there instead.
    zero = w == 0
    if zero.any():
        constraints.append(mu[zero] == fam.mean(np.zeros(Y.shape))[zero])
    penalized = Parameterization.from_dataset(dataset, penalty).penalized_rows
    equal_rows = np.flatnonzero(~penalized)
    pen_rows = np.flatnonzero(penalized)
    XW = design.scale_rows(X, w)  # a sparse constant for a sparse X, never densified
    multi = fam.multiclass
    pivot = multi and gauge == "pivot"
    handles = {"balance": None, "upper": None, "lower": None, "equal_rows": equal_rows,
               "pen_rows": pen_rows, "pivot": pivot, "rows": n}
    # The pivot drops the last class's block on the equality rows; the penalised rows keep it.
    cols = mu[:, :-1] if pivot and not pen_rows.size else mu
    sums, extra = _balance_sums(XW, cols if multi else cp.reshape(mu, (n, 1), order="C"))
    constraints += extra
    target = XW.T @ Y.reshape(n, -1)  # (m, k) or (m, 1)
    residual = sums - target[:, :sums.shape[1]]  # X^T W (mu - Y)
    if not multi:
        residual = residual[:, 0]
    if equal_rows.size:
        if pivot:
            con = residual[equal_rows, :-1] == 0 if pen_rows.size else residual[equal_rows] == 0
        else:
            con = residual[equal_rows] == 0
        constraints.append(con)
        handles["balance"] = con
    objective = entropy
    if pen_rows.size:
        S = residual[pen_rows]
        # the numbers lambda enters through: plain floats, or Parameters (DPP: a nonnegative
        # parameter times a parameter-free convex term, or a parameter inside an affine one)
        lam, root, root_box = _lambda_terms(penalty, parametrized, handles)
        if penalty.kind == "l2":
            objective = (entropy - cp.sum_squares(root * S) if parametrized
                         else entropy - cp.sum_squares(S) / (2.0 * penalty.lam))
        elif penalty.kind == "elasticnet":
            a = penalty.l1_ratio
            objective = (entropy - cp.sum(cp.square(cp.pos(root * cp.abs(S) - root_box)))
                         if parametrized else entropy - cp.sum(cp.square(cp.pos(
                             cp.abs(S) - penalty.lam * a))) / (2.0 * penalty.lam * (1.0 - a)))
        else:
            upper = S <= lam
            lower = S >= -lam
            constraints += [upper, lower]
            handles["upper"], handles["lower"] = upper, lower
    problem = cp.Problem(cp.Maximize(objective), constraints)
    return problem, (mu if inverse is None else mu[inverse]), handles


def _lambda_terms(penalty: Penalty, parametrized: bool, handles: dict):
    """``(lam, r, r lam a)`` with ``r = 1 / sqrt(2 lam (1 - a))`` (``a = 0`` for L2), the
    numbers lambda enters the primal through; with ``parametrized`` nonnegative
    ``cvxpy.Parameter`` objects, registered in ``handles`` (``"lam"``, and ``"set_lam"`` to set
    all three from one lambda).

    DPP allows a parameter times a parameter-free expression, so the charges are written with
    ``r`` inside: ``||S||^2 / (2 lam) = ||r S||^2`` and ``sum (|S| - lam a)_+^2 / (2 lam (1 -
    a)) = sum (r |S| - r lam a)_+^2``.
    """
    import cvxpy as cp

    a = penalty.l1_ratio if penalty.kind == "elasticnet" else 0.0

    def values(lam):
        root = 1.0 / np.sqrt(2.0 * lam * (1.0 - a)) if a < 1.0 else 0.0
        return lam, root, root * lam * a

    if not parametrized:
        return values(penalty.lam)
    params = [cp.Parameter(nonneg=True, name=name) for name in ("lam", "root", "root_box")]

    def set_lam(lam):
        for param, value in zip(params, values(float(lam))):
            param.value = value

    set_lam(penalty.lam)
    handles["lam"], handles["set_lam"] = params, set_lam
    return tuple(params)


class ParametrizedPrimal:
    """The primal of one data set, penalty kind and gauge, built once and solved at any lambda.

    lambda is a ``cvxpy.Parameter`` (:func:`build_primal` with ``parametrized=True``), so the
    problem follows DPP: the first :meth:`solve` builds and compiles it, every later one only
    writes the new lambda into CVXPY's cached problem data. Each result reports the two times
    apart: ``compile_seconds`` (building and CVXPY's canonicalisation or parameter update) and
    ``solve_seconds`` (the solver's own). Get one through :func:`parametrized_primal`, which
    keeps the last few.

    Parameters
    ----------
    dataset : Dataset
    kind : {"none", "l2", "l1", "elasticnet"}
    gauge : {"pivot", "full"}, default "pivot"
    l1_ratio : float, optional
        The elastic net's ``a`` (fixed for the problem: only lambda is a parameter).
    solver : str, default "CLARABEL"
    """

    def __init__(self, dataset: Dataset, kind: str, gauge: str = "pivot",
                 l1_ratio: float | None = None, solver: str = "CLARABEL"):
        self.dataset, self.kind, self.gauge, self.solver = dataset, kind, gauge, solver.upper()
        self.l1_ratio = l1_ratio
        self._built = None

    def _penalty(self, lam: float | None) -> Penalty:
        if self.kind == "none":
            return make_penalty()
        if lam is None:
            raise DualMaxentError(f"the {self.kind} penalty needs a lambda")
        if self.kind == "l2":
            return make_penalty(l2=lam)
        if self.kind == "l1":
            return make_penalty(l1=lam)
        return make_penalty(l1=lam, l1_ratio=self.l1_ratio)

    def solve(self, lam: float | None = None, **solver_options) -> PrimalResult:
        """Solve at ``lam``; a :class:`PrimalResult` like :func:`solve_primal`'s."""
        penalty = self._penalty(lam)
        t0 = time.perf_counter()
        if self._built is None:
            self._built = build_primal(self.dataset, penalty, self.gauge, parametrized=True)
        problem, mu, handles = self._built
        if "set_lam" in handles:
            handles["set_lam"](penalty.lam)
        options = default_solver_options(self.solver, handles.get("rows", self.dataset.n))
        options.update(solver_options)
        status, message, solve_seconds, attempts = _solve_with_retries(
            problem, self.solver, options, retry=not solver_options, verbose=False)
        total = time.perf_counter() - t0
        return _primal_result(self.dataset, penalty, self.gauge, None, problem, mu, handles,
                              self.solver, status, message, solve_seconds or total, attempts,
                              total)


def parametrized_primal(dataset: Dataset, kind: str, gauge: str = "pivot",
                        l1_ratio: float | None = None,
                        solver: str = "CLARABEL") -> ParametrizedPrimal:
    """The cached :class:`ParametrizedPrimal` of these arguments (the last eight are kept;
    a :class:`Dataset` is keyed by identity)."""
    key = (id(dataset), kind, gauge, l1_ratio, str(solver).upper())
    entry = _PARAMETRIZED.pop(key, None)
    if entry is None or entry.dataset is not dataset:
        entry = ParametrizedPrimal(dataset, kind, gauge, l1_ratio, solver)
    _PARAMETRIZED[key] = entry  # most recent last
    while len(_PARAMETRIZED) > 8:
        _PARAMETRIZED.pop(next(iter(_PARAMETRIZED)))
    return entry


#: The problems :func:`parametrized_primal` keeps, oldest first.
_PARAMETRIZED: dict = {}


#: Largest dense balance matrix Q^T X^T W (entries) of a reduced primal; see _build_reduced.
_DENSE_BALANCE_MAX = 2_000_000


def _build_reduced(dataset: Dataset, gauge: str, forced: np.ndarray):
    """The primal of separated data without its forced entries (see the module docstring).

    Returns ``(problem, mu, handles)`` like :func:`build_primal`; ``mu`` is an affine CVXPY
    expression of the shape of ``Y`` (the fixed entries are constants) and ``handles["basis"]``
    the basis ``Q`` of the identifiable parameters, for :func:`_theta_from_duals`.
    """
    import cvxpy as cp
    import scipy.sparse as sp

    from .separation import identifiable_basis, kept_observations

    from .separation import dense_for_lp

    X, Y, w = dense_for_lp(dataset.X), dataset.Y, dataset.weights
    n, m = X.shape
    kept = kept_observations(dataset, forced)
    rows = np.flatnonzero(kept)
    multi = Y.ndim == 2
    if multi:
        k = Y.shape[1]
        q = k - 1 if gauge == "pivot" else k
        jj, cls = np.nonzero(~forced[rows])  # the free entries, row by row
        flat = rows[jj] * k + cls
    else:
        q = 1
        jj, cls = np.arange(rows.size), np.zeros(rows.size, dtype=int)
        flat = rows
    nv = flat.size
    Q = identifiable_basis(dataset, forced, gauge)
    const = np.where((kept[:, None] if multi else kept), 0.0, Y)  # mu = Y off the kept rows
    handles = {"balance": None, "upper": None, "lower": None, "equal_rows": np.arange(m),
               "pen_rows": np.arange(0), "pivot": multi and gauge == "pivot", "basis": Q,
               "nvars": nv}
    if nv == 0:  # completely separated: every entry is forced, nothing is left to optimise
        return cp.Problem(cp.Maximize(cp.Constant(0.0))), cp.Constant(const), handles
    v = cp.Variable(nv, name="mu_free")
    wv = w[rows][jj]
    # the entropy -sum w A*(mu) over the free entries only (the forced ones contribute 0)
    entropy = -(wv @ dataset.family.cvxpy_conjugate_entries(v))
    constraints = []
    if multi:
        G = sp.csr_matrix((np.ones(nv), (jj, np.arange(nv))), shape=(rows.size, nv))
        constraints.append(G @ v == 1)
    # The balance equations as one constraint Q^T vec(X^T W (mu - Y)) = 0 over the class blocks
    # of the gauge (class-major). Q^T X^T W couples the classes: multiplied out it is a dense
    # (r, nv) matrix, k times the nonzeros of X^T W mu. Small problems use it (Clarabel is more
    # accurate on it: on the Poisson data of tests/test_separation.py p_agreement 3e-8 against
    # 6e-7); above _DENSE_BALANCE_MAX entries u = vec(X^T W mu) (a sparse map with m entries per
    # free entry) is an auxiliary variable and Q^T is applied to u.
    XW = X[rows] * w[rows][:, None]  # (nK, m)
    YK = Y[rows] if multi else Y[rows][:, None]
    e = np.flatnonzero(cls < q)
    L = sp.csr_matrix((XW[jj[e]].ravel(), ((cls[e][:, None] * m + np.arange(m)).ravel(),
                                           np.repeat(e, m))), shape=(q * m, nv))
    target = Q.T @ (XW.T @ YK[:, :q]).T.ravel()
    if Q.shape[1] and Q.shape[1] * nv <= _DENSE_BALANCE_MAX:
        con = np.asarray((L.T @ Q).T) @ v == target
        constraints.append(con)
        handles["balance"] = con
    elif Q.shape[1]:
        u = cp.Variable(q * m, name="balance")
        con = Q.T @ u == target
        constraints += [u == L @ v, con]
        handles["balance"] = con
    M = sp.csr_matrix((np.ones(nv), (flat, np.arange(nv))), shape=(const.size, nv))
    mu = const + (cp.reshape(M @ v, (n, k), order="C") if multi else M @ v)
    return cp.Problem(cp.Maximize(entropy), constraints), mu, handles


def solve_primal(
    dataset: Dataset,
    solver: str = "CLARABEL",
    gauge: str = "pivot",
    l2: float | None = None,
    l1: float | None = None,
    penalty: Penalty | None = None,
    forced: np.ndarray | None = None,
    aggregate: bool = True,
    verbose: bool = False,
    l1_ratio: float | None = None,
    **solver_options,
) -> PrimalResult:
    """Solve the maximum-entropy primal with CVXPY.

    Parameters
    ----------
    dataset : Dataset
    solver : str, default "CLARABEL"
        Any installed CVXPY solver that handles the problem's cones.
    gauge : {"pivot", "full"}, default "pivot"
        ``pivot`` drops the redundant last class block (see the module docstring).
    l2, l1 : float, optional
        Relax the balance equations as the dual's L2 / L1 penalty ``lambda`` dictates.
    penalty : Penalty, optional
    l1_ratio : float, optional
        With ``l1=lam``: the elastic net's relaxation (:func:`dualmaxent.params.make_penalty`).
    forced : ndarray of bool or Separation, optional
        Entries forced by separation (``detect_separation(dataset).forced``): solve the reduced
        problem (see the module docstring); unpenalised only.
    aggregate : bool, default True
        Merge observations with identical features into weighted rows (see the module
        docstring): the same optimum, from a smaller problem.
    verbose : bool, default False
    **solver_options
        Passed to the solver through ``cvxpy.Problem.solve`` (e.g. ``tol_gap_rel=1e-10`` for
        Clarabel, ``eps=1e-9`` for SCS).

    Returns
    -------
    PrimalResult
        A result is returned even when the solver fails; ``status`` and ``message`` say what
        happened and ``converged`` is False.
    """
    dataset = require_dataset(dataset, "solve_primal")
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty, l1_ratio=l1_ratio)
    import cvxpy as cp

    solver = str(solver).upper()
    installed = cp.installed_solvers()
    if solver not in installed:
        raise DualMaxentError(
            f"solver {solver!r} is not installed; installed exponential-cone solvers: "
            f"{', '.join(exp_cone_solvers()) or 'none'}"
        )
    t0 = time.perf_counter()
    problem, mu, handles = build_primal(dataset, penalty, gauge, forced, aggregate)
    options = default_solver_options(solver, handles.get("rows", dataset.n))
    options.update(solver_options)
    # the fallback options are tried only when the user chose none
    status, message, solve_seconds, attempts = _solve_with_retries(
        problem, solver, options, retry=not solver_options, verbose=verbose)
    total = time.perf_counter() - t0
    return _primal_result(dataset, penalty, gauge, forced, problem, mu, handles, solver, status,
                          message, solve_seconds or total, attempts, total)


def _solve_with_retries(problem, solver: str, options: dict, retry: bool, verbose: bool):
    """Solve ``problem``; after an inaccurate solve try ``FALLBACK_SOLVER_OPTIONS`` in turn.

    Returns ``(status, message, solve_seconds, attempts)``: CVXPY's status of the last attempt
    (``solver_error`` when the solver failed, then ``message`` says how), the solver's own time
    summed over the attempts, and their number.
    """
    import cvxpy as cp

    solve_seconds, attempts = 0.0, 0

    def attempt(opts):
        nonlocal solve_seconds, attempts
        started = time.perf_counter()
        with warnings.catch_warnings():
            # CVXPY's "Solution may be inaccurate" UserWarning: a retry may fix it, and if not,
            # InaccurateSolutionWarning in _primal_result says so once
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            problem.solve(solver=solver, verbose=verbose, **opts)
        attempts += 1
        stats = problem.solver_stats
        solve_seconds += float(stats.solve_time) if stats is not None and stats.solve_time \
            else time.perf_counter() - started
        return str(problem.status)

    message = ""
    try:
        status = attempt(options)
        if status == "optimal_inaccurate" and retry:
            for fallback in FALLBACK_SOLVER_OPTIONS.get(solver, ()):
                if solve_seconds > FALLBACK_MAX_SECONDS:
                    break  # a retry would cost as much again: report the inaccurate result
                status = attempt(fallback)
                if status == "optimal":
                    break
    except cp.error.SolverError as exc:
        status, message = "solver_error", f"{solver} failed: {exc}".splitlines()[0]
    except (TypeError, ValueError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DualMaxentError(f"solver {solver} rejected the problem or options: {text}") from None
    return status, message, solve_seconds, attempts


def _primal_result(dataset, penalty, gauge, forced, problem, mu, handles, solver, status,
                   message, solve_seconds, attempts, total) -> PrimalResult:
    """The :class:`PrimalResult` of a finished solve: ``mu`` and theta read back from CVXPY.

    Warns (:class:`InaccurateSolutionWarning`) when the solver's last status is inaccurate.
    """
    fam = dataset.family
    stats = problem.solver_stats if status != "solver_error" else None
    iterations = getattr(stats, "num_iters", None) if stats is not None else None
    if mu.value is None:
        value = np.full(dataset.Y.shape, np.nan)
        theta = None
        message = message or f"{solver} returned no solution (status {status})"
    else:
        value = np.array(mu.value, dtype=np.float64).reshape(dataset.Y.shape)
        theta = _theta_from_duals(dataset, penalty, handles, value)
        zero = dataset.weights == 0
        if theta is not None and zero.any():  # the model's prediction (see build_primal)
            value[zero] = fam.mean(dataset.X[zero] @ theta)
    if attempts > 1 and not message:
        message = f"solved in {attempts} attempts (fallback options after an inaccurate solve)"
    if status == "optimal_inaccurate":
        message = f"{solver} reports an inaccurate solution" + (
            f" after {attempts} attempts" if attempts > 1 else "")
        warnings.warn(message, InaccurateSolutionWarning, stacklevel=user_stacklevel())
    entropy = fam.entropy(value, dataset.weights) if theta is not None else float("nan")
    objective = float(problem.value) if problem.value is not None else float("nan")
    return PrimalResult(
        mu=value,
        entropy=entropy,
        objective=objective,
        theta=theta,
        status=status,
        converged=status == "optimal",
        solver=solver,
        gauge=gauge,
        family=fam.name,
        penalty=penalty,
        solve_seconds=solve_seconds,
        compile_seconds=max(total - solve_seconds, 0.0),  # building + CVXPY's canonicalisation
        iterations=iterations,
        forced=None if forced is None else np.asarray(forced, dtype=bool),
        message=message,
    )


def _theta_from_duals(dataset, penalty, handles, mu):
    """Convert CVXPY's constraint duals to theta in the reported gauge (see the docstring)."""
    params = Parameterization.from_dataset(dataset, penalty)
    theta = np.zeros((dataset.m, params.q))
    con = handles["balance"]
    if handles.get("basis") is not None:  # reduced problem: theta = -Q z, z the dual of Q^T(.)
        Q = handles["basis"]
        if con is None:
            z = np.zeros(Q.shape[1])
        elif con.dual_value is None:
            return None
        else:
            z = np.asarray(con.dual_value, dtype=np.float64).ravel()
        cols = Q.shape[0] // dataset.m
        theta[:, :cols] = (-Q @ z).reshape(cols, dataset.m).T
        return params.squeeze(params.gauge_fix(theta))
    if con is not None:
        if con.dual_value is None:
            return None
        D = np.asarray(con.dual_value, dtype=np.float64).reshape(len(handles["equal_rows"]), -1)
        rows = handles["equal_rows"]
        if handles["pivot"]:
            theta[rows, :-1] = -D
        else:
            theta[rows] = -D  # all k blocks: moved to the pivot gauge below
    rows = handles["pen_rows"]
    if rows.size:
        if penalty.kind == "l2":
            XW = design.scale_rows(dataset.X[:, rows], dataset.weights)
            resid = (dataset.Y - mu).reshape(dataset.n, -1)
            theta[rows] = XW.T @ resid / penalty.lam
        elif penalty.kind == "elasticnet":
            a = penalty.l1_ratio
            XW = design.scale_rows(dataset.X[:, rows], dataset.weights)
            S = XW.T @ (mu - dataset.Y).reshape(dataset.n, -1)  # X_R^T W (mu - Y)
            theta[rows] = (-np.sign(S) * np.maximum(np.abs(S) - penalty.lam * a, 0.0)
                           / (penalty.lam * (1.0 - a)))
        else:
            u, v = handles["upper"].dual_value, handles["lower"].dual_value
            if u is None or v is None:
                return None
            theta[rows] = (np.asarray(v) - np.asarray(u)).reshape(len(rows), -1)
    # gauge_fix touches the unpenalised (equality) rows only
    return params.squeeze(params.gauge_fix(theta))
