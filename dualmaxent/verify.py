"""The verifier: solve the dual, certify its theta, and cross-check with the CVXPY primal.

``verify`` is three steps, and only the second is trusted:

1. the solve (:func:`dualmaxent.solve_dual`, unless a result is given): untrusted;
2. the certificate, :func:`dualmaxent.certify` at the solver's theta: the bracket of the
   optimum, the gradient and the verdict, computed from (data, theta, penalty) alone
   (:mod:`dualmaxent.certify` defines every figure); on separated data the reduced likelihood is
   solved and certified instead;
3. the CVXPY primal, where it runs: its point, its figures and their agreement with theta.

Symbols: ``theta`` the certified theta, ``mu(theta) = A'(X theta)`` (for the categorical family
``P(theta) = softmax(X theta)``), ``mu_p`` the CVXPY primal optimum; all sums weighted by ``w``;
``scale = 1 + max |X^T W Y|``.

Which primal (``primal=``)
--------------------------
* ``"projected"``: no CVXPY at all; the checker's bracket is the certificate.
* ``"cvxpy"``: the CVXPY primal as well, and its figures are binding.
* ``"auto"`` (default): CVXPY only while its problem has at most ``AUTO_CVXPY_MAX_SIZE``
  entries (distinct rows x columns of theta x columns of ``X``: the balance constraint's
  nonzeros), so that it finishes in about 10 s here; then its figures are a cross-check (a
  CVXPY solve that cannot reach the accuracy is reported, not binding), and the bracket carries
  the certificate. Above it, ``projected``.

The point (CVXPY's ``mu_p`` when it ran, else the checker's)
-----------------------------------------------------------
* ``entropy`` ``H(point)``; ``balance_residual`` = ``max |X^T W (point - Y)| / scale`` over the
  equality rows (for L1 also the excess of ``|X_R^T W (point - Y)|`` over ``lam``);
  ``simplex_residual`` = ``max |P 1 - 1|`` (categorical; 0 otherwise); ``min_entry`` its
  distance from the domain's boundary, as the checker's (:func:`min_entry`; ``inf`` for the
  gaussian family).

The cross-check with CVXPY (NaN when it did not run)
----------------------------------------------------
* ``primal_gap`` = ``|upper_bound - primal objective(mu_p)| / max(1, |upper_bound|)``: how close
  CVXPY came.
* ``p_agreement`` = ``max |mu_p - mu(theta)|`` over the rows of positive weight (a row of
  weight 0 is in neither problem) for probabilities, divided by ``1 + max |mu(theta)|`` for the
  Poisson and Gaussian means.
* ``theta_agreement`` = ``max |theta_p - theta| / (1 + max |theta|)`` between the minimum-norm
  representatives (modulo the null space of ``X`` for a rank-deficient design, modulo the
  directions the reduced likelihood ignores for separated data; for the categorical family
  under L1 alone, whose optimum may split a row between the classes in many ways, the classes'
  differences to the last), ``theta_p`` being CVXPY's multipliers converted by :mod:`.primal`
  (``theta = -dual_value``, same gauge).
* The agreements are judged against the accuracy CVXPY reached, not a fixed number a correct
  solve can miss on ties. The entropy is strongly concave (``-d^2 H / d mu^2 = w / A''``), so a
  feasible point within ``e`` nats of the optimum is within ``sqrt(2 e v / w_min)`` of it
  entrywise (``v`` the largest variance ``A''(eta)``, 1 for a class table, ``w_min`` the smallest
  positive weight). With ``e`` = CVXPY's distance to the upper bound plus the first-order effect
  of its own residual ``|<theta, X^T W (mu_p - Y)>|``, the tolerance of ``p_agreement`` is
  ``max(tol, 2 sqrt(2 e v / w_min))``, and that of ``theta_agreement`` the same times
  ``sqrt(condition)`` of the equilibrated Newton system (theta is as well determined as the
  curvature allows; where the checker formed no curvature, the equilibrated design's condition
  squared stands in). Under L2 and the elastic net CVXPY's penalised rows are no multipliers
  of its own but ``X_R^T W (Y - mu_p) / lam2`` (soft-thresholded): twice what the means' measured
  difference and the dual's gradient make of them, magnified by ``1 / lam2``, is allowed too.
  A wrong theta never hides behind them: the bracket fails first.

The verdict
-----------
The checker's (:mod:`dualmaxent.certify`), and, where CVXPY is binding or reported success, its
figures must agree. The solver's own account (converged or not, its iterations) is provenance,
printed as the certificate's ``source``: a theta that did not converge but whose bracket
closes is certified, and one that converged but whose bracket does not close is not.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import design, progress
from .data import Dataset, require_dataset
from .dual import make_objective, solve_dual
from .families import Bernoulli, Categorical
from .certify import DEFAULT_TOL, ZERO_STEP_SHARE
from .params import Parameterization, checked_tol, make_penalty
from .primal import solve_primal
from .results import Certificate, DualResult, PrimalResult, Status

__all__ = ["recover_primal", "balance_sides", "feature_totals", "verify", "verify_dask",
           "describe_source", "toward_supremum", "primal_objective", "DEFAULT_TOL",
           "certificate_tol", "solve_tol", "PRIMAL_MODES", "AUTO_CVXPY_MAX_SIZE", "primal_gap",
           "agreement_tolerances", "balance_residual", "simplex_residual", "min_entry",
           "p_agreement", "theta_agreement", "cvxpy_size"]


def recover_primal(dataset: Dataset, theta: np.ndarray) -> np.ndarray:
    """The primal point of theta: ``mu = A'(X theta)`` (``softmax(X theta)``, categorical).

    Parameters
    ----------
    dataset : Dataset
    theta : ndarray of shape (m, k) or (m,)

    Returns
    -------
    ndarray of shape (n, k) or (n,)
    """
    dataset = require_dataset(dataset, "recover_primal")
    return dataset.family.mean(dataset.X @ dataset.check_theta(theta))


def balance_sides(dataset: Dataset, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sides of the balance equations at theta, feature by feature and class by class.

    ``expected = X^T W mu(theta)`` is each feature's total under the model, ``observed = X^T W
    Y`` its total in the data (for the categorical family, column ``i`` sums over the rows in
    proportion to their probability of class ``i``). At the optimum they are equal on the
    unpenalised rows (the intercept's); elsewhere ``expected - observed`` is the slack the
    penalty allows: ``-lam sign(theta)`` where an L1 coefficient is nonzero (its box ``|expected
    - observed| <= lam`` is tight), at most ``lam`` in size where it is zero, and ``-lam
    theta`` for L2 (:mod:`dualmaxent.certify`, "The bracket"). :func:`balance_residual` is the
    largest violation of these, relative to the data's scale.

    Parameters
    ----------
    dataset : Dataset
    theta : ndarray of shape (m, k) or (m,)
        Any gauge: the sides depend on theta through ``mu(theta)`` alone.

    Returns
    -------
    expected, observed : ndarray of shape (m, k) or (m,), like theta
    """
    theta = np.asarray(theta, dtype=np.float64)
    expected = feature_totals(dataset, recover_primal(dataset, theta))
    observed = feature_totals(dataset, dataset.Y)
    return np.reshape(expected, theta.shape), np.reshape(observed, theta.shape)


def feature_totals(dataset: Dataset, values) -> np.ndarray:
    """``X^T W values``: each feature's weighted total of a table over the observations (the
    responses ``Y``, a point's means or probabilities, their difference), one column per
    class (categorical) or one; both sides of the balance equations are such totals
    (:func:`balance_sides`).

    Parameters
    ----------
    dataset : Dataset
    values : array_like of shape (n,) or (n, k)

    Returns
    -------
    ndarray of shape (m, k) or (m, 1)
    """
    table = np.asarray(values, dtype=np.float64).reshape(dataset.n, -1)
    return dataset.X.T @ (table * dataset.weights[:, None])


def primal_objective(dataset: Dataset, mu: np.ndarray, penalty=None) -> float:
    """The primal objective at ``mu``: ``H(mu)`` minus the charge of the relaxed balance
    equations, if any (L2, elastic net: :func:`dualmaxent.certify`'s module docstring)."""
    from .certify import _relaxation

    value = dataset.family.entropy(mu, dataset.weights)
    penalty = make_penalty(penalty=penalty) if penalty is not None else make_penalty()
    if penalty.kind in ("l2", "elasticnet"):
        rows = Parameterization.from_dataset(dataset, penalty).penalized_rows
        value -= float(_relaxation([1.0], _balance(dataset, mu), rows, penalty)[0])
    return value


#: The primal modes of :func:`verify` (module docstring).
PRIMAL_MODES = ("auto", "cvxpy", "projected")

#: ``auto`` runs CVXPY while (distinct rows) x (columns of theta) x (columns of X), the nonzeros
#: of its balance constraint, is at most this. Measured on this 2-core machine, otherwise idle,
#: Clarabel with the sized tolerances of :mod:`.primal`: k = 3, m = 11: 6.6e5 entries 11.0 s,
#: 1.1e6 entries 7.7 s (its end game is erratic); k = 10, m = 6: 6e5 entries 11.9 s; binary,
#: m = 51: 2.6e6 entries 15.0 s. Rows x classes alone misjudged the wide binary problem.
AUTO_CVXPY_MAX_SIZE = 1_200_000


def certificate_tol(tol: float | None, dual_tol: float | None) -> float:
    """The certificate's tolerance: ``tol`` when given, else 1e-6 (:data:`DEFAULT_TOL`) or the
    dual solve's ``dual_tol`` when that is looser.

    The certificate tests the dual's relative gradient against its tolerance, the very measure
    the solver stops on: a dual solved to ``dual_tol = 1e-4`` on request stops anywhere below
    1e-4, and a certificate held to 1e-6 would then fail the fit for what it was not asked
    (and search its segment for a bracket that cannot close there, several passes more).
    """
    if tol is None:
        return DEFAULT_TOL if dual_tol is None else max(DEFAULT_TOL, checked_tol(dual_tol))
    return checked_tol(tol)


#: :func:`solve_tol`'s share of the certificate's tolerance for an unpenalised categorical fit
#: of a dense design with at least :data:`CATEGORICAL_SOLVE_MIN_ROWS` rows, where the checker
#: tries the given point's own bracket (:func:`~dualmaxent.certify.zero_step_worth`) ...
CATEGORICAL_SOLVE_SHARE = 0.1
CATEGORICAL_SOLVE_MIN_ROWS = 10_000
#: ... and on fewer rows, where the step it spares forms a curvature that costs at least
#: :data:`CATEGORICAL_SOLVE_MIN_PRODUCTS` products with it as an operator
#: (:func:`~dualmaxent.certify._curvature_products`), this share.
CATEGORICAL_SOLVE_SMALL_SHARE = 0.01
CATEGORICAL_SOLVE_MIN_PRODUCTS = 10.0


def solve_tol(dataset: Dataset, dual_tol: float | None, tol: float,
              penalty=None) -> float | None:
    """The relative gradient :func:`verify` solves the dual to, for a certificate at ``tol``:
    ``dual_tol`` (None: the method's default), but where ``dual_tol <= tol`` (the certificate's
    tolerance the dual's own or looser, as :func:`certificate_tol` makes it) at most
    :data:`~dualmaxent.certify.ZERO_STEP_SHARE` times ``tol`` for the Bernoulli family, and for
    an unpenalised categorical fit (``penalty`` given and inactive) of a dense design whose step
    the checker would try to spare (:func:`~dualmaxent.certify.zero_step_worth`, every entry
    of theta but the pinned class's in ``S``) :data:`CATEGORICAL_SOLVE_SHARE` times ``tol``
    from :data:`CATEGORICAL_SOLVE_MIN_ROWS` rows, :data:`CATEGORICAL_SOLVE_SMALL_SHARE` below
    where that step's full curvature costs :data:`CATEGORICAL_SOLVE_MIN_PRODUCTS` products.

    The checker keeps the given point's own bracket (no Newton step,
    :func:`~dualmaxent.certify._zero_step`) only where the point's relative gradient is within
    that share of the tolerance; a two-class fit stopped at the tolerance itself is charged up
    to twice it, and the checker's step (the curvature over every row, then a pass) costs three
    or four of the solver's last iterations, L-BFGS passes. Solved to the share, those fits
    keep their own bracket. Measured (``MaxEntClassifier(tol=1e-4).fit``, the zero step's
    shares then four tenths and a tenth, one thread, best of 5): n = 1e5, 50 features
    77.4 -> 64.4 ms unpenalised, 77.6 -> 63.2 with L2; n = 1e4, 1e5 and 1e6 with ten features,
    and 1e4 with 50, within the spread. Not for several classes, where the solver's last
    iteration (Newton-CG) costs as much as the step: solved to the share, n = 1e4, ten classes,
    ten features went 23.3 -> 30.2 ms unpenalised, and L2 fits were slower too.

    An unpenalised categorical point is charged more than its relative gradient alone (the
    second-order term of :func:`~dualmaxent.certify._zero_step`, through the curvature's proved
    eigenvalue): at half the tolerance the checker still stepped, and from a tenth it kept the
    point's own bracket. Measured (``MaxEntClassifier(C=np.inf, tol=1e-4).fit`` against the same
    with ``tol=1e-5, certify_tol=1e-4``, one BLAS thread, best of 3 interleaved, a 2-core Intel
    Xeon): ten classes, n = 1e4, ten features 38 -> 31 ms, 50 features 95 -> 50; n = 1e5,
    ten features 324 -> 253, 50 features 858 -> 578; three classes, n = 1e4, ten features 14
    -> 12, 50 features 32 -> 28; where the point's bracket closed already, one more iteration
    (n = 1e5, three classes: 299 -> 307 and 128 -> 131 ms). A hundredth there cost an iteration
    more (n = 1e5, ten classes, ten features 307 -> 336 ms). Below 1e4 rows a tenth kept the
    bracket but not the cheap proof of its curvature's eigenvalue (n = 1e3, ten classes, 50
    features: 38 -> 38 ms), a hundredth did (38 -> 15 ms; 500 rows, 20 features 13 -> 10; 5e3
    rows, 50 features 95 -> 42), where the spared curvature is dear: where it costs a few
    products the step is cheap and the extra iteration is not (n = 2e3, three classes, 30
    features, 4.4 products: 12 -> 14 ms; n = 1e3, five classes, 20 features, 6.5: 10 -> 11).
    With L2 the checker stepped at a tenth as well (the intercept's row charged through its
    multiplier's bound): not there."""
    if dual_tol is None:
        return None
    dual_tol = checked_tol(dual_tol)  # (solve_dual's own one-line error, before the comparison)
    # (only where the certificate is at least as loose as the dual, as by default: a
    # certificate asked tighter than the solve, certify_tol=1e-12 beside tol=1e-4, is the
    # user's own test of that solve, and 0.4e-12 may lie below what float64 can reach)
    share = (ZERO_STEP_SHARE if type(dataset.family) is Bernoulli
             else _categorical_share(dataset, penalty))
    if share is None:
        return dual_tol
    return share * tol if share * tol < dual_tol <= tol else dual_tol


def _categorical_share(dataset: Dataset, penalty) -> float | None:
    """:func:`solve_tol`'s share for an unpenalised categorical fit, or None (its docstring)."""
    from .certify import _curvature_products, zero_step_worth

    if penalty is None or penalty.active or type(dataset.family) is not Categorical:
        return None
    m, k = dataset.m, dataset.k
    if design.is_sparse(dataset.X) or not zero_step_worth(dataset.n, m, k, m * (k - 1), False,
                                                          False):
        return None
    if dataset.n >= CATEGORICAL_SOLVE_MIN_ROWS:
        return CATEGORICAL_SOLVE_SHARE
    if _curvature_products(m * (k - 1), m, k) >= CATEGORICAL_SOLVE_MIN_PRODUCTS:
        return CATEGORICAL_SOLVE_SMALL_SHARE
    return None


#: :func:`slack_tol` from this many terms ``n (m k)^2`` of the full curvature: below it the
#: checker's penalised step costs less than the solver's further iterations (n = 1e5, three
#: classes, ten features, C = 1, 1.1e8 terms: 116 -> 161 ms at ``tol=1e-4`` in a sweep with
#: the checker's threshold, :data:`~dualmaxent.certify.PENALISED_STEP_MIN_TERMS`, here; from
#: 1.2e9 terms as fast or faster, interleaved).
SLACK_MIN_TERMS = 1e9


def slack_tol(dataset: Dataset, penalty, tol: float) -> float | None:
    """:func:`dualmaxent.solve_dual`'s ``slack_tol`` for a certificate at ``tol``:
    :data:`~dualmaxent.certify.ZERO_STEP_SHARE` times ``tol`` for a categorical L2 fit (no L1
    part) of a dense design whose full curvature has more than :data:`SLACK_MIN_TERMS` terms
    ``n (m k)^2``, else None.

    A gradient that meets the relative tolerance can leave the ridge's slack charge,
    ``||g_R||^2 / (2 lam)``, above the tolerance of the objective where ``n`` is large and the
    ridge weak; the checker then takes the penalised problem's Newton step, whose curvature over
    every row has ``n |S|^2`` terms (:func:`~dualmaxent.certify._penalised_step`). The solver's
    next iteration or two cost a few passes over ``X`` and, Newton converging quadratically,
    take that charge far below. Measured (``MaxEntClassifier(C=1, tol=1e-4).fit``, one BLAS
    thread, 2-core machine, best of 2 interleaved with the tree before): n = 1e6, ten classes,
    ten features 4.09 -> 2.92 s (the checker's step alone had been 2.75 s of a 5.2 s fit, slower
    than the default tolerance's 3.8); three classes, 50 features 3.45 -> 2.82 s; n = 1e5,
    three and ten classes, 50 features, 0.63 and 0.62 of the time. Not for a one-parameter
    family, whose solver's next iteration (Newton) forms the very curvature the checker's step
    would, ``n m^2``: two classes, n = 1e6, 50 features, 1.29 -> 2.09 s, and the checker
    stepped all the same (the intercept's step)."""
    if (not (penalty.l2_lam > 0 and not penalty.l1_lam) or not dataset.family.multiclass
            or design.is_sparse(dataset.X)):
        return None
    if dataset.n * float(dataset.m * dataset.k) ** 2 <= SLACK_MIN_TERMS:
        return None
    return ZERO_STEP_SHARE * tol


#: The tightest relative gradient :func:`_tighter_if_relaxed` asks of the dual: about where
#: float64's own rounding of the gradient stops Newton (10 eps).
TIGHTEST_DUAL_TOL = 1e-15


def _tighter_if_relaxed(dataset, dual, cert, penalty, method, max_iter, tol):
    """``(dual, cert)``, solved again tighter where the dual met its default tolerance but the
    bracket does not close: that of an L2 part (L2, the elastic net), or the gaussian and
    Poisson gap judged against the fit's own excess over the data's point.

    The relaxed primal pays ``||s||^2 / (2 lam2)`` for the slack ``s = lam2 theta + g`` of the
    penalised rows, ``g`` the dual's gradient there: its part ``||g||^2 / (2 lam2)`` grows as
    ``1 / lam2``, so a weak ridge (``C = 1e12``, how many users ask for no penalty with
    scikit-learn's parameters) leaves a gap of order ``||g||^2 / lam2`` at the default
    relative gradient (iris, ``lam = 1e-12``: 3.5e-5 relative, at a gradient of 3.9e-11); the
    checker's own penalised step (:func:`~dualmaxent.certify._penalised_step`) now closes
    most such brackets at the given theta, and this runs where it did not (a curvature too
    large to form, a step whose linearisation misses). And
    a Poisson fit of counts up to 1e8 is an objective of 4e9 nats whose fit's own excess is 92:
    the gap the default relative gradient leaves, 2e-2 nats, is at the rounding level of the
    first and 2e-4 of the second. The gap falls as ``||g||^2``: the dual is solved again from
    its theta to ``sqrt(1 / shortfall)`` times its gradient (:func:`~dualmaxent.certify.
    gap_shortfall`), with a tenth to spare (at least :data:`TIGHTEST_DUAL_TOL`), and the second
    certificate is kept where its gap is smaller."""
    from .certify import certify, gap_shortfall

    shortfall = gap_shortfall(cert.projected, tol) if cert.projected is not None else 0.0
    if cert.ok or not dual.converged or not shortfall > 1.0 or not np.isfinite(shortfall) or (
            not penalty.l2_lam > 0 and not np.isfinite(cert.projected.excess_reference)):
        return dual, cert

    target = max(0.1 * dual.kkt_residual * float(np.sqrt(1.0 / shortfall)), TIGHTEST_DUAL_TOL)
    if not target < dual.kkt_residual:
        return dual, cert
    again = solve_dual(dataset, method=method, tol=target, max_iter=max_iter, penalty=penalty,
                       theta0=dual.theta, check_attainment=False)
    again = _continued(dual, again)
    second = certify(dataset, again.theta, penalty=penalty, tol=tol,
                     source=describe_source(again))
    better = gap_shortfall(second.projected, tol) < shortfall
    return (again, second) if better else (dual, cert)


def _continued(first: DualResult, again: DualResult) -> DualResult:
    """``again``, a solve started from ``first``'s theta, reported as the one solve it continues:
    the iterations, seconds and history of both (``again``'s first row is ``first``'s last
    point, counted once), the first solve's attainment, and a message that says so."""
    offset = {"iteration": first.iterations, "seconds": first.solve_seconds}
    history = {}
    for key, values in again.history.items():
        head = np.asarray(first.history.get(key, ()))
        tail = np.asarray(values)[1:] + offset.get(key, 0)
        history[key] = np.concatenate([head, tail]) if head.size else tail
    return dataclasses.replace(
        again, iterations=first.iterations + again.iterations,
        solve_seconds=first.solve_seconds + again.solve_seconds, history=history,
        attained=first.attained,
        message=f"{again.message}, continued past the default tolerance "
                f"({first.iterations} iterations to {first.kkt_residual:.1e}, then "
                f"{again.iterations} more): the weak ridge's bracket needs a smaller gradient")


def verify(
    dataset: Dataset,
    primal: PrimalResult | str | None = None,
    dual: DualResult | None = None,
    tol: float | None = None,
    *,
    solver: str = "CLARABEL",
    gauge: str = "pivot",
    method: str = "auto",
    l2: float | None = None,
    l1: float | None = None,
    penalty=None,
    dual_tol: float | None = None,
    solver_options: dict | None = None,
    l1_ratio: float | None = None,
    dual_max_iter: int | None = None,
) -> Certificate:
    """Solve the dual (unless given), certify its theta, and cross-check with CVXPY.

    The certificate is :func:`dualmaxent.certify` at ``dual.theta``: it reads nothing else from
    the dual result. CVXPY's figures are added when it runs (module docstring).

    Parameters
    ----------
    dataset : Dataset
    primal : {"auto", "cvxpy", "projected"} or PrimalResult, default "auto"
        Which primal to solve (module docstring), or a CVXPY result to check (then ``cvxpy``).
    dual : DualResult, optional
        A dual result to check; solved here when omitted.
    tol : float, optional
        Tolerance for the figures of the certificate: by default 1e-6, or ``dual_tol`` when
        that is looser (:func:`certificate_tol`).
    solver, gauge, solver_options
        For :func:`dualmaxent.solve_primal`, when CVXPY runs.
    method, dual_tol, dual_max_iter
        For :func:`dualmaxent.solve_dual`, as its ``method``, ``tol`` and ``max_iter`` (the last
        two default to the method's own; a two-class ``dual_tol`` is tightened to
        :data:`~dualmaxent.certify.ZERO_STEP_SHARE` times ``tol`` where ``tol`` is its own or
        looser, :func:`solve_tol`).
    l2, l1, penalty, l1_ratio
        The penalty (the same for both problems; ``l1=lam, l1_ratio=a`` is the elastic net,
        :func:`dualmaxent.params.make_penalty`).

    Returns
    -------
    Certificate
    """
    import warnings

    from .certify import certify
    from .exceptions import DualMaxentError, DualMaxentWarning

    dataset = require_dataset(dataset, "verify")
    tol = certificate_tol(tol, dual_tol)
    mode, primal = _primal_mode(primal)
    if primal is not None and np.shape(primal.mu) != np.shape(dataset.Y):
        raise DualMaxentError(f"the primal result's mu has shape {np.shape(primal.mu)}, the "
                              f"data set's Y {np.shape(dataset.Y)}: it was solved on other data")
    if dual is not None and not isinstance(dual, DualResult):
        raise DualMaxentError(f"dual must be a DualResult (from solve_dual) or None; got "
                              f"{type(dual).__name__}")
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty, l1_ratio=l1_ratio)
    solved_here = dual is None
    with warnings.catch_warnings():
        # the certificate reports every doubt itself; don't print it twice
        warnings.simplefilter("ignore", DualMaxentWarning)
        if solved_here:
            # the certificate settles whether the maximiser exists from its own projected
            # point (and the separation LP when that is inconclusive); the dual's proof would
            # be the same passes over X again (ten classes, n = 10^5, m = 51: 0.13 s of a
            # 0.63 s solve), so the dual does not make it and its ``attained`` stays None
            asked = solve_tol(dataset, dual_tol, tol, penalty)
            dual = solve_dual(dataset, method=method, tol=asked, max_iter=dual_max_iter,
                              penalty=penalty, check_attainment=False,
                              slack_tol=slack_tol(dataset, penalty, tol))
            if asked != dual_tol:  # (said where the solver's message shows the tolerance)
                dual = dataclasses.replace(dual, message=(
                    f"{dual.message} (the {dual_tol:g} asked, tightened to {asked / tol:g} x "
                    f"the certificate's tolerance {tol:g}: the checker's cheapest bracket, at "
                    "the point itself with no Newton step, needs that)"))
        if dual.penalty != penalty:
            raise DualMaxentError("the dual result was solved with another penalty")
        cert = certify(dataset, dual.theta, penalty=penalty, tol=tol, source=describe_source(dual))
        if solved_here and dual_tol is None:
            dual, cert = _tighter_if_relaxed(dataset, dual, cert, penalty, method,
                                             dual_max_iter, tol)
        separation = cert.separation
        forced = separation.forced if separation is not None and separation.separated else None
        if forced is not None:
            # separated data: solve the reduced likelihood (forced entries removed), then walk
            # its theta along the LP's recession direction until the full likelihood is within
            # the tolerance of its supremum, and certify that finite theta
            if solved_here:
                dual = solve_dual(dataset, method=method, tol=dual_tol, max_iter=dual_max_iter,
                                  forced=forced)
            theta, steps = toward_supremum(dataset, dual.theta, separation, tol)
            source = describe_source(dual) + (f", then {steps:.3g} x the separating direction"
                                              if steps > 0 else "")
            cert = certify(dataset, theta, penalty=penalty, tol=tol, source=source,
                           separation=separation)
        run_cvxpy, reason = _choose_primal(mode, primal, dataset, dual)
        if run_cvxpy and primal is None:
            # on a terminal, a primal that takes seconds shows the solver's own iterations
            verbose = progress.enabled() and cvxpy_size(dataset) > progress.CVXPY_VERBOSE_SIZE
            primal = solve_primal(dataset, solver=solver, gauge=gauge, penalty=penalty,
                                  forced=forced, verbose=verbose, **(solver_options or {}))
    if primal is not None and primal.penalty != penalty:
        raise DualMaxentError("the primal and dual results were solved with other penalties")
    return _with_cvxpy(dataset, cert, dual, primal, mode, reason, forced, tol)


def toward_supremum(dataset: Dataset, theta, separation, tol: float):
    """``(theta + s d, s)``: a finite theta whose full likelihood is within ``tol`` of the
    supremum, on separated data.

    ``d`` is the separation LP's recession direction: it leaves the reduced likelihood unchanged
    and drives every forced entry's probability (or mean) to its bound. Each forced entry costs
    the likelihood at most ``w_j exp(-L)`` once its linear predictor is ``L`` below its
    observation's own class (Bernoulli: ``L`` beyond zero on its own side; Poisson: ``eta <=
    -L``), so ``s`` is the smallest step that puts every forced entry ``L = log(sum of their
    weights / (tol / 1000))`` there. Returns ``(theta, 0)`` when there is no
    direction, or it does not separate (the certificate then says why).
    """
    d = separation.direction
    if d is None:
        return theta, 0.0
    theta = np.asarray(theta, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64).reshape(theta.shape)
    X, Y, w = dataset.X, dataset.Y, dataset.weights
    eta0, eta_d = X @ theta, X @ d
    forced = np.asarray(separation.forced, dtype=bool)
    if dataset.family.multiclass:
        own0 = (Y * eta0).sum(axis=1, keepdims=True)
        own_d = (Y * eta_d).sum(axis=1, keepdims=True)
        need, slack = (eta0 - own0)[forced], (own_d - eta_d)[forced]
        weight = np.broadcast_to(w[:, None], forced.shape)[forced]
    elif dataset.family.is_probability:  # bernoulli: forced to its own label
        sign = 2.0 * Y - 1.0
        need, slack, weight = (-sign * eta0)[forced], (sign * eta_d)[forced], w[forced]
    else:  # poisson: forced to mean zero
        need, slack, weight = eta0[forced], -eta_d[forced], w[forced]
    if need.size == 0 or not np.all(slack > 0):
        return theta, 0.0
    L = np.log(max(float(weight.sum()), 1.0) / (1e-3 * tol))
    s = max(0.0, float(((L + need) / slack).max()))
    return theta + s * d, s


def describe_source(dual: DualResult) -> str:
    """Where a solver's theta came from, for the printout: "solver newton, converged, 6
    iterations"."""
    state = "converged" if dual.converged else f"not converged ({dual.status})"
    return f"solver {dual.method}, {state}, {dual.iterations} iterations"


def _with_cvxpy(dataset, cert: Certificate, dual, primal, mode, reason, forced, tol):
    """The certificate with the dual's provenance and, when CVXPY ran, its point and figures."""
    from dataclasses import replace

    notes, failures = list(cert.notes), [m for m in cert.messages if m not in cert.notes]
    if forced is not None and (dual.forced is None or not np.array_equal(dual.forced, forced)):
        notes.append("the dual was solved on the full likelihood: on separated data it has no "
                     "maximiser (theta* is at infinity); the certificate is about theta's "
                     "reduced likelihood, whose supremum it brackets")
    if not dual.converged:
        notes.append(f"the dual solver ({dual.method}) did not converge: {dual.message}")
    sep_check = cert.separation_check
    if sep_check is not None:
        obj = make_objective(dataset, dual.penalty, forced=forced)
        sep_check = replace(sep_check, reduced_parameters=obj.n_params)
    fields = {"dual": dual, "separation_check": sep_check}
    if primal is not None:
        obj = make_objective(dataset, dual.penalty, forced=forced)
        point = primal.mu if np.all(np.isfinite(primal.mu)) else None
        cross = _cross_check(dataset, primal, dual, obj, cert.projected, tol)
        if point is not None:
            fields.update(entropy=primal.entropy,
                          balance_residual=balance_residual(dataset, point, obj),
                          simplex_residual=simplex_residual(dataset.family, point),
                          min_entry=min_entry(dataset.family, point))
        figures = {"entropy": fields.get("entropy", cert.entropy),
                   "balance_residual": fields.get("balance_residual", cert.balance_residual),
                   "simplex_residual": fields.get("simplex_residual", cert.simplex_residual),
                   "min_entry": fields.get("min_entry", cert.min_entry)}
        cvxpy_messages = _cvxpy_messages(primal, figures, cross, tol, dataset)
        if mode == "cvxpy":
            failures += cvxpy_messages
        else:  # auto: CVXPY is a cross-check; the bracket carries the certificate
            notes += [f"{text}; the certificate rests on the projected bound"
                      for text in cvxpy_messages if not text.startswith("disagreement")]
            failures += [text for text in cvxpy_messages if text.startswith("disagreement")]
        fields.update(primal=primal, primal_solver=primal.solver, primal_gap=cross["primal_gap"],
                      p_agreement=cross["p_agreement"], theta_agreement=cross["theta_agreement"],
                      extra={**cert.extra, "p_tol": cross["p_tol"],
                             "theta_tol": cross["theta_tol"],
                             "primal_objective": cert.lower_bound if point is None
                             else primal_objective(dataset, point, dual.penalty)})
    notes = [text for text in notes if not (primal is not None and text in failures)]
    return replace(cert, primal_reason=reason, ok=not failures, notes=tuple(notes),
                   messages=tuple(notes) + tuple(failures), **fields)


def verify_dask(dataset, tol: float | None = None, *, l2: float | None = None, penalty=None,
                dual_tol: float | None = None, client=None, l1: float | None = None,
                l1_ratio: float | None = None) -> Certificate:
    """Certify a :class:`~dualmaxent.distributed.DaskDataset` from theta*, in passes over chunks.

    The dual is :func:`~dualmaxent.distributed.solve_dual_dask` (Newton, one pass per
    iteration); the certificate is :func:`dualmaxent.certify` with the data set's engine (the
    checker's own block functions mapped over the chunks), and the rank comes from the Gram
    matrix (one pass). No CVXPY and no separation LP run at this scale: attainment is proved by
    the checker's point lying strictly inside the domain, and when the dual diverges instead the
    verdict is "not certified" with a hint to run on a sample in memory.

    Parameters
    ----------
    dataset : DaskDataset
    tol : float, optional
        As for :func:`verify`: 1e-6, or ``dual_tol`` when that is looser.
    l2, l1, l1_ratio, penalty
        The penalty, as for :func:`verify` (L1 and the elastic net by proximal Newton on the
        engine; the checker's boxes and charges are sums over the chunks like the rest).
    dual_tol : float, optional
    client : distributed.Client, optional

    Returns
    -------
    Certificate
        ``primal`` is None; ``attained`` is True only when proved.
    """
    import warnings
    from dataclasses import replace

    from .certify import certify
    from .distributed import DIVERGED_MESSAGE, DaskDataset, solve_dual_dask
    from .exceptions import DataError, DualMaxentWarning
    from .identifiability import identify_gram

    if not isinstance(dataset, DaskDataset):
        raise DataError("verify_dask takes a Dask data set (dualmaxent.distributed.from_dask, "
                        f"read_parquet, read_csv or from_frame); got {type(dataset).__name__}; "
                        "a Dataset in memory is certified by verify")
    tol = certificate_tol(tol, dual_tol)
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty, l1_ratio=l1_ratio)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DualMaxentWarning)
        dual = solve_dual_dask(dataset, penalty, tol=dual_tol, client=client)
    engine = dataset.engine(client)
    cert = certify(dataset, dual.theta, penalty=penalty, tol=tol, engine=engine,
                   source=describe_source(dual))
    ident = identify_gram(engine.map_reduce(_gram_block), dataset.feature_names)
    hint = ("; run on a sample without --engine dask, where the separation LP decides and the "
            "reduced problem is certified")
    notes, failures = [], []
    if not ident.full_rank:
        notes.append(f"the columns of X are linearly dependent (rank {ident.rank} of {ident.m}):"
                     f" {'; '.join(ident.dependencies)}")
    notes += [text for text in cert.notes if "separation LP" not in text]
    failures += [text for text in cert.messages if text not in cert.notes]
    if dual.status is Status.DIVERGED:
        failures.insert(0, f"not certified: {DIVERGED_MESSAGE}{hint}")
    elif not cert.attained:
        failures.append("not certified: the checker's point is not strictly inside the domain, "
                        f"so the maximiser's existence is not proved{hint}")
    if not dual.converged:
        notes.append(f"the dual solver ({dual.method}) did not converge: {dual.message}")
    return replace(cert, dual=dual, rank=ident.rank, ok=not failures,
                   primal_reason="engine dask: no CVXPY at this scale", notes=tuple(notes),
                   messages=tuple(notes) + tuple(failures))


def _gram_block(Xb, Yb, wb):
    """``X_b^T W_b X_b`` of one chunk (engine pass for the rank)."""
    from ._kernels import gram

    return gram(Xb, wb)


def _primal_mode(primal) -> tuple[str, PrimalResult | None]:
    """``(mode, given result)`` from verify's ``primal`` argument."""
    from .exceptions import DualMaxentError

    if primal is None:
        return "auto", None
    if isinstance(primal, PrimalResult):
        return "cvxpy", primal
    if isinstance(primal, str) and primal in PRIMAL_MODES:
        return primal, None
    raise DualMaxentError(f"unknown primal {primal!r}; choose one of {', '.join(PRIMAL_MODES)}"
                          " or pass a PrimalResult")


def cvxpy_size(dataset: Dataset) -> int:
    """(distinct rows of ``X``) x (columns of theta) x ``m``: the size of the CVXPY primal."""
    q = dataset.k if dataset.family.multiclass else 1
    per_row = q * dataset.m
    if (dataset.n * per_row <= AUTO_CVXPY_MAX_SIZE or dataset.n * per_row > 20 * AUTO_CVXPY_MAX_SIZE
            or design.is_sparse(dataset.X)):
        return dataset.n * per_row  # distinct rows cannot change the decision
    X = np.ascontiguousarray(dataset.X)
    rows = X.view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).ravel()
    return int(np.unique(rows).size) * per_row


def _choose_primal(mode: str, primal, dataset: Dataset, dual: DualResult):
    """``(run CVXPY?, reason)`` for the mode (module docstring)."""
    if primal is not None:
        return True, "a CVXPY result was given"
    if mode == "cvxpy":
        return True, "asked for (primal='cvxpy')"
    if mode == "projected":
        return False, "asked for (primal='projected')"
    size = cvxpy_size(dataset)
    if size <= AUTO_CVXPY_MAX_SIZE:
        return True, (f"auto: the CVXPY problem has {size} entries <= {AUTO_CVXPY_MAX_SIZE}, "
                      "small enough for about 10 s")
    return False, (f"auto: the CVXPY problem would have {size} entries > {AUTO_CVXPY_MAX_SIZE} "
                   "(too slow); the projected primal certifies instead")


# -- the figures of the certificate, one function each (definitions in the module docstring) --

def primal_gap(dataset: Dataset, primal: PrimalResult, upper: float, penalty) -> float:
    """How far CVXPY's objective is from the upper bound: ``|upper - primal(mu_p)| / max(1,
    |upper|)``."""
    value = primal_objective(dataset, primal.mu, penalty)
    return abs(upper - value) / max(1.0, abs(upper))


def agreement_tolerances(dataset: Dataset, primal: PrimalResult, dual: DualResult, obj,
                         projected, tol: float, mu_d: np.ndarray) -> tuple[float, float]:
    """``(p_tol, theta_tol)``: what CVXPY's accuracy allows the agreements (module docstring);
    ``mu_d`` the dual theta's means, as :func:`p_agreement` compares them."""
    fam, w = dataset.family, dataset.weights
    positive = w > 0
    resid = _balance(dataset, primal.mu)  # X^T W (mu_p - Y)
    eq = ~obj.params.penalized_rows
    theta = np.asarray(dual.theta).reshape(resid.shape)
    distance = (abs(projected.upper_bound - primal_objective(dataset, primal.mu, obj.penalty))
                + float(np.abs(theta[eq] * resid[eq]).sum()))
    if fam.multiclass:
        v = 1.0
    else:
        v = float(fam.variance(dataset.X[positive] @ dual.theta).max(initial=0.0))
    p_tol = max(tol, 2.0 * np.sqrt(2.0 * distance * v / float(w[positive].min())))
    condition = projected.condition
    if not np.isfinite(condition):  # the checker formed no curvature (its point itself, or
        # the Kronecker bound): the design's, squared, as the curvature's when the variances
        # are of one size
        condition = dataset.identifiability.condition ** 2
    theta_tol = max(tol, p_tol * np.sqrt(max(condition, 1.0)))
    lam2, pen = obj.penalty.l2_lam, obj.params.penalized_rows
    if lam2 > 0 and pen.any():
        # CVXPY's penalised rows are no multipliers of its own: they are X_R^T W (Y - mu_p) /
        # lam2 (the elastic net's soft-thresholded, as Lipschitz), and the dual's theta is the
        # same of mu(theta) up to its own gradient over lam2. So their difference is CVXPY's
        # means' difference (judged by p_agreement) magnified by 1 / lam2: a weak penalty
        # (lam2 = 5e-5) made a mean's 5e-13 a theta's 1e-5 and a certified fit NOT OK. Allowed
        # here, twice, from the means as measured and the dual's gradient
        moved = np.abs(primal.mu - mu_d).reshape(dataset.n, -1)
        reach = np.asarray(design.absolute(dataset.X[:, pen]).T @ (w[:, None] * moved))
        own = dual.kkt_residual * obj.scale
        theta_tol = max(theta_tol, 2.0 * (float(reach.max(initial=0.0)) + own) / lam2
                        / (1.0 + float(np.abs(dual.theta).max(initial=0.0))))
    return p_tol, theta_tol


def balance_residual(dataset: Dataset, mu: np.ndarray, obj) -> float:
    """``max |X^T W (mu - Y)| / scale`` over the equality rows; for L1 also the excess of the
    penalised rows' ``|X_R^T W (mu - Y)|`` over ``lam``. ``obj`` supplies the penalised rows,
    the penalty and ``scale``."""
    B = _balance(dataset, mu)
    pen_rows = obj.params.penalized_rows
    eq = np.abs(B[~pen_rows]).max() if (~pen_rows).any() else 0.0
    if obj.penalty.kind == "l1" and pen_rows.any():
        eq = max(eq, float(np.maximum(np.abs(B[pen_rows]) - obj.penalty.lam, 0.0).max()))
    return float(eq) / obj.scale


def simplex_residual(family, mu: np.ndarray) -> float:
    """``max |P 1 - 1|`` for the categorical family (rows of P on the simplex), else 0."""
    return float(np.abs(mu.sum(axis=1) - 1.0).max()) if family.multiclass else 0.0


def min_entry(family, mu: np.ndarray) -> float:
    """The point's distance from its domain's boundary, as the checker's ``min_entry`` measures
    it: the smallest entry of ``P`` (categorical), of ``mu`` and ``1 - mu`` (Bernoulli), of
    ``mu`` (Poisson); negative outside the domain; ``inf`` for an unbounded mean (gaussian)."""
    lower, upper = family.mean_bounds
    mu = np.asarray(mu, dtype=np.float64)
    out = np.inf
    if np.isfinite(lower):
        out = min(out, float((mu - lower).min(initial=np.inf)))
    if np.isfinite(upper) and not family.multiclass:
        out = min(out, float((upper - mu).min(initial=np.inf)))
    return out


def p_agreement(family, mu_p: np.ndarray, mu_d: np.ndarray, weights=None) -> float:
    """``max |mu_p - mu_d|`` over the rows of positive weight (``weights``, (n,); all rows
    when None); divided by ``1 + max |mu_d|`` for means that are not probabilities (Poisson,
    Gaussian). A row of weight 0 is in neither problem: CVXPY leaves its mean anywhere in the
    domain (8.2 from ``mu(theta)`` on a Poisson row of mean 728, a certified fit's NOT OK)."""
    if weights is not None:
        rows = np.asarray(weights) > 0
        mu_p, mu_d = (np.asarray(a)[rows] for a in (mu_p, mu_d))
    if not np.size(mu_d):
        return 0.0
    diff = np.abs(mu_p - mu_d).max()
    if not family.is_probability:
        diff = diff / (1.0 + np.abs(mu_d).max())
    return float(diff)


def theta_agreement(theta_p, theta_d, obj=None) -> float:
    """``max |theta_p - theta_d| / (1 + max |theta_d|)`` (NaN without a primal theta).

    ``obj``: the problem's objective; each theta is first replaced by its minimum-norm
    representative ``obj.theta(obj.beta(theta))`` (modulo the null space of ``X`` for an
    :class:`~dualmaxent.objective.IdentifiedObjective`, modulo the recession directions for a
    :class:`~dualmaxent.objective.ReducedObjective`, the pivot gauge otherwise).
    """
    if theta_p is None:
        return float("nan")
    if obj is not None:
        theta_p, theta_d = (obj.theta(obj.beta(t)) for t in (theta_p, theta_d))
        if obj.family.multiclass and obj.penalty.has_l1 and not obj.penalty.l2_lam:
            # L1 alone: the likelihood reads each row's class differences, which P fixes (for
            # a design of full rank), and the penalty sum_c |theta_ic| is flat in how a row is
            # split between the classes wherever the row's two middle entries differ (an even
            # number of classes: two classes always), so two optima may differ there (0.2 on
            # a three-feature, two-class fit): the differences to the last class are compared
            theta_p, theta_d = (t - t[:, -1:] for t in (theta_p, theta_d))
    return float(np.abs(theta_p - theta_d).max() / (1.0 + np.abs(theta_d).max()))


# -- the verdict -----------------------------------------------------------------------------

_NO_CVXPY = {"primal_gap": np.nan, "p_agreement": np.nan, "theta_agreement": np.nan,
             "p_tol": np.nan, "theta_tol": np.nan}


def _cross_check(dataset, primal, dual, obj, projected, tol) -> dict:
    """CVXPY's figures and their tolerances (NaN where CVXPY returned no solution)."""
    if primal.theta is None:
        return _NO_CVXPY
    mu_d = obj.mean(dual.theta) if obj.forced is not None else recover_primal(dataset, dual.theta)
    p_tol, theta_tol = agreement_tolerances(dataset, primal, dual, obj, projected, tol, mu_d)
    return {"primal_gap": primal_gap(dataset, primal, projected.upper_bound, obj.penalty),
            "p_agreement": p_agreement(dataset.family, primal.mu, mu_d, dataset.weights),
            "theta_agreement": theta_agreement(primal.theta, dual.theta, obj),
            "p_tol": p_tol, "theta_tol": theta_tol}


def _cvxpy_messages(primal: PrimalResult, point: dict, cross: dict, tol: float,
                    dataset: Dataset) -> list[str]:
    """CVXPY's failures, and ``disagreement ...`` for a contradiction with theta*."""
    if not primal.converged or primal.theta is None:
        return [f"the CVXPY primal ({primal.solver}) could not reach the accuracy the problem's "
                f"conditioning demands: status '{primal.status}'"
                + (f" ({primal.message})" if primal.message else "")
                + f", condition number of the weighted design "
                f"{dataset.identifiability.condition:.1e}"]
    messages = []
    for name, value in (("balance_residual", point["balance_residual"]),
                        ("simplex_residual", point["simplex_residual"]),
                        ("primal_gap", cross["primal_gap"])):
        if not value <= tol:
            messages.append(f"the CVXPY primal's {name} {value:.1e} exceeds the tolerance {tol:g}")
    if point["min_entry"] < -tol:
        messages.append(f"the CVXPY primal has a negative entry {point['min_entry']:.1e}")
    if messages:
        return messages  # CVXPY's own accuracy failed: its agreements prove nothing either way
    for name, limit in (("p_agreement", "p_tol"), ("theta_agreement", "theta_tol")):
        if not cross[name] <= cross[limit]:
            messages.append(f"disagreement: {name} {cross[name]:.1e} exceeds what the CVXPY "
                            f"solve's accuracy allows ({cross[limit]:.1e})")
    return messages


def _balance(dataset: Dataset, mu: np.ndarray) -> np.ndarray:
    """``X^T W (mu - Y)``, shape (m, k) (categorical) or (m, 1)."""
    return feature_totals(dataset, mu - dataset.Y)

