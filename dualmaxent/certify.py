"""The checker: a certificate for any theta, computed from (data, theta, penalty) alone.

A certificate is only as good as its checker, so this module trusts nothing that a solver
produced: it takes the data, a theta (from our solvers, from another library, or typed in) and
the penalty, and computes every figure itself, in float64, over row blocks, with its own plain
expressions. It shares only :mod:`dualmaxent._numerics` (log-sum-exp, softmax) and the
families' definitions (:mod:`dualmaxent.families`) with the rest of the package; not the
solvers' fused kernels, caches or float32 shortcuts, so that one bug cannot make both sides
agree. :func:`dualmaxent.verify` is the solve, then this checker, then the CVXPY cross-check.

Conventions: sums over observations (never means), natural logarithms (nats), ``theta`` of shape
``(m, k)`` (categorical) or ``(m,)``, any gauge; ``l`` the *canonical* log-likelihood
``sum_j w_j [<Y_j, eta_j> - A(eta_j)]`` with ``eta = X theta`` (unit variance for the gaussian
family); the penalty on every row but the intercept's (:mod:`dualmaxent.params`).

The bracket
-----------
Weak duality: for every ``mu`` feasible for the maximum-entropy primal (each row in the family's
domain; ``X^T W (mu - Y) = 0`` on the equality rows; for L1 the boxes ``|X_R^T W (mu - Y)| <=
lam``) and every ``theta``, ``primal(mu) <= OPT <= dual(theta)``, where ``dual(theta) = -(l(theta)
- penalty(theta))`` and ``primal(mu) = H(mu) = -sum_j w_j A*(mu_j)`` minus the charge of the
slack ``s = X_R^T W (mu - Y)`` of the penalised rows, the convex conjugate of the penalty:
``||s||^2 / (2 lam)`` for L2; for the elastic net, whose penalty is ``lam (a ||theta_R||_1 +
(1 - a)/2 ||theta_R||^2)`` (``a`` its ``l1_ratio``), ``sum (|s| - lam a)_+^2 / (2 lam (1 -
a))`` entry by entry, a box of half-width ``lam a`` softened by a quadratic (derived in
:class:`dualmaxent.params.Penalty`); none for L1, whose boxes are constraints instead. So

* ``upper_bound = dual(theta)``, the objective at the given theta, is an upper bound for every
  finite theta;
* ``lower_bound = primal(mu)`` at a point ``mu`` this module builds and then *checks*.

The point. One Newton step in mean space from ``mu(theta) = A'(X theta)``: with ``C`` the
curvature ``-Hessian`` of ``l`` and ``J`` the derivative of the mean map, ``mu~ = mu + J a`` with
``C_SS a_S = t_S`` moves the balance equations exactly onto their targets (the pivot entries of
theta, ``t = X^T W (Y - mu)``; for L2 and the elastic net the intercept row alone, the charge
paid at ``mu~``, unless that leaves the bracket open: then the penalised problem's step,
``(C_SS + lam2 I_R) a_S = t_S`` with ``t = R - lam2 theta - lam1 sign(theta)`` on L2's every
penalised entry and the elastic net's active ones, whose gap is second order in the gradient
(:func:`_penalised_step`); for L1 also the active entries, ``t = R - lam sign(theta)``).
``C_SS`` is
equilibrated and solved on its numerical range (a pseudo-inverse), so rank-deficient designs and
recession directions cost nothing; above :data:`DENSE_CORRECTION_MAX` entries it is never
formed, and MINRES solves with the curvature as an operator (:func:`_cg_step`). Where ``C_SS``
costs many such products, it is formed from a row sample (:data:`KRYLOV_SAMPLE_ROWS` rows per
entry of ``S``, chosen with the decades the iterations must gain, :func:`_krylov_products`; a
fixed stride of all rows) whose factor preconditions conjugate gradients
with the exact curvature (:func:`_newton_step`): the step need not be exact, because the point
it gives is measured, not trusted; when the iterations do not bring the residual within its
own rounding bound at a fraction of the full curvature's cost, the full curvature is formed and
the step taken again. Without a penalty, where the full ``C_SS`` is formed in memory, its
products are taken in float32 (:data:`SINGLE_MIN_TERMS`): that curvature only proposes the
step, whose point pass 2 measures in float64 like any other; a point worse than the float64
step's would be is replaced by that step's (:func:`_proposal_closes`), and the attainment
proof's eigenvalue bound comes from float64 sums (:func:`_proved_smallest`). Likewise the
row sample's conjugate gradients take their products with the curvature in float32 where
``X`` is read from memory and few decades are to be gained (:data:`SINGLE_KRYLOV_DECADES`):
a point worse than the float64 iterations' would be is replaced by theirs. Where ``S`` is
whole classes on one set of columns (no penalty) and the sample cannot be taken (fewer than
``4 |S|`` rows) or costs more with its factor, the iterations are preconditioned by a
Kronecker product of two small averages (:func:`_kronecker_solve`) and the attainment proof's
eigenvalue is bounded through a Gram matrix of ``X``'s columns (:func:`_kronecker_smallest`):
no ``|S|``-sized matrix is formed unless either falls short.

Near the optimum no step is taken where the given point closes the bracket as a step's would
(:func:`_zero_step`): ``mu~ = mu(theta)`` itself, ``C_SS`` never formed, and pass 2 without a
product with ``X``; without a penalty its residual, the gradient at theta, is then charged to
second order too (below), from a proved lower bound of ``C_SS``'s smallest eigenvalue.

Far from the optimum ``mu~`` can leave the domain (a negative probability). Then the point is
moved back along the segment from the data ``Y`` to ``mu~``: ``Y`` itself is feasible for every
family (its balance residual is zero, its boxes empty, its rows in the closed domain), the
feasible set is convex, and ``mu(t) = Y + t (mu~ - Y)`` has residual ``t r~``, so
``mu(t)`` is feasible for every ``t`` in ``[0, t_max]``, ``t_max`` the last ``t`` before a row
leaves the domain (or, for L1, a box is left). The charge of L2 and of the elastic net falls along
the segment (``sum (t |r~| - lam a)_+^2 / (2 lam (1 - a))``, ``a = 0`` for L2), so for them the
grid is also searched when the bracket does not close at ``mu~`` itself (unless no point of
the segment can close it, :func:`_cannot_close`). The lower bound is the
best primal value over a grid of that interval (:data:`SEGMENT_GRID`; in memory the grid is
searched, the value along the segment being concave, :func:`_segment_search`); each grid point
is a feasible point, so each value is a proved bound.
At worst (``t_max = 0``, one-hot data) it is ``H(Y)``: loose, never wrong. No number that is
not a bound is ever printed as one.

A linear step also overshoots entries that are tiny already: on nearly separated data whose
logits reach 400, a probability of 1e-144 whose logit moves by more than 1 went to -1.5e-144,
the segment was feasible only at ``Y`` (that entry of ``Y`` is 0), and a converged fit was
bracketed within 6 nats. So, in memory, the entries outside the domain by at most
:func:`_clip_limit` are first set on its boundary: the point's residual and sums are formed
after, so what that moves in the balance equations is measured with the rest of the residual
and charged as it is, and a categorical row's sum, which moves by the amounts (below its
rounding), is charged as a row's distance from the simplex is. The limit keeps both within
:data:`CLIP_SHARE` of the tolerance, and the point is kept only where the move is within the
residual's own summation bound (:func:`_stepped_pass`): the given theta stands in for
``theta*`` there, and an entry the optimum holds at 0 (separated data whose LP failed) gains
the point entropy at a slope no multiplier bounds.

A penalty is never negative, so the penalised optimum is at least the unpenalised one, and the
unpenalised problem's point bounds both from below. Where a penalised bracket does not close
and the penalty at theta is within the tolerance (a very weak penalty, whose own point is
charged more as it weakens), the unpenalised bracket's lower bound is taken where it proves
more (:func:`_unpenalised_lower`; ``Bracket.unpenalised``).

Round-off budgets (``u = 2^-53``, ``gamma(L) = L u / (1 - L u)``, the worst-case relative error
of a sum of ``L`` terms in any order, so valid on every BLAS kernel). Below, ``n`` in
``gamma`` stands for the depth of the sums over the rows (:func:`sum_depth`): ``n`` itself for
a sparse ``X`` (one block) or through an engine; in memory, where a dense ``X`` is summed in
blocks of ``b`` rows whose sums are then added in turn, ``b + ceil(n / b)``, each term meeting
at most that many roundings in any order within its block:

* ``eta_j`` carries at most ``gamma(m + 1) max_c sum_i |x_ji theta_ic|`` (the ``m``
  products and their sum; theta's own rounding included), which is charged as ``e_j =
  gamma(m + 1) (1 + gamma(2 m + 8)) |x_j|_2 max_c |theta_c|_2``, its Cauchy-Schwarz bound with
  the rounding of the two norms, or where smaller the same with ``max_c sum_i big_i
  |theta_ic|`` (``big`` the columns' largest entries, :func:`_eta_cap`) for the product of
  the norms (:func:`_pass_one`);
* the upper bound: ``sum_j w_j |Y_j - mu_j|_1 e_j`` (``dl / d eta = Y - mu``) plus
  ``(gamma(n) + 8 u)`` times the magnitudes ``sum_j w_j (|Y_j| . |eta_j| + |Y_j|_1 |A(eta_j)|)``,
  plus ``gamma(max(n + m, |R| q) + 8)`` times the penalty (its sums run over its ``|R| q``
  entries, all of one sign);
* the lower bound: ``(gamma(n) + 8 u) sum_j w_j (|A*(mu_j)| + 2 |mu_j|_1)``, the first-order
  effect ``|<theta, r>|`` of the point's measured residual ``r`` (plus its own summation bound,
  ``gamma(n + 2) (1 + 2 gamma(n + 2)) sum_j |x_ji| w_j |mu_j - Y_j|``, the last factor for that
  sum's own rounding; for the rows where these bounds would be charged more than
  :data:`ACCURATE_SHARE` of the tolerance, here and in the L2 charge below, the rows summed
  again with error-free two-sums, within a few ``u`` of ``sum_j |x_ji| w_j |mu_j - Y_j|``,
  :func:`_accurate_sums`) on the equality rows, times the multiplier: for a penalised fit a
  *proved* bound on ``|theta*|`` (the equality row is then the intercept's alone;
  :func:`_multiplier_bound` derives it from the penalty and the intercept's balance equation,
  then again from the bracket's own proved excess, :func:`_refined_radius`, in rounds, and
  with an L2 part from the given theta's own logits, :func:`_logit_form`),
  so that an inexact Newton step (the Krylov one of a large ``S``) stays sound; without a
  penalty, where ``|theta*|`` has no bound of its own, the given theta stands in for it to
  first order (the dense step leaves a residual at the rounding level there; at the given
  point itself, with no step, the second-order term is proved and charged as well,
  :func:`_zero_step`), and only where the step's curvature kept every direction the design
  has (a nearly flat one, columns collinear to 1e-8, makes ``theta*`` huge along it, and
  then nothing is proved: :func:`_lost_directions`);
  ``|theta|`` times the boxes' excess for L1, and for the categorical family the
  rows' distance from the simplex, ``sum_j w_j |P_j 1 - 1| (1 + |A*(P_j)|)`` (renormalising a
  row changes its entropy by that much to first order); for L2 and the elastic net the charge's
  largest change when the residual moves by its summation bound ``b``, ``sum (2 e + b) b / (2
  lam (1 - a))`` with ``e = (|r| - lam a)_+`` the excess over the box (``a = 0`` for L2: the
  charge's derivative ``e / (lam (1 - a))``, integrated over ``b``), and its own sum's,
  ``gamma(|R| q + 4)`` times the charge.

``roundoff`` is their sum: ``duality_gap >= -roundoff`` always, and a gap below it means a
wrong computation.

The centred gap
---------------
The gaussian and Poisson bounds each carry the data's constant ``sum w A*(Y)`` (``sum w y^2 /
2``), which dwarfs the fit once ``y`` is far from 0: at ``y ~ 1e8`` both are 1e17 nats, their sums'
rounding thousands, while the fit's own excess over the data's point (half the residual sum of
squares) was 15, and a slope 1000 nats off the optimum was within that budget. So for these
families, at ``mu~`` (``t = 1``) the gap is evaluated without the constant (:func:`_centred_gap`;
inside the segment, where ``mu~`` is in the domain, too: below):

    ``dual(theta) - H(mu~) + charge = sum_j w_j D(mu~_j, mu_j) + <theta, r> + penalty + charge``

exactly, ``D(p, m) = A*(p) - A*(m) - (A*)'(m) (p - m) >= 0`` Fenchel-Young's gap at ``m =
mu(theta)`` (half the squared difference; ``p log(p / m) - p + m``, summed by pass 2,
:func:`_divergence_sums`) and ``r = X^T W (mu~ - Y)`` the point's residual. The point is held
centred, ``mu~ - Y = (mu - Y) + J X a`` (:func:`_newton_point`; its entries as means, rounded at
the scale of ``Y``, would leave it infeasible by 1e-8 a row at ``y ~ 1e8``, which ``theta`` times
that residual makes nats), so ``r`` and ``D``'s differences are formed from numbers of the fit's
own size. The budget is ``D``'s (its evaluation and the mean's error, :func:`_mean_error`) and
``<|theta|, b>`` for the residual's summation bound ``b`` (summed accurately where that matters,
:func:`_accurate_sums`), with the penalty's, the charge's and the multiplier's terms above.
At ``p = Y + t (mu~ - Y)``, ``t < 1`` (``mu~`` past an L1 box, or a smaller L2 charge there),
the same identity holds with ``t r`` and ``D(p, mu)``, which the segment's pass sums centred
(:func:`_pass_segment`). Its ``t`` is the grid's of the least bound by ``D``'s convexity
(``sum w D(p, mu)`` at most ``(1 - t)`` times the data's, pass 1's, plus ``t`` times
``mu~``'s), chosen without a pass (the bounds' own difference, 1e14 nats at ``y ~ 1e6``, gave
a round-off of 21 nats against an excess of 8, and its rounding chose ``t = 0.992``; the
convexity bound itself stood 1.4 nats above the point's own gap at ``1 - t = 1.4e-7``).
``lower_bound`` is then ``upper_bound`` less that gap, and ``roundoff`` bounds the gap's
rounding; the bounds' own values carry ``upper_roundoff`` more (the sums of ``upper_bound``).
The same
excess, ``sum w D(Y, mu) + penalty`` (pass 1), is what the verdict judges these families'
distance from the optimum against, and what the bracket's own decisions (the zero step, the
penalised step, the segment) measure a gap by (:func:`_objective_size`).

Budgets from the columns' largest entries. The sums above that weigh a table ``T >= 0`` by
``|X|`` (``sum_j |x_ji| T_jc``: the residual's summation bound, the gradient's budget) are each
a pass over ``X`` and a copy of its block in absolute value, and the rows' norms another. For a
fit of a dense Bernoulli or categorical data set in memory whose columns' largest absolute
entries ``big_i`` are known (:meth:`dualmaxent.Dataset.from_arrays` keeps them from its scale
check) the sums are bounded instead by ``big_i sum_j T_jc``, one sum over the rows, and, for a
penalised fit, every row's norm by ``|big|_2`` (:class:`_ColumnBounds`; :func:`_column_bounds`
says why not for the other families, nor the rows' norms without a penalty). Each is a bound
of what it replaces, so every budget stays one, only looser: a few times on columns of one
size (the round-off grew 1.1 to 3.4 times over the sweep's penalised cells, far inside the
tolerance). Where that matters, the gap closing but its budget not, or without a penalty the
attainment proof failing, the bracket is taken again with ``X`` itself (:func:`_budget_fails`,
:func:`bracket`). Measured, the certificate alone (one BLAS thread, best of nine,
interleaved in one process; before -> after): two classes, n = 1e5, 50 features, L2 25.7 ->
14.6 ms, ten features 10.2 -> 6.4; three classes, 50 features 41.5 -> 25.2; ten classes, 50
features, n = 1e4 12.3 -> 9.4; n = 1e3, two classes 0.98 -> 0.94.

The gradient
------------
``dual_gradient = max |G| / scale``, ``G = X^T W (Y - mu(theta))`` minus the penalty's gradient
(for L1 and the elastic net the minimal-norm subgradient: with ``g = G - lam (1 - a) theta``,
``g - lam a sign(theta)`` where ``theta != 0``, ``max(|g| - lam a, 0)`` where it is 0; ``a = 1``
for L1) on the free entries of theta (the categorical family's
last class is pinned on the unpenalised rows), ``scale = 1 + max |X^T W Y|``: the relative KKT
residual. Its budget ``gradient_roundoff`` is ``max (|X|^T W (2 c_j e_j
+ gamma(n + 2) |Y_j - mu_j|)) / scale`` with ``c_j`` the largest curvature of row ``j`` (the
mean's sensitivity to ``eta``). On an ill-conditioned design a theta within a hair of the
optimum in objective can have a large gradient along flat directions; the verdict does not rest
on it.

A proof of attainment
---------------------
Unpenalised, a family whose mean is bounded below can have separated data, where the likelihood
has no maximiser. ``mu~`` proves a maximiser exists when every entry of ``mu(theta)`` is positive,
``mu~ >= MARGIN_FRACTION mu`` entry by entry (and the same for ``1 - mu`` of the Bernoulli
family), and the step that would remove ``mu~``'s residual, at most ``second_step = 2 max_j
||x_j|| ||r_S|| / lambda_min(C_SS)`` in relative terms (``|r_S|`` as computed plus its
rounding bound, entry by entry), is below ``MARGIN_FRACTION``: then a
strictly interior, exactly feasible point exists (:mod:`dualmaxent.separation`). The
argument is linear: with ``J`` the derivative of the mean map at theta's computed means ``mu``
and ``C_SS a = r_S``, the point ``mu~ - J X a`` meets the balance equations exactly (``X^T W J
X = C_SS``), and ``J X a`` moves each entry by at most ``2 max_c |x_j^T a_c|`` times ``mu``'s
own, at most ``second_step``, so every entry stays above ``(MARGIN_FRACTION - second_step)
mu > 0``. Any bound of the logits' move ``|x_j^T a_c|`` serves; where the plain one fails,
that of the coordinates equilibrating ``C_SS`` is tried (:func:`_second_step`: features of
very different sizes). The curvature is this module's own, at the given theta. When that proof
fails the separation LP decides (:func:`dualmaxent.separation.detect_separation`, its
direction checked on its own); where
theta's own slacks prove complete separation (a solve that ran off,
:func:`dualmaxent.separation.proved_complete`), neither that bracket nor an LP is made. On
separated data the certificate is about the *reduced* problems, the forced entries removed:
``mu`` is zero (categorical) or ``y`` (one-parameter) there, and ``l`` the reduced likelihood.

The verdict
-----------
``ok`` holds when what is proved closes: ``relative_gap = |gap| / max(1, |upper_bound|) <= tol``,
the round-off budget too (``roundoff <= tol max(1, |upper_bound|)``: a gap closed to within an
unproved budget proves nothing to ``tol``), for the gaussian and Poisson families the proved
distance from the optimum against the objective's excess over the data's own point too
(``within <= tol max(1, upper_bound - H(Y))``, half the RSS or deviance plus the penalty, evaluated
centred and less its own budget: their ``H`` has no fixed origin, and ``|upper_bound|`` is mostly
the data's constant ``sum w y^2 / 2`` once y is large; The centred gap),
``gap >= -roundoff``, the point's balance residual (relative to ``scale``) is within ``tol``,
and, for separated data, the LP's direction checks. Then ``upper_bound - OPT <= within =
max(gap, 0) + roundoff``: theta is within ``within`` nats of the optimum.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, replace

import numpy as np

from . import _kernels
from . import _numerics as nx
from . import design
from .data import Dataset, _power_of_two_scaling, held_column_max, require_dataset
from .exceptions import DualMaxentError
from .families import Bernoulli, Categorical, Family
from .params import Parameterization, checked_tol
from .results import Certificate, Penalty, SeparationCheck, make_penalty

__all__ = ["certify", "Bracket", "bracket", "DEFAULT_TOL", "MARGIN_FRACTION", "RANK_RTOL",
           "SEGMENT_GRID", "gamma", "pseudo_solve"]

DEFAULT_TOL = 1e-6

#: Unit roundoff of float64.
U = 2.0 ** -53

#: ``mu~ >= MARGIN_FRACTION mu`` entrywise with a second step below this fraction proves that
#: the maximiser exists (module docstring).
MARGIN_FRACTION = 0.5

#: Relative eigenvalue of the equilibrated ``C_SS`` below which a direction counts as singular:
#: just above the eigensolver's round-off, so an ill-conditioned design keeps its directions
#: (the point's residual is measured afterwards either way).
RANK_RTOL = 1e-15

#: The fractions of ``t_max`` at which the segment from ``Y`` to ``mu~`` is evaluated when
#: ``mu~`` leaves the domain (module docstring). Any grid is sound; this one reaches within
#: ``2^-40`` of the boundary and covers the interval's start for flat entropies.
SEGMENT_GRID = tuple(sorted({1.0 - 2.0 ** -j for j in range(1, 41, 3)}
                            | {2.0 ** -j for j in range(1, 12, 2)}))

#: The share of the tolerance that a Newton point's entries outside the domain may cost when
#: they are set on its boundary instead of leaving the point to the segment
#: (:func:`_clip_limit`, :func:`_pass_two`).
CLIP_SHARE = 1e-3

#: Points of the segment's grid evaluated per pass when it is searched in memory
#: (:func:`_segment_search`).
SEGMENT_PROBES = 3

#: Rows per entry of ``S`` in the row sample whose curvature preconditions the Newton step's
#: conjugate gradients (:func:`_sampled_step`; docstring of :func:`_newton_step`). Measured
#: at n = 1e4, m = 51, ten classes, unpenalised (best of 12, interleaved, one thread, with
#: the stacked curvature): 1, 2 and 4 rows took 5, 4 and 3 products and 26-27, 28-30 and 33-35
#: ms a certificate at the solver's default tolerance, but 23, 16 and 12 products and 55-125,
#: 45-55 and 45-47 ms from the theta of a loose fit (tol 1e-4), where 1 row also ran out of
#: products and formed the full curvature after all: 2.
CURVATURE_ROWS_PER_PARAM = 2

#: Above this many entries in ``S`` the Newton step's curvature is not formed: conjugate
#: gradients solve for the step (:func:`_cg_step`). ``C_SS`` costs ``|S|^2 n`` products and
#: its eigendecomposition ``|S|^3``: about a second at 2000 entries on two cores.
DENSE_CORRECTION_MAX = 1000

#: Conjugate gradients stop when ``|C_SS a - t_S|`` is below this fraction of the tolerance
#: times ``scale``, a hundredth of what the verdict allows the point's residual, or after
#: :data:`CG_MAX_ITER` iterations.
CG_RESIDUAL = 1e-2
CG_MAX_ITER = 500

#: One product with the curvature as an operator (two with ``X``, :func:`_operator`) costs
#: about as much as ``C_SS`` over ``PRODUCT_COST (m + PRODUCT_COLUMNS) q`` of its ``|S|^2``
#: entries (``n`` rows each): the full curvature costs ``|S|^2 / (PRODUCT_COST (m +
#: PRODUCT_COLUMNS) q)`` products. ``PRODUCT_COLUMNS`` is the product's work on its (n, q)
#: tables (the curvature's scaling, the weights, the gathers), in columns of ``X``: with
#: narrow designs it is most of a product. Measured at n = 1e4 (best of 7 to 25, one thread,
#: interleaved, on a shared machine), the full curvature over one product: 50-56, 23-44, 6.5-7
#: and 4.3-5.7 for (m, k) = (51, 10), (21, 10), (11, 10), (51, 3), against 49, 16, 6.7 and
#: 8.1 from these constants. (``PRODUCT_COST`` 7 alone, ``|S|^2 / (7 m q)``, matched the
#: curvature formed pair of classes by pair, 19 products at (11, 10); the stacked product
#: of many classes, :func:`_stacked_curvature`, costs 7 there, and the sample's Krylov
#: step, 3 to 6 products when it succeeds, failed from a theta of a loose fit (tol 1e-4):
#: 18.4 ms a certificate against 13.4 for the full curvature.)
PRODUCT_COST = 7
PRODUCT_COLUMNS = 10

#: ... a model of narrow designs: from a few hundred columns the curvature's ``dsyrk`` runs
#: near the core's peak while a product's two passes over ``X`` stay bound by memory, and
#: the full curvature costs fewer products than the model above says (42 for m = 601, two
#: classes, against 15 measured). A second model, from the products' and the curvature's
#: multiply-adds (``2 n m q`` and ``n |S|^2 / 2``) and their rates, caps it (the lesser of
#: the two is taken): ``|S| (|S| + SYRK_HALF_WIDTH) / (PRODUCT_FLOP_RATIO m q^0.3)``, with
#: the curvature's rate rising as ``|S| / (|S| + SYRK_HALF_WIDTH)`` (1.7 GFMA/s at |S| = 11,
#: 7.7 at 51, 15-17 from 300, one thread) and a product's as ``q^0.7`` (1.8 GFMA/s with one
#: column of ``theta``, 4.2-4.6 with three, 9 with ten). Measured (CPU time, one thread, the
#: machine shared with other jobs), the full curvature over one product against this model:
#: (n, m, k) = (3000, 601, 2) 14.6 / 16.5, (3000, 301, 2) 9.0 / 9.0, (3000, 301, 3) 28 / 24,
#: (3000, 101, 2) 6.5 / 4.0, (10^4, 51, 3) 7.1 / 5.9, (10^4, 51, 10) 64 / 58; at m <= 51
#: the first model is the lesser or close. A Krylov step from a row sample had been chosen
#: at (3000, 601, 2) on the first model's 84 products, failed its 27, and the full
#: curvature was formed after them: 0.54 s a certificate.
SYRK_HALF_WIDTH = 60
PRODUCT_FLOP_RATIO = 40

#: A dense ``X`` of more than ``PRODUCT_CACHE_BYTES`` is read from memory by each of the
#: product's two passes over it, while the curvature's products stay compute-bound: there a
#: product costs ``PRODUCT_SLOW`` times more of the curvature. Measured at n = 1e5 (one
#: thread): m = 51, three classes (41 MB), 18 ms a product against 48 for the full
#: curvature, 2.7 products (8.1 from the constants above; the Krylov step that two
#: products closed took 100 ms a certificate, the full curvature 87); m = 11, ten classes
#: (8.8 MB), 7.4 products, 6.7 from the constants. (Products of three classes at m = 51
#: cost less since (:data:`XT_TRANSPOSED_COLUMNS`, :data:`WIDE_COLUMNS`), the float32
#: curvature too (:data:`SYMMETRIC_CROSS_COLUMNS`): at n = 1e5, three classes, m = 51, a
#: ``PRODUCT_SLOW`` of 0.5 takes the Krylov step at tol 1e-8 and costs 58.6 against 55.2 ms
#: a certificate; 1.0 weighs it and forms the float32 curvature, 54.7: kept.)
PRODUCT_CACHE_BYTES = 16 << 20
PRODUCT_SLOW = 2.5

#: The row sample and conjugate gradients replace the full curvature from this many
#: products' worth of it, and may spend :data:`KRYLOV_SHARE` of what the full curvature
#: would cost (less the sample's) before it is formed after all; in memory (dense) only
#: when the products they are expected to take fit in that budget (:func:`_krylov_products`;
#: before that rule, 12 and 0.5).
KRYLOV_MIN_PRODUCTS = 4
KRYLOV_SHARE = 0.8
KRYLOV_SAMPLE_ROWS = (1, 2, 4, 8, 16)

#: From this many terms ``n |S|^2`` of ``C_SS`` (several columns of a dense ``X`` in memory,
#: no penalty: ``S`` on the equality rows; where the full curvature is formed, not the row
#: sample of the Krylov step, also after pass 1 where that sample was weighed and rejected,
#: :func:`_newton_step`) the curvature that proposes the Newton step is formed in
#: float32 (:func:`_curvature`): 30 against 54 ms at n = 1e5, m = 51, three classes, 3.1
#: against 4.8 at n = 1e4 (8.5 against 14.6 and 1.0 against 1.4 with two; one thread, best
#: of 15). Below it the saving (under 2 ms) does not pay for the proof's own sample and
#: factor (:func:`_proved_smallest`: 0.4 ms at n = 1e4, two classes, 0.8 with three).
#: Nothing proved rests on it: the step's point is measured in float64 by pass 2, and when
#: its residual is larger than the float64 step's would be (:func:`_proposal_closes`) the
#: float64 curvature is formed from the means pass 1 kept and pass 2 taken again; the
#: attainment proof's eigenvalue bound comes from float64 sums (:func:`_proved_smallest`).
#: Eigenvalues below :data:`SINGLE_RANK_RTOL` of the largest are dropped (float32's rounding
#: of the sums of a chunk, 1285 rows at m = 51, is about ``sqrt(1285) 2^-24`` relative).
#: (5e7 before the float32 chunks held twice the rows, :data:`CURVATURE_CHUNK_BYTES`. Measured
#: unpenalised at the solver's default tolerance, one thread, best of 5 x 7 interleaved, with
#: 5e7, 2e7, 1e7 and 5e6, in ms a certificate: n = 1e5, m = 11, three classes (4.8e7 terms)
#: 19.1, 17.9, 17.9, 17.7; n = 1e4, m = 51, two classes (2.6e7) 4.12, 4.05, 4.08, 4.04, and
#: 4.13 against 3.97 for 1e7 in another run; n = 3e4, m = 31, two classes (2.9e7) 7.2
#: against 6.8 for 1e7; n = 1e4, m = 31, three classes (3.8e7) 5.0 against 4.8 for 1e7; but
#: n = 1e5, m = 11, two classes (1.2e7) 11.8, 11.8, 12.0, 12.0 and n = 1e4, m = 31, two
#: classes (9.6e6) 2.76 at 2e7 against 2.90 at 5e6.)
SINGLE_MIN_TERMS = 2e7
SINGLE_RANK_RTOL = 1e-5

#: The row sample's conjugate gradients (:func:`_sampled_step`) take their products with the
#: curvature as an operator in float32 (``X``, the curvature and the weights rounded once, the
#: products' sums in float32) when ``X`` is dense, read from memory (more than
#: :data:`PRODUCT_CACHE_BYTES`), there is no penalty and the decades the iterations must gain
#: (:func:`_krylov_decades`) are at most ``SINGLE_KRYLOV_DECADES``. A float32 product of a
#: direction ``d`` is within about ``3e-7`` of ``|C d|`` relative (n = 1e5, m = 51, ten
#: classes), so the iterations' recurrence residual follows the true one to about ``1e-6``
#: of ``|t_S|`` over their few dozen products: two decades below the stopping level that
#: four decades leave. Measured at n = 1e5, m = 51, ten classes (one thread, best of 15): 9.9
#: against 22.1 ms a product (the rounding of ``X``, 1.8 ms, once): 150 -> 137 ms a
#: certificate at the solver's default tolerance (two products), 211 -> 163 at 1e-8 (four;
#: best of 15, interleaved). Below that size the copies did not pay: from 4 MB instead of
#: 16, 1e5 rows of m = 11, ten classes took 55 against 50 ms a certificate (n = 1e4, m = 51:
#: 21.0 against 21.9, within the noise). Only the step rests on it: its point is measured in
#: float64 by pass 2 and, when it falls short of what the float64 iterations would give
#: (:func:`_proposal_closes`), replaced by theirs.
SINGLE_KRYLOV_DECADES = 4.0

#: Rows per entry of ``S`` in the float64 row sample whose curvature's eigenvalue bound is
#: tried first for the attainment proof (:func:`_proved_smallest`); the full curvature when
#: the sample's does not suffice.
SINGLE_PROOF_ROWS = 8

#: The ``units`` of :func:`_krylov_products` for the Kronecker-preconditioned step
#: (:func:`_kronecker_solve`; 2: 4.5 products a decade). Measured, ten classes, m = 51,
#: unpenalised, one thread: n = 1e3, 16 products for 2.7 decades (the solver's default
#: tolerance; 39, the cap, without finishing for 8.6 at tol 1e-4, where the rule now forms
#: the full curvature at once), n = 3e3 11 for 2.5 and 27 for 8.2, n = 1e4 5 for 1.7 and 22
#: for 7.5. Certificates (best of 15, interleaved with the sample or the full curvature they
#: replace): n = 1e3 17.5 -> 4.0 ms, n = 3e3 19.1 -> 8.0 (13.7 against 37.4 at tol 1e-4),
#: n = 1e4 34 -> 25 (a shared machine: noisy); three classes, m = 51, n = 1e4 kept the
#: sample (3 products, 8.0 ms, against 5 products and 9.6 ms preconditioned by the Kronecker
#: product).
KRONECKER_UNITS = 2.0

#: Equilibrated curvatures from this size on are factored by Cholesky, their smallest
#: eigenvalue bounded by a shifted factorisation (:func:`factor`), not eigendecomposed: at
#: 459 entries 2.2 ms a factorisation against 22 for ``eigh``. Measured on ``X^T X`` of 1000
#: Gaussian rows (one thread, best of 50; solve and bound): 0.13 against 0.10 ms at 22
#: entries, 0.17 against 0.26 at 51, 0.25 against 0.78 at 99, 0.34 against 1.19 at 127.
#: Certificates at n = 1e3, unpenalised (best of 160, interleaved), from 128 to 40: three
#: classes, m = 51 (102 entries) 2.54 -> 1.65 ms; ten classes, m = 11 (99) 3.27 -> 2.76; two
#: classes, m = 51 (51) 1.10 -> 0.98.
CHOLESKY_MIN = 40

#: Below this size a Cholesky factor whose inverse iteration finds the equilibrated matrix
#: within ``rtol`` of singular (:func:`factor`) is set aside for the eigendecomposition's
#: pseudo-inverse (at most about 1.2 ms there): a factorisation that completes on a
#: numerically singular matrix would give the step a huge component along its null space.
CHOLESKY_CHECKED_MAX = 128

#: Inverse (and power) iterations of the Cholesky path's eigenvalue estimates (:func:`factor`).
INVERSE_ITERATIONS = 6

#: Bytes of one row block: its rows of ``X`` and two (b, q) tables (of the block's many). Small
#: enough to stay near the cache while the block's products are formed, large enough that the
#: block's forty-odd numpy calls cost little; measured at n = 1e5, m = 10 (best of 7 x 3,
#: interleaved): 1 MB blocks cost 5-10 % more with two classes than 2 MB, 2 MB of ``X`` alone
#: (23831 rows with three classes as with two) 15-20 % more with three classes than counting
#: the tables (14286 rows): 13.5 against 11.4 ms with L2. At m = 51 (n = 1e5, best of 4 x
#: 3), blocks of 1, 2, 4 and 8 MB: two classes unpenalised 38.6, 32.4, 33.3, 40.9 ms, three
#: 63.4, 56.4, 54.0, 57.5; L2 two classes 23.8, 19.7, 21.0, 24.1, three 30.3, 25.8, 26.9,
#: 28.4 (m = 11: 2 MB best too).
BLOCK_BYTES = 1 << 21

#: Bytes of the row chunks in which :func:`_curvature` scales ``X``'s columns: its one
#: temporary of ``X``'s width then stays small. Formed whole per block, that (b, m) table
#: made glibc map and unmap fresh pages on every call at n = 1e4 (515 page faults a
#: certificate, 2.1 ms against 1.2 without a penalty, two classes). Larger chunks in buffers
#: made once per call (no fresh pages) were no faster: at n = 1e5, m = 51, three classes
#: (compute-bound, 48 ms), 2048 to 8192 rows 47-50 ms; at n = 1e4 8192 rows 7.1 against 5.0.
#: The bytes are those of the chunk's own precision: a float32 chunk holds twice the rows.
CURVATURE_CHUNK_BYTES = 1 << 18

#: From this many columns a dense block is *wide* for two of the checker's choices, measured
#: over n = 1e5 rows in the runner's blocks (OpenBLAS's SkylakeX kernels, one thread, best
#: of 9): pass 1 sums the squares of its rows by ``einsum``, below by a product of their
#: table with ones (:func:`_pass_one`; m = 11 0.62 against 0.49 ms, 21 0.85 against 0.86,
#: 31 1.46 against 1.55, 51 1.61 against 2.31, 101 3.41 against 4.62); and ``X theta`` of
#: several classes is taken as a product of the row-major ``X`` and then copied to class-major,
#: below as ``(theta^T X^T)^T`` (:func:`_product`; two classes: m = 11 0.44 against 0.36 ms,
#: 16 0.40 against 0.51, 26 0.61 against 0.90, 51 1.8 against 3.1; three: m = 11 0.48
#: against 0.38, 16 to 31 within 0.15, 41 2.2 against 3.0, 51 3.2 against 4.9).
WIDE_COLUMNS = 24

#: From this many columns of ``X`` in two classes of ``S`` (the same columns: no penalty) the
#: dense categorical ``C_SS``'s block between them, ``-X^T diag(w p_a p_b) X``, is formed by
#: a symmetric product of ``X`` scaled by ``sqrt(w p_a p_b)`` (:func:`_curvature`), below by
#: the general product of ``X`` scaled by ``w p_a p_b`` and ``X``: half the multiply-adds,
#: for a square root of the weights. Measured over n = 1e5 rows in the runner's blocks, three
#: classes (one thread, best of 9; float64 / float32 ms a curvature, symmetric against
#: general): m = 11 8.5 / 7.4 against 8.1 / 6.3, 21 16.2 / 10.2 against 14.9 / 10.8, 26 19.9
#: / 12.8 against 18.8 / 12.8, 31 27.4 / 19.4 against 27.7 / 19.6, 51 46 / 28 against 50 /
#: 33; four classes, m = 51, 90 / 53 against 101 / 64.
SYMMETRIC_CROSS_COLUMNS = 32

#: From this many columns a dense ``X^T T`` is taken as ``(T^T X)^T`` (:func:`_xt`): OpenBLAS's
#: SkylakeX kernels took ``X^T T`` of five to ten columns by a path two to four times slower
#: than of four, ``T^T X`` at the rate of the narrower products. Measured over n = 1e5 rows
#: in the runner's blocks (one thread, best of 9), six columns: m = 11 0.47 against 0.53 ms,
#: 16 1.0 against 2.65, 31 2.7 against 4.75, 51 4.0-4.5 against 8.6-10.4 (pass 1's ``[W (Y -
#: mu), W Y]`` and pass 2's ``|X|^T [W |mu~ - Y|, budget weights]`` with three classes);
#: four columns, where ``X^T T`` stays: m = 16 0.25 against 0.46, 51 2.0 against 2.3.
#: (Haswell's kernels: six columns at m = 51 6.7 against 6.8, no slow path.) Tried: ``X^T T``
#: by chunks of at most four columns, 3.3 against 4.6 ms at m = 51, six columns, on the
#: SkylakeX kernels but 9.2 against 6.7 on Haswell's (by chunks of three, 4.8 and 13.2):
#: ``(T^T X)^T`` is the product that costs no more than before on either.
XT_TRANSPOSED_COLUMNS = 5

#: From this many classes in ``S``, all on the same columns, the categorical ``C_SS`` is
#: formed by one symmetric product of all its columns (:func:`_stacked_curvature`), in row
#: chunks of about ``SYRK_BYTES`` (measured on the 1836-row sample of m = 51, ten classes:
#: 256-row chunks 12.1 ms, 512 15.1, 1024 20.8; at m = 11, 1024-row chunks best, 6.3 ms).
SYRK_MIN_CLASSES = 6
SYRK_BYTES = 1 << 20


#: Columns per sparse product with a class-major table (:func:`_xt`): scipy copies such a
#: table to C order first, so it is multiplied this many columns at a time. Measured on the
#: k = 20 text problem of ``bench --sparse`` (n = 2e4, m = 3e4, 1e6 entries; best of 7): 40
#: columns at once 19.0 ms (its copy 2.6 MB), 10 at a time 19.2-19.8, 5 at a time 25.
XT_CHUNK_COLUMNS = 10
# (The CSR X of a data set, float64, is multiplied by :func:`dualmaxent.design.csr_xt`
# instead, which copies no table; the chunks stay the unit in which pass 1 reduces the (m, q)
# products it does not keep, and the width above which pass 2's two products with |X| are two
# arrays.)


def gamma(length: float, u: float = U) -> float:
    """``gamma(L) = L u / (1 - L u)``: the worst-case relative error of a sum of ``L`` terms
    (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., eq. 3.8)."""
    lu = float(length) * u
    return lu / (1.0 - lu) if lu < 1.0 else float("inf")


def certify(data, theta, *, l2: float | None = None, l1: float | None = None,
            penalty: Penalty | None = None, tol: float = DEFAULT_TOL, engine=None,
            source: str = "given", separation=None,
            l1_ratio: float | None = None) -> Certificate:
    """Certify ``theta`` for the problem of ``data``: a sound bracket of the optimum.

    Parameters
    ----------
    data : Dataset
    theta : array_like of shape (m, k) (categorical) or (m,)
        Any theta, in any gauge, from any solver or library.
    l2, l1, penalty, l1_ratio
        The penalty (``l2=lam``: ``- (lam / 2) ||theta_R||^2``; ``l1=lam``: ``- lam
        ||theta_R||_1``; ``l1=lam, l1_ratio=a``: the elastic net ``- lam (a ||theta_R||_1 +
        (1 - a)/2 ||theta_R||^2)``; the intercept row is never penalised).
    tol : float, default 1e-6
        The relative gap (and balance residual) the verdict allows. Where the point
        ``mu(theta)`` itself closes the bracket to half of it (:data:`ZERO_STEP_SHARE`), no
        Newton step is taken (:func:`_zero_step`): ``within`` is then about ``2 |<theta,
        gradient>|``, first order in theta's gradient, where the step's point would have made
        it second order. A smaller ``tol`` asks for the sharper bracket.
    engine : Engine, optional
        Run the passes through an engine (:class:`dualmaxent.engine.Engine`: ``NumpyEngine``,
        ``DaskEngine`` or any object with its ``map_reduce``): the same block functions mapped
        over its chunks. The separation LP needs the data in memory and does not run.
    source : str, default "given"
        Where theta came from, for the printout ("solver newton, converged, 6 iterations").
    separation : Separation, optional
        The LP's outcome on this very data set, when at hand (it depends on the data alone, and
        its direction is checked here again); otherwise the LP runs when attainment is not
        proved.

    Returns
    -------
    Certificate
        ``primal`` and ``dual`` are None; every figure is at ``theta``.

    Raises
    ------
    DualMaxentError
        A theta of the wrong shape, or not finite, or a bad ``tol``.
    """
    # (the passes' blocks and C_SS's eigenvalues: small products, one BLAS thread; a huge but
    # finite theta overflows the logits, which every figure reads as not finite and the
    # verdict says: numpy's own warnings of it would say it again, out of context)
    with nx.one_blas_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _certify(data, theta, l2, l1, penalty, tol, engine, source, separation,
                        l1_ratio)


def _certify(data, theta, l2, l1, penalty, tol, engine, source, separation, l1_ratio):
    t0 = time.perf_counter()
    data = require_dataset(data, "certify", chunked=engine is not None)
    tol = checked_tol(tol)
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty, l1_ratio=l1_ratio)
    theta = _checked_theta(data, theta)
    params = Parameterization.from_dataset(data, penalty)
    if data.family.multiclass and not penalty.active:
        theta = _exact_pivot_gauge(theta, params)
    sep, sep_check, messages, notes = None, None, [], []
    can_separate = not penalty.active and data.family.can_separate
    # separated data known before the bracket at theta: a separation given (its direction is
    # checked below), or complete separation that theta's own slacks prove (a solve that ran
    # off, :func:`dualmaxent.separation.proved_complete`, under a millisecond). That bracket
    # could not prove attainment there, and the reduced problems' replaces it: not made (at
    # 100 rows, ten classes, 50 features, 22 and 56 ms of the two certificates of a fit)
    known = None
    if can_separate and engine is None:
        from .separation import proved_complete

        known = (separation if separation is not None and separation.separated
                 else proved_complete(data, theta) if separation is None else None)
    br = None if known is not None else bracket(data, theta, penalty, engine=engine,
                                                tol_hint=tol)
    ball = False
    if can_separate and (br is None or not br.proves_attained):
        if engine is not None:
            notes.append("the maximiser's existence is not proved at this theta, and the "
                         "separation LP needs the data in memory")
        elif known is None and separation is None and _ball_proves(data, theta):
            # the curvature ball at theta proves what the bracket's step did not (a correction
            # set too large for its curvature, DENSE_CORRECTION_MAX): no separation LP (64 s
            # on 1204 free entries where the ball takes milliseconds)
            ball = True
        else:
            from .exceptions import SeparationLPError
            from .separation import detect_separation

            try:
                sep = (known if known is not None else separation if separation is not None
                       else detect_separation(data))
            except SeparationLPError as error:  # (undecided: the bracket stands as proved)
                sep = None
                notes.append(str(error))
            if sep is not None and sep.separated:
                br = bracket(data, theta, penalty, forced=sep.forced, tol_hint=tol)
                violation, margin = sep.check_direction(data)
                sep_check = SeparationCheck(
                    sup_loglik=br.reduced_loglik, forced_entries=int(np.sum(sep.forced)),
                    reduced_parameters=-1, direction_violation=violation,
                    direction_margin=margin)
                notes.append(sep.describe(data) + "; the certificate is about the reduced "
                             "problems: the max-entropy optimum and the likelihood's supremum")
                if violation > tol or not margin > max(violation, 1e-12):
                    messages.append(f"the separation LP's direction does not check: negative "
                                    f"slack {violation:.1e}, smallest slack on a forced entry "
                                    f"{margin:.1e} (relative)")
    # (a penalised fit needs no rank: a sparse design's is not computed for the note, unless a
    # solve already did, :func:`_rank`)
    if _rank(data, engine, penalty) >= 0 and not data.identifiability.full_rank:
        ident = data.identifiability
        notes.append(f"the columns of X are linearly dependent (rank {ident.rank} of {ident.m}):"
                     f" {'; '.join(ident.dependencies)}; theta is identified modulo these"
                     + ident.near_note)
    attained = (not can_separate or br.proves_attained or ball
                or (sep is not None and not sep.separated))
    if penalty.active:
        # a penalty keeps theta finite but for the intercept, which runs off where a class (a
        # response) has no observation of positive weight: then no maximiser, and the
        # intercept's multiplier has no finite bound (the bracket's round-off is infinite)
        from .separation import intercept_runoff

        runoff = intercept_runoff(data)
        if runoff is not None:
            attained = False
            messages.append(f"the penalised optimum is not attained: {runoff} (the penalty "
                            "does not reach the intercept); drop what never occurs, or give "
                            "its observations weight")
    messages += _bracket_messages(br, tol)
    notes += _gradient_notes(br, tol, data.family)
    within = br.within
    return Certificate(
        entropy=br.entropy, neg_loglik=-_reported_loglik(data, br), duality_gap=br.duality_gap,
        relative_gap=br.relative_gap, lower_bound=br.lower_bound, upper_bound=br.upper_bound,
        roundoff=br.roundoff, balance_residual=br.balance_residual,
        simplex_residual=br.simplex_residual, min_entry=br.min_entry,
        dual_gradient=br.dual_gradient, primal_gap=np.nan, p_agreement=np.nan,
        theta_agreement=np.nan, tol=tol, ok=not messages, attained=bool(attained),
        separation=sep, messages=tuple(notes) + tuple(messages), primal=None, dual=None,
        projected=br, primal_solver="projected", primal_reason="the checker's own point",
        rank=_rank(data, engine, penalty), notes=tuple(notes), separation_check=sep_check,
        # (theta is the checker's own copy, moved to the pivot gauge in place, or a read-only
        # view of the caller's, copied now, after the bracket: :func:`_checked_theta`)
        theta=(params.gauge_fix(theta, copy=not theta.flags.writeable)
               if data.family.multiclass else theta if theta.flags.writeable
               else np.array(theta)),
        source=source,
        within=within, gradient_roundoff=br.gradient_roundoff,
        seconds=time.perf_counter() - t0, penalty=penalty,
        extra={"primal_objective": br.lower_bound, "dual_objective": -br.upper_bound,
               "canonical_loglik": br.loglik, "p_tol": np.nan, "theta_tol": np.nan,
               "loglik_constant": _reported_loglik(data, br) - br.loglik},
    )


def _ball_at(data, theta, subgradient: float = 0.0, equilibrate: bool = False):
    """``(ball, T)``: the curvature ball (:func:`curvature_ball`) at theta, and theta as it
    reads it, ``T`` (m, k) with the last class's column subtracted from every column (the
    pivot gauge on every row, the classes' differences) or (m, 1); ``(None, T)`` for a theta
    that is not finite. Its gradient ``X^T W (Y - mu)`` is formed in one pass as the solvers'
    passes form it (the probabilities by the stable softmax, the sums in float64).
    ``equilibrate``: where the ball proves nothing, the equilibrated ball from the same
    gradient (its fields in the scaled coordinates, :attr:`CurvatureBall.column_scale`)."""
    fam = data.family
    T = np.asarray(theta, dtype=np.float64).reshape(data.m, -1)
    if fam.multiclass:
        T = T - T[:, -1:]
    if not np.all(np.isfinite(T)):
        return None, T
    eta = data.X @ T
    R = (data.Y - nx.softmax_logsumexp(eta)[0] if fam.multiclass
         else data.Y.reshape(-1, 1) - fam.mean(eta))
    R *= data.weights[:, None]
    G = np.asarray(data.X.T @ R)
    point = T if fam.multiclass else T[:, 0]
    ball = curvature_ball(data, point, G, subgradient=subgradient)
    if equilibrate and not (ball is not None and ball.proves_attained):
        scaled = curvature_ball(data, point, G, subgradient=subgradient, equilibrate=True)
        ball = scaled if scaled is not None else ball
    return ball, T


def _ball_proves(data, theta) -> bool:
    """Whether the curvature ball at theta (:func:`_ball_at`), plain or equilibrated, proves
    that the unpenalised likelihood has a maximiser."""
    ball = _ball_at(data, theta, equilibrate=True)[0]
    return ball is not None and ball.proves_attained


def _checked_theta(data, theta) -> np.ndarray:
    """theta as the checker reads it, or a one-line error
    (:meth:`dualmaxent.Dataset.check_theta`; a Dask data set has the same attributes).

    A plain float64 array of the data set's layout (``(m, 1)`` for ``(m,)`` too), contiguous
    in C or Fortran order, all of whose entries are finite, is read through a read-only view:
    no copy (0.39 times the sparse X's bytes of the text problem of ``bench --sparse`` at k =
    20, alive through every pass), the same numbers in the same layout as the copy (numpy's
    ``np.array(theta, copy=True)`` keeps a contiguous array's order), and nothing the caller
    gave is written (the view is read-only; the certificate's own theta is a copy made after
    the bracket, :func:`_certify`). The figures are those of theta as it is during the call.
    Any other theta (another dtype, a strided view, a subclass, a list) is copied by
    :meth:`~dualmaxent.Dataset.check_theta`, which also names what is wrong with it.
    """
    if type(theta) is np.ndarray and theta.dtype == np.float64 and theta.dtype.isnative \
            and (theta.flags.c_contiguous or theta.flags.f_contiguous) and theta.flags.aligned:
        multi = bool(data.family.multiclass)
        view = theta[:, 0] if not multi and theta.shape == (int(data.m), 1) else theta
        # (a finite sum has finite terms: a NaN or an infinity makes it NaN or infinite; a
        # sum that overflows sends theta to the copy, which checks every entry)
        if view.shape == ((int(data.m), int(data.k)) if multi else (int(data.m),)) \
                and np.isfinite(view.sum()):
            view = view.view()
            view.flags.writeable = False
            return view
    return Dataset.check_theta(data, theta)


def _exact_pivot_gauge(theta: np.ndarray, params: Parameterization) -> np.ndarray:
    """An unpenalised theta (m, k) in the pivot gauge (:meth:`~dualmaxent.params.
    Parameterization.gauge_fix`: its last column subtracted from every column) where every
    difference is exact (the error of each, by Knuth's TwoSum, is 0), else theta as given.

    The same point (each row's logits move by one number, the probabilities not at all) and,
    unpenalised, the same objective, read in the checker's own gauge: a theta offset by a
    large constant (another library's, or ``theta* + 1e17``) has logits of order the
    constant, whose rounding swamps their differences, and the bounds computed from them were
    no bounds (an upper bound of 0 against an optimum of 199, within a budget that said so).
    Differences of nearby numbers are exact (Sterbenz), so such a theta is as a rule moved."""
    last = theta[:, -1:]
    if not np.any(last):
        return theta
    d = params.gauge_fix(theta)
    back = d - theta
    if np.all((theta - (d - back)) + (-last - back) == 0.0):
        return d
    return theta


def _rank(data, engine, penalty: Penalty) -> int:
    """The design's rank; -1 when it is not computed: on an engine, for a wide sparse design
    (:attr:`dualmaxent.Dataset.rank_computable`), for a penalised fit on a sparse design,
    which needs no rank (its dense Gram matrix and eigendecomposition took 0.56 s of a 1.2 s
    fit at m = 2006), and for a strictly concave one (L2, or an elastic net with some L2: its
    maximiser is unique whatever the columns, so their dependencies say nothing about theta;
    the rank pass was 16 % of the certificate of a default fit at n = 1e3, two classes), unless
    the data set already holds it."""
    if engine is not None or not data.rank_computable:
        return -1
    if "identifiability" not in vars(data) and penalty.active and (
            design.is_sparse(data.X) or penalty.kind == "l2"
            or penalty.kind == "elasticnet" and penalty.l1_ratio < 1.0):
        return -1
    return int(data.rank)


def _reported_loglik(data, br) -> float:
    """The reported log-likelihood at theta (statsmodels' ``llf``): the canonical one plus the
    family's constant, summed in pass 1. A family that overrides ``loglik`` (the gaussian
    profiles the variance, a function of ``sum w`` and the residual sum of squares only) is
    evaluated on one pseudo-observation of weight ``sum w`` and squared residual ``RSS / sum w``.
    """
    from .families import Family

    fam = data.family
    if type(fam).loglik is Family.loglik:
        return br.loglik + br.loglik_constant
    return float(fam.loglik(np.array([np.sqrt(br.rss / br.weight)]), np.zeros(1),
                            np.array([br.weight])))


def _bracket_messages(br: "Bracket", tol: float) -> list[str]:
    """What fails the certificate (module docstring, The verdict)."""
    messages = []
    if not br.relative_gap <= tol:
        # (a negative gap beyond the tolerance: the lower bound above the upper one, which only
        # the rounding can do, so its budget is infinite here, a flat direction as a rule;
        # otherwise the last test below says that weak duality is violated)
        how = ("exceeds" if not br.duality_gap < 0 else
               "is negative (the lower bound above the upper one) beyond")
        messages.append(f"the duality gap {br.duality_gap:.2e} nats (relative "
                        f"{br.relative_gap:.1e}) {how} the tolerance {tol:g}: theta is only "
                        f"proved to be within {br.within:.2e} nats of the optimum"
                        + _FLAT_REASONS.get(br.flat, ""))
    if _budget_fails(br, tol):
        # the gap closes, but its proof does not: the round-off budget is part of what is proved
        messages.append(f"the bracket's round-off budget {br.roundoff:.2e} nats exceeds the "
                        f"tolerance {tol:g} (relative): theta is only proved to be within "
                        f"{br.within:.2e} nats of the optimum"
                        + _FLAT_REASONS.get(br.flat, ""))
    if br.relative_gap <= tol and not _budget_fails(br, tol) and not _excess_ratio(br, tol) <= 1:
        # the gaussian and Poisson objectives carry the data's constant -H(Y) (sum y^2 / 2):
        # with y shifted by 1e4, a least-squares fit 939 nats off was 2e-7 of it
        messages.append(f"theta is only proved to be within {br.within:.2e} nats of the "
                        f"optimum, more than the tolerance {tol:g} relative to the fit's own "
                        f"excess over the data's point, {br.excess_reference:.2e} nats (half "
                        "the residual sum of squares or deviance, plus the penalty; the "
                        "objective itself is mostly the data's constant)")
    if br.duality_gap < -br.roundoff:
        messages.append(f"the duality gap {br.duality_gap:.1e} is negative beyond its round-off "
                        f"budget {br.roundoff:.1e}: weak duality is violated, so a computation "
                        "is wrong")
    if not br.balance_residual <= tol:
        messages.append(f"the primal point misses the balance equations by "
                        f"{br.balance_residual:.1e} (relative)")
    return messages


def _excess_ratio(br: "Bracket", tol: float) -> float:
    """The gaussian and Poisson bracket's proved distance from the optimum, ``within``, over
    ``tol`` times the fit's own excess over the data's point (:func:`_bracket_messages`); 0 for
    the other families."""
    if np.isnan(br.excess_reference):
        return 0.0
    return br.within / (tol * max(1.0, br.excess_reference))


def gap_shortfall(br: "Bracket", tol: float) -> float:
    """How many times over what ``tol`` allows the bracket's gap is (at most 1 where both of
    :func:`_bracket_messages`'s gap tests pass): the relative gap over ``tol``, and the excess
    ratio of the gaussian and Poisson families (:func:`_excess_ratio`)."""
    return max(br.relative_gap / tol, _excess_ratio(br, tol))


def segment_text(t: float) -> str:
    """Where the point of the lower bound lies on the segment from ``Y`` (0) to ``mu~`` (1), as
    text: ``0.25``, or ``1 - 9.1e-13`` just short of ``mu~`` (where ``%g`` would print 1)."""
    return f"1 - {1.0 - t:.1e}" if 0.999 < t < 1.0 else f"{t:.6g}"


def _gradient_notes(br: "Bracket", tol: float, family=None) -> list[str]:
    notes = []
    if br.segment < 1.0:
        pt = "P~" if family is not None and family.multiclass else "mu~"
        why = (f"the Newton point {pt} leaves the family's domain (an entry lies "
               f"{-br.newton_min_entry:.1e} outside it)" if br.newton_min_entry < 0 else
               f"the Newton point {pt} is not the best feasible point on its segment from Y "
               "(a penalty's boxes or charge)")
        where = ("the data's own point Y (H(Y)), the one feasible point on that segment"
                 if br.segment <= 0 else
                 f"Y + t ({pt} - Y), t = {segment_text(br.segment)}, a feasible point between "
                 f"the data and {pt}")
        notes.append(f"{why}: the lower bound is taken at {where}")
    elif br.newton_min_entry < 0 and br.stepped:
        pt = "P~" if family is not None and family.multiclass else "mu~"
        notes.append(f"the Newton point {pt} left the family's domain by at most "
                     f"{-br.newton_min_entry:.1e}, a linear step's overshoot on entries that "
                     "small: they are set on its boundary, and what that moves in the balance "
                     "equations and the rows' sums is charged")
    if br.unpenalised:
        notes.append("the lower bound is the unpenalised problem's point, its balance equations "
                     "met exactly: a penalty is never negative, so the penalised optimum is at "
                     "least the unpenalised one (the penalised point's charge for its slack, "
                     "which grows as the penalty weakens, proved less)")
    if br.dual_gradient > tol:
        if not np.isfinite(br.gradient_roundoff):
            notes.append(f"the dual gradient {br.dual_gradient:.1e} (relative) has no finite "
                         "round-off budget (theta's products with X leave float64's range), so "
                         "it says nothing; the verdict rests on the bracket")
        elif br.dual_gradient <= br.gradient_roundoff:
            notes.append(f"the dual gradient {br.dual_gradient:.1e} (relative) is within its "
                         f"round-off budget {br.gradient_roundoff:.1e}: float64 cannot compute "
                         "it more accurately on this design; the verdict rests on the bracket")
        else:
            notes.append(f"the dual gradient {br.dual_gradient:.1e} (relative) exceeds the "
                         f"tolerance {tol:g}")
    return notes


# -- the bracket: three passes at most, each a sum over row blocks -----------------------------

@dataclass(frozen=True, eq=False)
class Bracket:
    """The checker's figures at one theta (module docstring).

    Attributes
    ----------
    mu : ndarray like ``Y``, or None
        The feasible point of the lower bound (None through an engine).
    lower_bound, upper_bound : float
        ``primal(mu)`` at the checked point and ``dual(theta)``; ``lower <= OPT <= upper`` up to
        ``roundoff`` (the gaussian and Poisson gap evaluated centred: ``upper`` less that gap, up
        to ``roundoff`` and ``upper_roundoff``; module docstring, The centred gap).
    duality_gap, relative_gap, roundoff : float
        ``upper - lower``, ``|gap| / max(1, |upper|)`` and the round-off budget of the gap.
    loglik : float
        The canonical ``l(theta)``.
    reduced_loglik : float
        The reduced likelihood ``l_red(theta)`` of separated data (``loglik`` otherwise):
        at most the supremum of ``l``.
    loglik_constant, rss, weight : float
        The family's constant ``sum_j w_j c(Y_j)``, ``sum_j w_j (Y_j - eta_j)^2`` (one-parameter
        families) and ``sum w``: what the reported log-likelihood needs besides ``l``.
    entropy : float
        ``H`` at the point of the lower bound.
    segment : float
        Where that point lies on the segment from ``Y`` (0) to ``mu~`` (1).
    stepped : bool
        Whether ``mu~`` is a Newton step from ``mu(theta)``; False: ``mu(theta)`` itself
        (:func:`_zero_step`, or a step of zero).
    balance_residual : float
        ``max |X^T W (mu - Y)| / scale`` over the equality rows at that point (for L1 also the
        boxes' relative excess).
    simplex_residual : float
        ``max |P 1 - 1|`` (categorical; 0 otherwise).
    min_entry : float
        The point's distance from the boundary of the domain (``+inf``: none).
    newton_min_entry : float
        The same for ``mu~`` itself (negative when it left the domain).
    dual_gradient, gradient_roundoff : float
        The relative KKT residual at theta and its round-off budget.
    proves_attained : bool
        The attainment proof of the module docstring holds.
    relative_margin, second_step : float
        Its two figures.
    rank, size : int
        Rank of ``C_SS`` (after dropping singular directions) and size of ``S``.
    condition : float
        Largest over smallest kept eigenvalue of the equilibrated ``C_SS`` (an estimate by
        power and inverse iteration on the Cholesky path, :func:`factor`). Both describe the
        curvature that gave the step: the float32 one where it proposed it
        (:data:`SINGLE_MIN_TERMS`; directions below :data:`SINGLE_RANK_RTOL` dropped).
    scale : float
        ``1 + max |X^T W Y|``.
    seconds : float
    excess_reference : float
        For the gaussian and Poisson families, ``upper - H(Y)``: the dual objective's excess
        over the data's own point (half the RSS, half the Poisson deviance, plus the
        penalty), evaluated centred and less its own budget, the size ``within`` is judged
        against (:func:`_bracket_messages`); NaN for the probability families, whose ``H`` is
        an entropy with a fixed origin (separated data: the reduced problem's, no larger).
    flat : str
        Why nothing is proved, where the step's curvature cannot resolve a direction the
        design has: ``"collinear"`` (the design itself) or ``"curvature"`` (its weights at
        theta), else ``""`` (:func:`_lost_directions`; ``roundoff`` is then infinite).
    upper_roundoff : float
        The part of ``roundoff`` that bounds the rounding of ``upper_bound`` alone (its sums
        and the penalty's).
    unpenalised : bool
        Whether the point of the lower bound is the unpenalised problem's, its balance
        equations exact (a penalised bracket, :func:`_unpenalised_lower`).
    """

    mu: np.ndarray | None
    lower_bound: float
    upper_bound: float
    duality_gap: float
    relative_gap: float
    roundoff: float
    loglik: float
    reduced_loglik: float
    loglik_constant: float
    rss: float
    weight: float
    entropy: float
    segment: float
    balance_residual: float
    simplex_residual: float
    min_entry: float
    newton_min_entry: float
    dual_gradient: float
    gradient_roundoff: float
    proves_attained: bool
    relative_margin: float
    second_step: float
    rank: int
    size: int
    condition: float
    scale: float
    seconds: float
    stepped: bool = True
    flat: str = ""
    excess_reference: float = float("nan")
    upper_roundoff: float = float("inf")
    unpenalised: bool = False

    @property
    def within(self) -> float:
        """A proved bound on ``upper_bound - OPT``: ``max(gap, 0) + roundoff``."""
        return max(self.duality_gap, 0.0) + self.roundoff

    @property
    def in_domain(self) -> bool:
        """Whether the Newton point ``mu~`` itself lies in the family's domain."""
        return bool(self.newton_min_entry >= 0.0)


def bracket(data, theta: np.ndarray, penalty: Penalty, forced=None, engine=None,
            tol_hint: float = DEFAULT_TOL) -> Bracket:
    """The bracket of the optimum at ``theta`` (module docstring), from the checker's passes.

    Parameters
    ----------
    data : Dataset
    theta : ndarray of shape (m, k) or (m,)
        Already checked (:meth:`dualmaxent.Dataset.check_theta`).
    penalty : Penalty
    forced : ndarray of bool like ``Y`` (or (n,) for the Bernoulli family), optional
        The forced entries of separated data: the reduced problems.
    engine : optional
        Map the block functions over an engine's chunks instead of the in-memory arrays.
    tol_hint : float
        Below this relative gap at ``mu~`` itself no better point is sought on the segment.

    Returns
    -------
    Bracket

    Notes
    -----
    Memory (issue 20; tracemalloc, one thread). A sparse ``X`` is one block of all ``n``
    rows, so each (n, q) and (m, q) table is whole. What a certificate allocated at its peak
    on the text problem of ``bench --sparse`` at k = 20 (n = 2e4, m = 3e4, X 12.4 MB; an (m,
    q) table 4.8 MB = 0.39x X, an (n, q) table 3.2 MB = 0.26x), called on a solved theta:
    39.3 MB = 3.16x before, at pass 2's products with ``|X|``: their two (m, q) results
    (``resid_abs`` and the gradient's budget) 9.6 MB, an (n, 2 q) scratch 6.4, ``resid``
    4.8, the checker's copy of theta 4.8, the kept means and ``mu~`` 6.4, the class-major
    copy of ``Y`` 3.2, scipy's copies of class-major tables and its chunk results 4.0.
    After: 20.9 MB = 1.69x (pass 2: ``resid`` and ``resid_abs``, the kept means, over which
    ``W |mu~ - Y|`` is written, ``mu~`` and the copy of ``Y``), the same numbers bit for bit:
    theta read in place (:func:`_checked_theta`), the budget and ``X^T W Y`` reduced by
    chunks in pass 1 (:func:`_pass_one`), products by blocks of rows with no copy of the
    table nor of ``|X|`` (:func:`dualmaxent.design.csr_xt`), the penalty's value computed once with its
    squares in place (:func:`_penalty_value`; a second time, with ``tp ** 2``, it was the
    next peak: 9.6 MB at :func:`_lower_point`), ``mu~`` allocated by pass 2
    (:class:`_Deferred`). A ``MaxEntClassifier(C=10)`` fit (``bench --sparse``'s peak over
    X's bytes): text k = 20 4.94x -> 4.52x (the solve's peak now; the certificate's 3.45x),
    text k = 2 1.35x -> 1.33x (the solve's; the certificate's 1.29x), the categorical
    problem (n = 1e5, 2000 levels, five signed numeric columns, Bernoulli) 3.03x -> 2.50x
    (still the certificate's, pass 2, against the solve's 2.44x: it held the copy ``|X|``,
    0.74x, and pass 1 its (n,) vectors at ``C_SS``). Certificate times (best of 5, one
    thread): text k = 20 84 -> 70 ms, k = 2 15.7 -> 15.0, categorical 15.9 -> 14.9; the
    dense cells of n = 1e4 unchanged within noise (243 -> 233 ms summed over 36 cells).

    Tried and dropped: ``scratch`` and pass 1's (b, 2 q) table in C order for a sparse
    ``X`` (no copy by scipy): numpy's broadcasts into a row-major table of 2 q = 4 columns
    are 20 times slower (1.0 against 0.05 ms on 1e5 rows), the categorical certificate 15.5
    -> 23.5 ms; the blocks of rows of :func:`dualmaxent.design.csr_xt` copy nothing anyway. Reading ``Y`` as
    the data set stores it (row-major) instead of its class-major copy (3.2 MB at k = 20):
    not done, its row sums and the weighted sums of tables formed from it (``wb @ (Y eta)``,
    ``we @ |Y - mu|``, the entropy of a segment's point) are products whose order of
    summation follows the layout, so their last bits would change (a class-major ``Y`` in
    :class:`~dualmaxent.Dataset` would make the copy free).
    """
    with np.errstate(all="ignore"):  # overflow at a huge theta is handled where it matters
        br = _bracket_by_columns(data, theta, penalty, forced, engine, tol_hint,
                                 attainment=not penalty.active)
        if penalty.active and forced is None and _bracket_messages(br, tol_hint):
            br = _unpenalised_lower(data, theta, penalty, br, engine, tol_hint)
        return br


def _bracket_by_columns(data, theta, penalty, forced, engine, tol_hint, attainment) -> Bracket:
    """:func:`_bracket` with the budgets from the columns' largest entries where they serve
    (:class:`_ColumnBounds`), taken again with ``X`` itself where their looser budget fails
    the verdict's test (:func:`_budget_fails`) or, for ``attainment``, the attainment proof."""
    columns = _column_bounds(data, engine, penalty)
    br = _bracket(data, theta, penalty, forced, engine, tol_hint, columns)
    if columns is not None and (_budget_fails(br, tol_hint)
                                or (attainment and not br.proves_attained)):
        br = _bracket(data, theta, penalty, forced, engine, tol_hint, None)
    return br


def _unpenalised_lower(data, theta, penalty, br: Bracket, engine, tol_hint) -> Bracket:
    """A penalised bracket ``br`` that does not close, its lower bound taken from the
    unpenalised problem's bracket at the same theta where that proves more.

    Every penalty is nonnegative, so the penalised optimum is at least the unpenalised one,
    which is at least the entropy of any point meeting the balance equations exactly:
    ``H(mu~) <= OPT_0 <= OPT_pen <= dual_pen(theta)``. The unpenalised point pays no charge
    for a slack, where the penalised point's charge grows as the penalty weakens: the slack's
    ``||s||^2 / (2 lam)`` of L2 at its rounding level, and the intercept's residual times the
    multiplier's bound, of order ``1 / lam``; a very weak penalty (L1 at ``C = 1e11``, L2 at
    ``C = 1e50``, whose fits are the unpenalised one to 1e-12) was bracketed within 45 nats
    and 1e22 nats of an optimum it met to 2e-10. The gap left is the unpenalised bracket's
    plus the penalty at theta, so the unpenalised bracket is formed (two passes more) only
    where that penalty is within the tolerance, and kept only where its bound is the closer.
    Its gap is the unpenalised bracket's plus the penalty at theta (both upper bounds hold the
    same ``l(theta)``), its round-off the unpenalised bracket's plus the penalised upper
    bound's own (``upper_roundoff``, the penalty's among its sums)."""
    th = np.asarray(theta, dtype=np.float64).reshape(data.m, -1)
    pen_rows = Parameterization.from_dataset(data, penalty).penalized_rows
    upper = br.upper_bound
    pen_value = _penalty_value(th, pen_rows, penalty)
    if not pen_value <= tol_hint * max(1.0, abs(upper)):
        return br  # (the gap is at least the penalty at theta: it cannot close)
    free = _bracket_by_columns(data, theta, Penalty(), None, engine, tol_hint, attainment=False)
    gap = free.duality_gap + pen_value  # (the same l(theta) in both upper bounds)
    roundoff = free.roundoff + br.upper_roundoff
    if not max(gap, 0.0) + roundoff < br.within:
        return br
    return replace(free, lower_bound=upper - gap, upper_bound=upper, duality_gap=gap,
                   relative_gap=relative_gap(gap, upper), roundoff=roundoff,
                   upper_roundoff=br.upper_roundoff, loglik=br.loglik,
                   reduced_loglik=br.reduced_loglik, dual_gradient=br.dual_gradient,
                   gradient_roundoff=br.gradient_roundoff, proves_attained=br.proves_attained,
                   relative_margin=br.relative_margin, second_step=br.second_step,
                   excess_reference=br.excess_reference, seconds=br.seconds + free.seconds,
                   unpenalised=True)


def relative_gap(gap: float, upper: float) -> float:
    """A bracket's relative gap, ``|gap| / max(1, |upper|)`` (infinite for a gap that is not
    finite)."""
    return (abs(float(gap)) / max(1.0, abs(float(upper))) if np.isfinite(gap)
            else float("inf"))


def _budget_fails(br: "Bracket", tol: float) -> bool:
    """The verdict's test that the gap closes but its round-off budget does not
    (:func:`_bracket_messages`): a test the column bounds (:class:`_ColumnBounds`) can fail
    by loosening the budget (the other, without a penalty, is the attainment proof), so a
    bracket taken with them that fails it is taken again with ``X`` itself (module docstring,
    Budgets from the columns' largest entries)."""
    return br.relative_gap <= tol and not br.roundoff <= tol * max(1.0, abs(br.upper_bound))


#: The penalised step's curvature (``n |S|^2 / 2`` multiply-adds) is formed only where it costs
#: at most this many terms ``n |S|^2``, or where ``|S|^2`` is at most PENALISED_STEP_MAX_RATIO
#: times ``m q`` (about 64 gradient passes' multiply-adds, a few passes' time as a symmetric
#: product): a wide design's (binary, m = 500, n = 1e6: 1.25e11 multiply-adds, seconds) is not
#: taken, and the bracket stays the intercept's (its verdict says how far it is).
PENALISED_STEP_MIN_TERMS = 1e8
PENALISED_STEP_MAX_RATIO = 256


def _penalised_step_affordable(n: int, size: int, m: int, q: int) -> bool:
    """Whether the penalised step's curvature of ``size`` entries is formed (above)."""
    return (n * size ** 2 <= PENALISED_STEP_MIN_TERMS
            or size ** 2 <= PENALISED_STEP_MAX_RATIO * m * q) and size <= DENSE_CORRECTION_MAX


#: Whether an L2 or elastic-net bracket that the intercept's step would leave open takes the
#: penalised problem's step instead (:func:`_penalised_step`); the tests of the intercept's own
#: path turn it off.
PENALISED_STEP = True


def _penalised_target(data, one, th, pen_rows, penalty, tol_hint, force: bool = False):
    """``(sel, t_S)`` of :func:`_penalised_step` (its entries, class-major, and the penalised
    gradient there, from pass 1's ``R`` in ``one``), or None where it is not wanted: where the
    slack's charge at ``mu(theta)`` alone (:func:`_slack_excess`) leaves the bracket closed at
    ``tol_hint`` (unless ``force``: the fallback after the intercept's step,
    :func:`_newton_step`), or the curvature is not affordable
    (:data:`PENALISED_STEP_MIN_TERMS`)."""
    if not (np.all(np.isfinite(one.R)) and (force or _slack_excess(one.R, th, pen_rows, penalty)
                                            > tol_hint * _penalised_scale(one, th, pen_rows,
                                                                          penalty))):
        return None
    sel = np.flatnonzero(_correction_set(th, pen_rows, penalty, data.family.multiclass,
                                         full=True).T.ravel())  # (class-major)
    if not _penalised_step_affordable(data.n, sel.size, *th.shape):
        return None
    cls, feat = np.divmod(sel, th.shape[0])
    return sel, _target(one, th, feat, cls, pen_rows, penalty)


def _penalised_scale(one, th, pen_rows, penalty) -> float:
    """The objective's size the penalised step's tests are relative to (:func:`_objective_size`
    with the penalty at theta)."""
    return _objective_size(one, _penalty_value(th, pen_rows, penalty))


def _objective_size(one, pen_value: float = 0.0) -> float:
    """The size the bracket's own decisions judge a gap against, from pass 1 ``one``: ``max(1,
    |l(theta)| + penalty)``, and for the gaussian and Poisson families at most ``max(1,
    excess)``, the fit's own excess over the data's point plus the penalty, as the verdict
    judges them (module docstring, The verdict)."""
    size = max(1.0, abs(float(one.loglik_full)) + abs(pen_value))
    div = getattr(one, "data_divergence", None)
    if div is not None and np.isfinite(div[0]):
        size = min(size, max(1.0, float(div[0]) + abs(pen_value)))
    return size


def _penalised_step(run, data, th, one, sel, t_S, pen_rows, penalty, kept, newton, margins,
                    multiplier, tol_hint):
    """The penalised problem's Newton step (:func:`_newton_step`, after pass 1 and the given
    point's attempt): ``(one, two, A, resid_bound, solve, sel)`` with ``S`` the penalised rows
    too (:func:`_correction_set`'s ``full``), or None where it is not taken: an L2 or
    elastic-net fit, nothing forced, where :func:`_penalised_target` says so after pass 1 and
    gives its entries ``sel`` and target ``t_S``. In memory its pass 2 writes its point into
    ``newton``'s table, also where it declines (the caller forms its own point again then).
    Through an engine (Dask), whose pass 1 keeps no means, its float64 curvature comes from a
    pass of its own (:func:`_pass_curvature_at`):
    one read of the data more, where the bracket would otherwise stay open (a loose ridge fit
    on Dask was NOT OK, within 31.6 nats, where in memory it was within 2.2e-3). ``one`` is
    pass 1's sums (its ``C_SS`` of the intercept's entries is replaced where the step is
    taken).

    The step of the intercept alone leaves the penalised rows' slack ``s = X_R^T W (mu - Y)``
    where ``mu(theta)`` puts it, and the relaxation charges it ``||s||^2 / (2 lam2)``: against
    the dual's penalty that is ``||g_R||^2 / (2 lam2)``, ``g_R`` the penalised gradient there,
    first order in the gradient over the ridge's strength. A fit stopped at a relative
    gradient of 7e-5 (n = 1e5, two classes, 50 features, C = 1: ``MaxEntClassifier(tol=1e-4)``,
    or scikit-learn's default ``LogisticRegression``) was bracketed within 31.6 nats (relative
    7e-4: NOT OK at 1e-4) for a fit within a few thousandths of a nat. The Newton step of the
    penalised problem, ``(C_SS + lam2 I_R) a = g``, moves ``s`` to ``-lam2 (theta + a)_R`` to
    first order: the gap left is second order, ``g^T (C + lam2)^-1 g / 2``. Its curvature is
    the one product that grows with ``|S|^2``: taken only where the cheap bracket falls short.
    It is taken from pass 1's sums and kept means (``C_SS`` in the runner's blocks,
    :func:`_pass_curvature`): no second pass 1, and no step of the intercept alone; in float32
    where it costs (:data:`SINGLE_MIN_TERMS`, a dense ``X``) as a proposal, whose point pass 2
    measures, taken again in float64 where its slack's mismatch or the intercept's residual
    costs more than a hundredth of the tolerance (:func:`_penalised_proposal_closes`); where the
    float64 step's does too (far from the optimum, where its linearisation misses), the
    intercept's step is taken, as without it.

    Measured (``MaxEntClassifier(tol=1e-4).fit``, one BLAS thread, both versions in one
    process, interleaved, 20th percentile; before -> after, the gap in nats): n = 1e5, two
    classes, 50 features, C = 1: 70-78 -> 85-90 ms, 31.6 (NOT OK) -> 2.2e-3 (ok); n = 1e4, three
    classes, 20 features, C = 1e4: 12-13 -> 15-17 ms, 99.9 -> 1.3e-5; n = 1e5, ten classes,
    ten features, C = 1e3: 155-171 -> 265 ms (109 entries' curvature, in float32), 2.2e3 ->
    5.8e-4; the fits at the default tolerance unchanged (their brackets close without it).
    Tried and dropped: a row sample's float32 curvature (64 rows an entry) as the first
    proposal; its step's slack missed the room (a hundredth of the tolerance) and the full
    curvature was formed after it: 33-36 -> 40 ms a certificate (two classes, 50 features, n =
    1e5), 122 -> 140 ms (ten classes). Conjugate gradients with the curvature as an operator
    (float64 products) preconditioned by 16 rows an entry plus the shift, to the room: they
    converged and closed in 4 to 6 products, but a product over ``X`` read from memory costs
    more than the float32 curvature's share of it: ``certify`` at the fits' theta (tol 1e-4,
    one thread, best of 3) n = 1e5, two classes, 50 features 31 -> 75 ms, three classes 33 ->
    32; n = 1e6, three classes, 50 features 0.92 -> 2.05 s; ten classes and ten features
    gained (n = 1e5, C = 1e3, 119 -> 91 ms; n = 1e6 1.20 -> 1.04 s): not enough to keep a second
    path for.
    """
    m, q = th.shape
    cls, feat = np.divmod(sel, m)
    shift = np.where(pen_rows[feat], penalty.l2_lam, 0.0)
    room = CG_RESIDUAL * tol_hint * _penalised_scale(one, th, pen_rows, penalty)
    # (through an engine, every pass reads the data again: the float64 curvature alone, from
    # means formed again in its pass, :func:`_pass_curvature_at`)
    memory = newton is not None
    dense = memory and not design.is_sparse(data.X)
    intercepts = one.C, one.w_curvature  # (pass 1's, for the intercept's step)
    multi = data.family.multiclass
    for single in ((True, False) if dense and data.n * sel.size ** 2 >= SINGLE_MIN_TERMS
                   else (False,)):
        cs = (run(_pass_curvature, sel, m, multi, single, mean=kept["mean"], curv=kept["curv"])
              if memory else run(_pass_curvature_at, th, data.family, sel, m, multi))
        one.C, one.w_curvature = cs.C, cs.w_curvature
        solve, rank, condition, _ = factor(
            one.C + np.diag(shift), 0 if single else data.n,
            SINGLE_RANK_RTOL if single else RANK_RTOL, 0 if single else None, bound=False)
        A = _step(solve(t_S), feat, cls, q)
        two, resid_bound = _stepped_pass(run, one, th, A, data.family, margins,
                                         newton() if memory else None, tol_hint, kept)
        if _penalised_proposal_closes(one, two, resid_bound, th, A, pen_rows, penalty,
                                      multiplier(one), room if single else None, tol_hint):
            _add_budget(one, two)
            return one, two, A, resid_bound, (rank, condition, 0.0), sel
    # far from the optimum the step's linearisation misses (the intercept's balance equation
    # left off, the slack far from its target): the intercept's step, as without it
    one.C, one.w_curvature = intercepts
    return None


def _bracket(data, theta, penalty, forced, engine, tol_hint, columns=None) -> Bracket:
    t0 = time.perf_counter()
    fam = data.family
    multi = fam.multiclass
    q = data.k if multi else 1
    th = np.asarray(theta, dtype=np.float64).reshape(data.m, q)
    params = Parameterization.from_dataset(data, penalty)
    pen_rows, eq = params.penalized_rows, ~params.penalized_rows
    sel = np.flatnonzero(_correction_set(th, pen_rows, penalty, multi).T.ravel())  # class-major
    mask = None
    if forced is not None:
        from .separation import as_forced

        mask = as_forced(data, forced)
    run = _runner(data, engine, mask, columns)
    # class-major, as the runner hands Y to the blocks (:func:`_runner`)
    # (allocated by pass 2, which writes it: pass 1 does not read it, :class:`_Deferred`)
    newton = _Deferred((data.n, q)) if engine is None else None
    # the attainment proof (and with it the rows' largest norm) is wanted only where the
    # optimum may fail to exist: no penalty, a family that can separate, nothing forced
    provable = not penalty.active and mask is None and fam.can_separate
    # a penalised fit's equality rows (the intercept's) are charged with a proved bound on the
    # multiplier, which needs the rows' largest norm too
    bounded = penalty.active and bool(eq.any())
    # the rows' largest entry, for the l1 form of that bound (L1 and the elastic net)
    peak = bounded and penalty.kind in ("l1", "elasticnet")
    pen_value = _penalty_value(th, pen_rows, penalty)
    n_terms = run.depth + data.m + q + 8
    # the penalty's own sums run over its |R| q entries (each squared or made absolute, then
    # scaled, and for the elastic net two sums combined: a few roundings more), which can
    # outnumber n + m (text k = 20 of bench --sparse: 6e5 entries, 2e4 rows)
    pen_terms = int(np.count_nonzero(pen_rows)) * q + 8
    pen_budget = gamma(max(n_terms, pen_terms)) * abs(pen_value)
    memo = {}

    def upper_of(one) -> float:
        """The bracket's upper bound at theta, ``-l(theta)`` plus the penalty, from pass 1."""
        return -(one.loglik_full - pen_value)

    def upper_budget_of(one) -> float:
        """The round-off budget of :func:`upper_of`: its sums' and the penalty's."""
        return one.value_budget + gamma(n_terms) * one.magnitude + pen_budget

    def multiplier(one, radius=None, keep=True):
        """The multiplier's bound on the equality rows (computed once, from pass 1); with
        ``radius`` (:func:`_refined_radius`) the penalised bound again, the smaller kept
        (``keep``) or only returned. Each radius's bound is computed once for a given pass 1:
        the zero step's bracket and the final one at the same point refine through the same
        radii (n = 1e3, two classes, L2: 9 bounds a certificate, 5 of them distinct)."""
        if "bound" not in memo or radius is not None:
            if memo.get("of") is not one:  # (the bounds of another pass 1 do not serve)
                memo["of"], memo["by_radius"] = one, {}
            bound = memo["by_radius"].get(radius)
            if bound is None:
                bound = (_multiplier_bound(run, data, one, pen_rows, penalty,
                                           upper_of(one) + upper_budget_of(one), radius, memo)
                         if bounded
                         else _abs_pivot(params, th, multi)[_row_index(eq)])
                memo["by_radius"][radius] = bound
            bound = bound if "bound" not in memo else np.minimum(memo["bound"], bound)
            if not keep:
                return bound
            memo["bound"] = bound
        return memo["bound"]

    def settle(one, resid, rb, lower, charge, mag, simplex_term, shift, excess=None, keep=True,
               centred=None):
        """``(roundoff, bound)``: the round-off of a bracket (module docstring) whose point has
        the residual ``resid`` (its rounding bound ``rb``, both (m, q)), the relaxation's
        ``charge``, the magnitude ``mag`` and simplex term of its sums and its own second-order
        charge ``shift``, and whose lower bound is ``lower``: the sums of both bounds, the penalty's
        terms, and the residual on the equality rows times the multiplier, a proved bound on
        ``|theta*|`` for a penalised fit (refined with the bracket's own excess,
        :func:`_refined_radius`), the given theta (pivot gauge) standing in for it to first
        order without a penalty. ``excess`` (L1): ``(|r| - lam)_+`` on the boxes, used up.
        ``bound`` is the multiplier's bound of the equality rows' charge, the refined one kept
        for the bracket's later calls unless ``keep`` is False (the zero step's, at ``mu~``,
        :func:`_zero_step`: declined, the bracket is the step's alone, by every path the
        same). ``centred``: the gap and its sums' budget evaluated centred
        (:func:`_centred_gap`), in place of both bounds' sums and their budgets."""
        # (the penalised rows as a view when they are one run of a C-ordered table, as pass 2's
        # products are: the same sums below as over their copy)
        pen = _row_index(pen_rows) if resid.flags.c_contiguous else pen_rows
        eqr = _row_index(eq)
        upper_budget = upper_budget_of(one)
        size = np.abs(resid[eqr]) + rb[eqr]
        bound = multiplier(one)
        eq_charge = float(np.sum(np.where(size > 0, bound * size, 0.0)))
        if penalty.kind == "l1":  # |theta| (excess + b), in place, a column at a time
            excess += rb[pen]
            for c in range(q):
                excess[:, c] *= np.abs(th[pen, c])
            shift += float(np.sum(excess))
        if penalty.kind in ("l2", "elasticnet") and pen_rows.any():
            # the charge's move when the residual moves by its bound (:func:`_l2_moves`), and
            # its own sum's rounding
            shift += float(np.sum(_l2_moves(resid[pen], rb[pen], penalty)))
            shift += gamma(int(np.count_nonzero(pen_rows)) * q + 4) * charge
        if centred is None:
            rest = upper_budget + (gamma(n_terms) + 8 * U) * mag + simplex_term + shift
            gap = upper_of(one) - lower
        else:
            gap, sums_budget = centred
            rest = sums_budget + pen_budget + simplex_term + shift
        roundoff = rest + eq_charge
        if bounded and np.isfinite(gap) and np.isfinite(roundoff):
            # the equality rows' charge again with the multiplier's bound that this bracket
            # itself proves (:func:`_refined_radius`): sound, the bracket being proved with the
            # first bound, and far tighter where the penalty bounds theta*_R closely
            # (:data:`REFINE_ROUNDS`: each bracket's excess, with the bound it was charged
            # with, proves the next bound)
            # (theta_R's norm once a bracket: every round reads the same theta)
            if "norm" not in memo:
                memo["norm"] = _penalised_norm(th, pen_rows)
            radius = _refined_radius(th, pen_rows, penalty, max(float(gap), 0.0) + roundoff,
                                     memo["norm"])
            if radius is not None:
                total = float(bound.sum())
                for _ in range(REFINE_ROUNDS):
                    bound = multiplier(one, radius, keep)
                    roundoff = rest + float(np.where(size > 0, bound * size, 0.0).sum())
                    before, total = total, float(bound.sum())
                    if not total < REFINE_GAIN * before:
                        break
                    radius = _refined_radius(th, pen_rows, penalty,
                                             max(float(gap), 0.0) + roundoff, memo["norm"])
            elif engine is None and not roundoff <= BALL_SHARE * tol_hint * _objective_size(
                    one, pen_value):
                # an L1 part alone bounds theta*_R by its whole objective over lambda, far
                # from it for a weak one (C = 1e6): the curvature ball's bound instead
                # (:func:`_ball_multiplier`, once)
                if "ball" not in memo:
                    memo["ball"] = _ball_multiplier(data, th, pen_rows, penalty)
                if memo["ball"] is not None:
                    bound = np.minimum(bound, memo["ball"])
                    if keep:
                        memo["bound"] = bound
                    roundoff = rest + float(np.sum(np.where(size > 0, bound * size, 0.0)))
        return roundoff, bound

    one, two, A, resid_bound, solve, sel = _newton_step(run, data, th, sel, pen_rows, penalty,
                                                        tol_hint, newton, peak, mask,
                                                        multiplier, provable,
                                                        settle if bounded else None)
    newton = newton() if newton is not None else None
    scale = one.scale
    # the KKT residual (reduced from R once pass 1 was summed, :func:`_newton_step`) and its
    # budget, reduced now: the (m, q) table of the budget is read by nothing else
    dual_gradient = one.grad_max / scale
    gradient_roundoff = (one.budget_max if hasattr(one, "budget_max") else
                         _kkt_budget(one.grad_budget, th, pen_rows, penalty, multi)) / scale
    one.grad_budget = None
    t, primal_h, mag, simplex_term = _lower_point(run, one, two, th, A, fam, pen_rows, penalty,
                                                  tol_hint, resid_bound, newton, pen_value,
                                                  data)
    cls, feat = np.divmod(sel, data.m)
    # the gaussian and Poisson H has no fixed origin (the gaussian -sum w mu^2 / 2 moves with a
    # shift of y): the bracket is judged against the objective's excess over the data's own
    # point too, and its gap is evaluated centred (:func:`_centred_gap`), at mu~ and, where
    # mu~ is in the domain, inside its segment
    centring = not fam.is_probability and mask is None
    eps = _mean_error(fam, one.e_max) if not fam.is_probability else 0.0

    def centred_at(two, resid, rb, charge, t):
        """The centred ``(gap, budget)`` of the point at ``t``, or None where it is not
        evaluated centred (or overflowed on the way: the bounds' own sums, which say so)."""
        if not (centring and (t == 1.0 or t > 0.0 and two.t_max >= 1.0)
                and np.isfinite(upper_of(one))):
            return None
        centred = _centred_gap(two, th, resid, rb, charge, pen_value, eps, run.depth, t,
                               one.data_divergence)
        return centred if np.all(np.isfinite(centred)) else None

    def proved(two, rb, point):  # (a point's lower bound less its round-off)
        t, h, mag, simplex_term = point
        charge, resid, rb, excess = _at_segment(two, rb, t, pen_rows, penalty, copy=True)
        centred = centred_at(two, resid, rb, charge, t)
        lower = h - charge if centred is None else upper_of(one) - centred[0]
        return lower - settle(one, resid, rb, lower, charge, mag, simplex_term,
                              getattr(two, "second_order", 0.0), excess, keep=False,
                              centred=centred)[0]

    if penalty.active and A[0].size and mask is None and t < 1.0 and min(
            two.t_max, _box_limit(two.resid, pen_rows, penalty)) < 1.0:
        # the stepped point left the domain or an L1 box, so its segment fell short; where its
        # bracket does not close, the given point's, and in memory the damped step's, where
        # its bracket proves a higher lower bound (:func:`_given_point`; where only the
        # relaxation's charge shortened the segment, neither point has a smaller one)
        best = proved(two, resid_bound, (t, primal_h, mag, simplex_term))
        tried = []
        if not upper_of(one) - best <= tol_hint * _objective_size(one, pen_value):
            zero = _step(np.zeros(sel.size), feat, cls, q)
            tried.append((zero, _given_point(run, data, one, th, zero, fam, pen_rows, penalty,
                                             tol_hint, newton, pen_value)))
            damped = (_damping(fam, *(_absolute_point(data.Y, fam, table)
                                      for table in (tried[0][1][2], newton)))
                      if newton is not None else 0.0)
            if damped > 0.0:
                step = (A[0], damped * A[1])
                tried.append((step, _given_point(run, data, one, th, step, fam, pen_rows,
                                                 penalty, tol_hint, newton, pen_value)))
        for step, (two_s, rb_s, newton_s, point_s) in tried:
            value = proved(two_s, rb_s, point_s)
            if value > best:
                best, two, A, resid_bound, newton = value, two_s, step, rb_s, newton_s
                t, primal_h, mag, simplex_term = point_s
    # (before the residual is scaled to the point of the lower bound, below)
    r_S = _residual_on_S(two, resid_bound, feat, cls)  # (the attainment proof's)
    if not bounded and A[0].size:
        # unpenalised, the stepped point's multiplier stands in for theta*, not the given
        # theta's (:func:`_stepped_multiplier`)
        memo["bound"] = _stepped_multiplier(params, th, A, multi)[_row_index(eq)]
    # the point's residual and the bound of its sum at t, formed in place of pass 2's (read by
    # nothing else now)
    # (the gaussian and Poisson point inside the segment keeps mu~'s tables: summed again
    # below as mu~'s and scaled after)
    inside = not fam.is_probability and 0.0 < t < 1.0
    charge, resid, rb, excess = _at_segment(two, resid_bound, t, pen_rows, penalty, copy=inside)
    point = None
    if newton is not None and fam.is_probability:  # the point of the lower bound, as Y's layout
        Y2 = data.Y.reshape(data.n, q)
        if not t > 0:
            newton[...] = Y2
        elif t < 1.0:  # Y + t (mu~ - Y), formed in place of mu~
            newton -= Y2
            newton *= t
            newton += Y2
        point = newton.reshape(data.Y.shape)
    elif newton is not None:  # (mu~ held centred, mu~ - Y: kept for the sums below)
        point = _absolute_point(data.Y, fam, newton * t if 0 < t < 1 else newton if t > 0
                                else np.zeros_like(newton)).reshape(data.Y.shape)
    eqr = _row_index(eq)
    upper = upper_of(one)
    excess_reference = float("nan")
    if not fam.is_probability:  # (separated data: the reduced problem's, no larger)
        excess_reference = max(float(one.data_divergence[0]) - _divergence_budget(
            one.data_divergence, eps, run.depth), 0.0) + max(pen_value - pen_budget, 0.0)
    reference = max(1.0, abs(upper))
    if np.isfinite(excess_reference):
        reference = min(reference, max(1.0, excess_reference))

    def figures(charge, resid, rb, excess):
        """``(balance, lower, gap, roundoff)`` of the point at ``t``."""
        balance = max(float(np.abs(resid[eqr]).max(initial=0.0)),
                      float(excess.max(initial=0.0)))
        centred = centred_at(two, resid, rb, charge, t)
        lower = primal_h - charge if centred is None else upper - centred[0]
        roundoff, _ = settle(one, resid, rb, lower, charge, mag, simplex_term,
                             getattr(two, "second_order", 0.0), excess, centred=centred)
        return balance, lower, upper - lower if centred is None else centred[0], roundoff

    balance, lower, gap, roundoff = figures(charge, resid, rb, excess)
    if (point is not None and t > 0.0 and np.isfinite(upper)
            and not roundoff <= ACCURATE_SHARE * tol_hint * reference
            and _sharpen_sums(data, newton, *((two.resid, resid_bound) if inside else
                                              (resid, rb)),
                              pen_rows, multiplier(one), penalty,
                              allowed=ACCURATE_SHARE * tol_hint * reference / 2,
                              centred=not fam.is_probability)):
        # the bounds' charge took the round-off past its share: the charged rows summed again
        # (:func:`_accurate_sums`), and what reads them formed again. At t = 1 the point is mu~
        # as pass 2 read it, resid and rb pass 2's own tables; inside the segment (a
        # probability family's mu~ a rounding past an L1 box) it is Y + t (mu~ - Y) as formed
        # above, bit for bit the point whose entropy the segment's pass summed, and resid and
        # rb are pass 2's scaled by t already: formed again at t = 1, unscaled. (A feature near
        # 1e5 beside an L1 penalty: the intercept's multiplier bound x_max D / lam, 1.7e8, times
        # its residual's summation bound was 0.03 nats, the fit exact). The gaussian and
        # Poisson point inside the segment is centred, t (mu~ - Y), not formed: mu~'s sums,
        # summed again above, are scaled to t, each entry's product rounded once more
        if inside:
            resid_bound += U * np.abs(two.resid)
        charge, resid, rb, excess = _at_segment(two, resid_bound if inside else rb,
                                                t if inside else 1.0, pen_rows, penalty)
        balance, lower, gap, roundoff = figures(charge, resid, rb, excess)
    if not np.isfinite(upper) or np.isnan(roundoff) or np.isnan(gap):
        # overflow at theta: nothing is small
        upper, roundoff = (float("inf") if np.isnan(upper) else upper), float("inf")
        gap = upper - lower if np.isfinite(lower) else float("inf")  # (not inf - inf: NaN)
    rank, condition, smallest = solve
    flat = (_lost_directions(data, sel.size, rank)
            if not penalty.active and mask is None and A[0].size and t > 0 else "")
    if flat:
        # the stepped point's residual is charged with the given theta standing in for
        # theta*, which a nearly flat direction of the design can make arbitrarily wrong:
        # nothing is proved, nor attainment
        roundoff, smallest = float("inf"), 0.0
    second_step = (_second_step(data, engine, one, smallest, r_S, feat, cls)
                   if provable and smallest > 0 else float("inf"))
    attained = provable and two.relative_margin >= MARGIN_FRACTION and second_step < MARGIN_FRACTION
    return Bracket(
        mu=point, lower_bound=float(lower), upper_bound=float(upper), duality_gap=float(gap),
        relative_gap=relative_gap(gap, upper), roundoff=float(roundoff),
        loglik=float(one.loglik_full), reduced_loglik=float(one.loglik),
        loglik_constant=float(one.loglik_constant), rss=float(one.rss), weight=one.w_total,
        entropy=float(primal_h), segment=float(t), balance_residual=balance / scale,
        simplex_residual=float(two.simplex) * (t if t < 1 else 1.0),
        min_entry=float(two.min_entry if t >= 1.0 else float("nan")),
        newton_min_entry=float(getattr(two, "outside", two.min_entry)),
        dual_gradient=dual_gradient, gradient_roundoff=gradient_roundoff,
        proves_attained=bool(attained), relative_margin=float(two.relative_margin),
        second_step=float(second_step), rank=int(rank), size=int(sel.size),
        condition=float(condition), scale=scale, seconds=time.perf_counter() - t0,
        stepped=bool(A[0].size), flat=flat, excess_reference=excess_reference,
        upper_roundoff=float(upper_budget_of(one)) if np.isfinite(upper) else float("inf"))


#: Why nothing is proved, by :func:`_lost_directions`'s answer (the verdict's words).
_FLAT_REASONS = {
    "collinear": (" (nothing proved: the design's columns are so nearly collinear that float64"
                  " cannot resolve its flattest directions; a small L2 penalty, or dropping or"
                  " orthogonalising columns, makes it provable)"),
    "curvature": (" (nothing proved: at this theta the curvature is so flat in a direction the"
                  " design has (its weights spread over many orders of magnitude) that float64"
                  " cannot resolve it; a small L2 penalty makes it provable)"),
    "near": (" (nothing proved: a dependency of the design's columns holds only nearly, not to"
             " the rounding of their entries, and the optimum may use the small difference with"
             " huge coefficients; a small L2 penalty, or dropping a column, makes it provable)"),
}


def _lost_directions(data, p: int, rank: int) -> str:
    """Why the unpenalised step's ``C_SS`` (``p`` entries, factored on its numerical range,
    of rank ``rank``; -1 unknown) lost directions the design has: ``"collinear"`` (the design
    is too ill-conditioned), ``"curvature"`` (the curvature's weights at theta flattened a
    direction the design resolves), or ``""`` (none lost).

    Without a penalty the stepped point's residual ``r`` (at the rounding level) is charged
    ``|theta| |r|``, the given theta standing in for the multiplier ``theta*`` to first order
    (module docstring). Where ``C_SS`` drops a direction that is one of the design's own
    dependencies (``X v = 0``: duplicated columns, the dummy-variable trap) nothing is lost:
    theta* may be taken off it, and ``r`` has no part along it. A direction that is only
    nearly flat is another matter: two columns equal to 1e-8 (a relative singular value of
    1e-8 or so, its square below ``C_SS``'s rank tolerance) have a ``theta*`` of order 1e8
    along their difference, and a residual at round-off there moves the bound by tens of nats
    (a lower bound 20 nats above the optimum was printed as OK before this test). So the rank
    must be the one the design's identifiability gives (:attr:`dualmaxent.Dataset.rank`, whose
    QR resolves relative singular values down to 1e-10; times ``k - 1`` for the categorical
    family), or the step's residual proves nothing; and a design too ill-conditioned for the
    curvature to resolve its flattest direction robustly (:func:`stand_in_condition_max`)
    proves nothing either, whatever this machine's rounding kept; nor does a dependency that
    the rows satisfy only approximately (``"near"``, :attr:`dualmaxent.identifiability.
    Identifiability.exact`): ``x2 = x1 + 1e-10 z`` is named ``x2 = x1`` by the QR, but ``z``
    is in the data to six digits, and the optimum, 51.6 nats below the reduced problem's,
    takes it with coefficients of order 1e10 (``ok`` was printed before this test). Through
    an engine (Dask) the design's identifiability is not at hand: any dropped direction counts
    as lost. A design with many more columns than rows (:data:`dualmaxent.identifiability.
    MAX_NULLITY`) has no rank computed, but ``m - n`` exact dependencies at least (``n`` rows
    of positive weight): a curvature of the rank its rows allow, ``min(p, n units)``, dropped
    those and no more; of a smaller rank, a direction that may be only nearly flat. A wide
    sparse design's curvature is not formed (rank -1): nothing to tell."""
    units = data.k - 1 if data.family.multiclass else 1
    if not getattr(data, "rank_computable", False):
        # (a wide design, or one read through an engine, whose identifiability is not at hand:
        # a dropped direction cannot be told from a dependency beyond those the shape proves)
        if hasattr(data, "engine"):
            return "curvature" if 0 <= rank < p else ""
        rows = int(np.count_nonzero(data.weights > 0))
        return "curvature" if 0 <= rank < min(p, rows * units) else ""
    ident = data.identifiability
    if ident.condition > stand_in_condition_max(p):
        return "collinear"
    if not ident.exact:  # (a near-dependency, named as one: the data resolve its direction)
        return "near"
    return "curvature" if 0 <= rank < min(p, ident.rank * units) else ""


def stand_in_condition_max(p: int) -> float:
    """The largest condition of the design (:attr:`dualmaxent.identifiability.Identifiability.
    condition`, from its QR: a property of the data, the same on every machine) whose flattest
    direction ``C_SS`` resolves: its squared relative singular value a thousand times above
    both the curvature's rank tolerance :data:`RANK_RTOL` and the rounding of its ``p``
    eigenvalues (``p u``), about 1e6 for ten entries. Between there and the identifiability's
    dependency threshold a direction's curvature eigenvalue sits within a few thousand units of
    round-off of zero, dropped or kept by the BLAS kernel's rounding: the verdict must not
    depend on which (a degree-10 polynomial basis, condition 1.3e7, did)."""
    return 1.0 / np.sqrt(1e3 * max(RANK_RTOL, p * U))


def _newton_step(run, data, th, sel, pen_rows, penalty, tol_hint, newton, peak, mask,
                 multiplier, margins, settle=None):
    """Passes 1 and 2: ``(one, two, A, resid_bound, (rank, condition, smallest))``.

    In memory, from :data:`ZERO_MIN_TERMS` on (the Bernoulli family's own,
    :data:`ZERO_MIN_TERMS_BERNOULLI`), the given point itself is tried first
    (:func:`_zero_step`, L2, the elastic net, and the unpenalised Bernoulli and categorical
    families); where it does not close, the step below is taken from the same pass 1.

    The Newton step needs ``C_SS``, the one product that grows with ``m^2`` (``n |S|^2``).
    Where it costs more than :data:`KRYLOV_MIN_PRODUCTS` products with the curvature as an
    operator (:data:`PRODUCT_COST`), and (in memory, dense) the products the iterations are
    expected to take fit in :data:`KRYLOV_SHARE` of it (:func:`_krylov_products`), it is
    formed from a row sample of :data:`CURVATURE_ROWS_PER_PARAM` rows per entry (in memory,
    dense: those of :data:`KRYLOV_SAMPLE_ROWS` that cost least, sample and iterations
    together; a fixed stride of all rows), scaled by
    the weights' ratio, and its factor preconditions conjugate gradients with the exact
    curvature (two products with ``X`` each, :func:`_sampled_step`) until every entry of the
    residual is within its own summation bound. That is sound whatever the sample: the point
    it gives is measured in pass 2, not trusted, and a sample's curvature is below the full
    one (``C = C_sample + the rest``, both positive semidefinite), so its smallest eigenvalue
    (:func:`factor`'s proved lower bound, of the unscaled sample) is a lower bound for the
    attainment proof. If the iterations would cost :data:`KRYLOV_SHARE` of the full curvature
    first, the full curvature is formed and the step taken again. ``newton`` (in memory, a
    :class:`_Deferred` table) receives ``mu~``.

    Tried and dropped (n = 1e4, unpenalised, best of 7, one thread): the sampled step alone,
    no iterations (the old rule, 400 rows per entry, a second round of both passes when it
    missed), was never taken at n = 1e4 (the sample was all rows); 2, 8 and 16 rows per entry
    took 6, 3 and 2 products at k = 10, m = 51 (4 rows: 4), 16, 5 and 4 at k = 3, m = 51,
    where the full curvature costs 5 products: left to the full curvature there.

    In memory, with a dense ``X``, ``C_SS`` (sample or full) is formed after pass 1 from the
    means it kept (:func:`_kept_curvature`), not inside it: the same terms; a sample that does
    not finish is followed by the full curvature without a second pass 1.

    Where ``S`` is whole categorical classes on one set of columns
    (:func:`_kronecker_layout`, no penalty) the iterations may instead be preconditioned by
    a Kronecker product of two small averages (:func:`_kronecker_solve`): where the sample
    cannot be taken (fewer than ``4 |S|`` rows) or is expected to
    cost more with its factor (:data:`KRONECKER_UNITS`); no ``C_SS`` is then formed, and the
    attainment proof's eigenvalue comes from :func:`_kronecker_smallest` (the sample's or
    the full curvature's when that falls short, :func:`_proved_smallest`).

    When ``S`` has more than :data:`DENSE_CORRECTION_MAX` entries (a large L1 active set, a
    wide design), ``C_SS`` is never formed: conjugate gradients solve ``C_SS a_S = t_S`` with
    the curvature as an operator (two products with ``X`` each) and its diagonal as
    preconditioner (:func:`_cg_step`, MINRES). The step is then inexact; its residual is measured in
    pass 2 like any other and paid for in the bound (:func:`_multiplier_bound`, the boxes'
    segment), so the bracket stays sound. No eigenvalue is known then: rank -1, condition NaN,
    and no attainment proof (the separation LP decides).
    """
    m, q = th.shape
    eq = _row_index(~pen_rows)
    cls, feat = np.divmod(sel, m)  # S's entries: class and row (class-major order)
    # in memory, pass 1 keeps mu (and a one-parameter family's curvature) for pass 2, and the
    # weights of the gradient's budget, which pass 2 multiplies by |X| together with its own
    # (:func:`_pass_two`; ``scratch``, allocated once the given point's attempt is decided,
    # below); class-major, as the runner hands Y to the blocks
    kept = {}
    scratch = False
    # the given logits' spread for the multiplier's bound (:func:`_logit_form`: an L2 part and
    # the intercept's row the one equality row)
    spread = bool(penalty.l2_lam > 0 and data.intercept
                  and int(np.count_nonzero(~pen_rows)) == 1)
    if newton is not None:
        kept["mean"] = np.empty((data.n, q), order="F")
        kept["curv"] = None if data.family.multiclass else np.empty((data.n, q), order="F")
        sparse = design.is_sparse(data.X)
        if sparse and 2 * q > XT_CHUNK_COLUMNS:
            # a sparse X (one block of all n rows) whose products go by column chunks anyway
            # (:func:`_xt`): no scratch; pass 1 reduces the gradient's budget and X^T W Y chunk
            # by chunk, pass 2 writes W |mu~ - Y| over the kept mean (:func:`_pass_one`)
            multi = data.family.multiclass
            kept["reduce"] = _Reduce(eq, lambda gb, cols: _kkt_budget(
                gb, th, pen_rows, penalty, multi, cols))
        else:
            scratch = True
    if newton is not None and sel.size > DENSE_CORRECTION_MAX:
        if scratch:
            kept["scratch"] = np.empty((data.n, 2 * q), order="F")
        one = _reduce_data_sums(run(_pass_one, th, data.family, sel[:0], peak, run.depth,
                                    eta_cap=_eta_cap(data, th), columns=run.columns,
                                    spread=spread, **kept), eq)
        t_S = _target(one, th, feat, cls, pen_rows, penalty)
        finite = _reduce_gradient(one, th, pen_rows, penalty, data.family.multiclass)
        # the residual allowed, a hundredth of what the tolerance allows: on an L1 box an
        # excess e shortens the segment to t = lam / (lam + e), which costs about (1 - t) of
        # the objective, so e <= tol lam; on the equality rows the bound charges multiplier
        # times residual, so that product <= tol |objective|
        objective = _objective_size(one)
        room = objective / max(float(multiplier(one).max(initial=0.0)), 1.0)
        if penalty.kind == "l1":
            room = min(room, penalty.lam)
        a_S = np.zeros(sel.size)
        if finite:
            a_S = _cg_step(data, th, sel, t_S, mask, CG_RESIDUAL * tol_hint * room)
        A = _step(a_S, feat, cls, q)
        two, resid_bound = _stepped_pass(run, one, th, A, data.family, margins,
                                         None if newton is None else newton(), tol_hint, kept)
        _add_budget(one, two)
        return one, two, A, resid_bound, (-1, float("nan"), 0.0), sel
    # the full curvature's cost in operator products (:data:`PRODUCT_COST`): where it is worth
    # several, C_SS is formed from a row sample and preconditions conjugate gradients
    products = _curvature_products(sel.size, m, q)
    if (newton is not None and not design.is_sparse(data.X)
            and data.X.nbytes > PRODUCT_CACHE_BYTES):
        products /= PRODUCT_SLOW
    # without a penalty (every entry of S on the equality rows), in memory, dense, several
    # columns and no sample: the curvature that proposes the step is formed in float32
    # (:data:`SINGLE_MIN_TERMS`); what is proved from C_SS comes from float64 sums, a row
    # sample's where the attainment proof is wanted (:func:`_proved_smallest`: with too few
    # rows for it the full float64 curvature would be formed as well)
    single = (newton is not None and not penalty.active
              and data.n * sel.size ** 2 >= SINGLE_MIN_TERMS and sel.size > 1
              and (not margins or data.n >= 2 * SINGLE_PROOF_ROWS * sel.size)
              and not design.is_sparse(data.X) and not bool(np.all(feat == feat[0])))
    sample = int(CURVATURE_ROWS_PER_PARAM * sel.size)
    krylov = newton is not None and products >= KRYLOV_MIN_PRODUCTS and data.n >= 2 * sample
    # a categorical S of whole classes on one set of columns (unpenalised): conjugate gradients
    # may be preconditioned by a Kronecker product instead of a sample's factor
    # (:func:`_kronecker_solve`; where the sample cannot be taken, or costs more), the
    # attainment proof's eigenvalue then from a Kronecker bound (:func:`_kronecker_smallest`),
    # the full curvature when either falls short
    layout = (_kronecker_layout(sel, m, q) if newton is not None and data.family.multiclass
              and products >= KRYLOV_MIN_PRODUCTS and not design.is_sparse(data.X) else None)
    kron = layout is not None

    def budget(sample):  # the products the sampled step may take (the full curvature's cost
        # less the sample's, a share of it: KRYLOV_SHARE)
        return int(KRYLOV_SHARE * products * (1 - sample / data.n))

    maxiter = budget(sample)
    # in memory, a dense design's C_SS is formed after pass 1 from the means it kept
    # (:func:`_kept_curvature`): the full curvature after a sample that did not finish needs no
    # second pass 1 (k = 10, m = 11, n = 1e4, tol 1e-4: 22 ms a certificate, 13 without it),
    # and the sample is taken only when the iterations it is expected to need fit in its
    # budget (:func:`_krylov_products`)
    # (only where the sample may be taken: elsewhere C_SS is formed in pass 1's blocks, whose
    # rows are at hand there; an L2 fit's one column of ten classes formed after the pass, over
    # all 1e5 rows at once, cost 30.1 -> 38.7 ms a certificate)
    post = (krylov or kron) and not design.is_sparse(data.X)
    # the given point itself first (:func:`_zero_step`), where it may close: pass 1 then
    # leaves C_SS to be formed after it, should the step be needed after all (from the kept
    # means, in the same row blocks: :func:`_pass_curvature`)
    bernoulli = type(data.family) is Bernoulli
    zero = (ZERO_STEP and newton is not None and scratch and mask is None
            and (penalty.kind in ("l2", "elasticnet")
                 or (margins and (bernoulli or type(data.family) is Categorical)))
            and zero_step_worth(data.n, m, q, sel.size, bernoulli, penalty.active))
    # the given point's sums come from pass 1 itself (:func:`_point_of_pass_one`), which
    # then forms the gradient's budget itself: no (n, 2 q) scratch is kept for pass 2
    # (:func:`_pass_one`)
    point = zero and (bernoulli or type(data.family) is Categorical)
    if scratch and not point:
        kept["scratch"] = np.empty((data.n, 2 * q), order="F")
    eligible, single = single, single and not krylov and not kron
    operator32 = False

    def first_pass(sample, attempt=False):
        # (after pass 1, C_SS is formed from the means it kept: not in the pass; nor in the
        # zero step's attempt, which may need none)
        extra = ({"curvature": False} if post or attempt and margins else {"curvature": "single"}
                 if single else {"sample": sample})
        if attempt and point:  # (the given point's pass 2 formed in pass 1: _zero_step)
            extra["point"] = True
        one = _reduce_data_sums(run(_pass_one, th, data.family, sel, peak, run.depth,
                                    eta_cap=_eta_cap(data, th), columns=run.columns,
                                    spread=spread, **extra, **kept), eq)
        t_S = _target(one, th, feat, cls, pen_rows, penalty)
        if attempt:  # (the point's own residual, -R: the same sums, negated exactly)
            one.zero_resid = np.negative(one.R)
        # the penalised problem's step, its entries and target from R before the reduction
        # drops it (:func:`_penalised_target`), where it is wanted; after the given point's
        # attempt only where that fails, from a copy of R (n = 100, two classes, L2: two
        # targets of some 20 us each spared where the point's own bracket closes)
        one.R_kept = one.R.copy() if attempt and penalised else None
        if not (attempt and penalised):
            penalised_targets(one)
        return one, t_S, _reduce_gradient(one, th, pen_rows, penalty, data.family.multiclass)

    def penalised_targets(one):
        """``one.penalised`` (the penalised problem's step, :func:`_penalised_target`) and
        ``one.penalised_reserve`` (the same step in reserve, should the intercept's step open
        the slack, below), from pass 1's ``R``."""
        one.penalised = (_penalised_target(data, one, th, pen_rows, penalty, tol_hint)
                         if penalised else None)
        one.penalised_reserve = (_penalised_target(data, one, th, pen_rows, penalty, tol_hint,
                                                   force=True)
                                 if penalised and one.penalised is None and newton is not None
                                 else None)

    # the penalised problem's step (:func:`_penalised_step`), decided from pass 1's R
    penalised = (PENALISED_STEP and mask is None and penalty.kind in ("l2", "elasticnet"))
    reuse = None  # pass 1 of the zero step's attempt (or the penalised step's), for the step's
    if zero or penalised:
        reuse = first_pass(None, attempt=zero)
        if zero and reuse[2]:
            # (a larger row sample for its eigenvalue bound costs at most one product,
            # ZERO_SAMPLE_ROWS: the step's pass 2 alone costs more)
            grow = int(data.n * min(ZERO_SAMPLE_ROWS, 1.0 / max(products, 1.0)))
            found = _zero_step(run, data, th, reuse[0], sel, pen_rows, penalty, tol_hint,
                               kept, newton, multiplier, margins, settle, grow)
            if found is not None:
                reuse[0].R_kept = None
                return found + (sel,)
        reuse[0].zero_resid = None
        if reuse[0].R_kept is not None:  # (the targets the attempt put off, from R's copy)
            reuse[0].R, reuse[0].R_kept = reuse[0].R_kept, None
            penalised_targets(reuse[0])
            reuse[0].R = None
        for key in POINT_FIELDS:  # (pass 2 forms the step's own)
            reuse[0].__dict__.pop(key, None)
        step, reuse[0].penalised = reuse[0].penalised, None
        if step is not None and reuse[2]:
            found = _penalised_step(run, data, th, reuse[0], *step, pen_rows, penalty, kept,
                                    newton, margins, multiplier, tol_hint)
            if found is not None:
                return found
    if post:
        (one, t_S, finite), reuse = reuse or first_pass(None), None
        decades = _krylov_decades(data, kept, sel, t_S, sample if krylov else data.n)
        cost = float("inf")  # the sample's, in products (sample and iterations)
        if krylov:  # the sample's size, and whether to take it (:func:`_krylov_products`)
            units = q - 1 if data.family.multiclass else 1
            cost, rows = min(((products * r * sel.size / data.n
                               + _krylov_products(decades, r * units), r)
                              for r in KRYLOV_SAMPLE_ROWS if 2 * r * sel.size <= data.n),
                             default=(0.0, CURVATURE_ROWS_PER_PARAM))
            sample = rows * sel.size
            maxiter = budget(sample)
            krylov = _krylov_products(decades, rows * units) <= maxiter
            if not krylov:
                cost = float("inf")
        if kron:  # the Kronecker preconditioner where it is expected to cost less than the
            # sample and its factor (two Choleskys of |S|^3 / 3 against the curvature's n |S|^2
            # / 2: 4 |S| / (3 n) of the full curvature's products)
            expected = _krylov_products(decades, KRONECKER_UNITS)
            kron = (expected <= budget(0)
                    and expected < cost + products * 4.0 * sel.size / (3.0 * data.n))
            if kron:
                krylov, maxiter = False, budget(0)
        # (dense here: post) the iterations' products in float32, a proposal
        # (:data:`SINGLE_KRYLOV_DECADES`)
        operator32 = (krylov and not penalty.active and data.X.nbytes > PRODUCT_CACHE_BYTES
                      and decades <= SINGLE_KRYLOV_DECADES)
        # neither taken: the full curvature, which proposes the step in float32 where it would
        # have without the sample in view (:data:`SINGLE_MIN_TERMS`), formed from the kept
        # means. Measured at n = 1e4, m = 51, three classes, unpenalised (one thread, best of
        # 15, interleaved), where the iterations' expected products exceed their budget: the
        # float64 curvature had been formed, 4.5 ms of an 8.5 ms certificate
        single = eligible and not krylov and not kron

    def kronecker_step():
        """``(a_S, smallest)`` by the Kronecker-preconditioned iterations, or None."""
        a_S, done = _sampled_step(data, th, sel, t_S, mask, kept,
                                  _kronecker_solve(data, kept, layout), maxiter)
        return (a_S, 0.0) if done else None

    kron_taken = False
    while True:  # (a second time only when a float32 proposal is rejected, below)
        for sample_rows in ((sample, None) if krylov else ("kron", None) if kron
                            else (None,)):
            if sample_rows == "kron":  # no curvature formed: rank and condition unknown
                step = kronecker_step() if finite else None
                if step is None:
                    continue
                (a_S, smallest), rank, condition = step, -1, float("nan")
                kron_taken = True
                break
            if not post and reuse is not None:  # the zero step's pass 1 (without a penalty its
                # C_SS formed after it; a penalised one's in it, unless a sample is wanted)
                (one, t_S, finite), reuse = reuse, None
                if margins or sample_rows is not None:
                    cs = run(_pass_curvature, sel, m, data.family.multiclass,
                             single and sample_rows is None, sample=sample_rows,
                             mean=kept["mean"], curv=kept["curv"])
                    one.C, one.w_curvature = cs.C, cs.w_curvature
            elif not post:
                reuse = None
                one = two = None  # (a second round's passes do not overlap the first's)
                one, t_S, finite = first_pass(sample_rows)
            if post:
                one.C, one.w_curvature = _kept_curvature(data, kept, sel, sample_rows,
                                                         single and sample_rows is None)
            if single and not np.all(np.isfinite(one.C)):  # (float32 overflowed): float64's
                one.C, single = _kept_curvature(data, kept, sel, None)[0], False
            ratio = one.w_total / one.w_curvature if one.w_curvature > 0 else 1.0
            if np.all(np.isfinite(one.C)) and finite:
                if single:  # a proposal: its eigenvalue bound is not used (after pass 2)
                    solve, rank, condition, _ = factor(one.C, 0, SINGLE_RANK_RTOL, 0,
                                                       bound=False)
                    smallest = 0.0
                else:
                    # (the eigenvalue bound only where the attainment proof reads it)
                    solve, rank, condition, smallest = factor(ratio * one.C, data.n,
                                                              bound=margins)
                    # the sample's: a lower bound of the full curvature's
                    smallest = _Smallest.divided(smallest, ratio)
                if sample_rows is None:
                    a_S, operator32 = solve(t_S), False
                else:
                    a_S, done = _sampled_step(data, th, sel, t_S, mask, kept, solve, maxiter,
                                              operator32)
                    if not done and operator32:  # (float32's did not finish): float64's
                        operator32 = False
                        a_S, done = _sampled_step(data, th, sel, t_S, mask, kept, solve,
                                                  maxiter)
                    if not done or rank == 0:  # the full curvature instead
                        continue
            else:  # theta so large that the curvature overflows: no step; the segment decides
                a_S, rank, condition, smallest = np.zeros(sel.size), 0, float("inf"), 0.0
                single = operator32 = False
            break
        A = _step(a_S, feat, cls, q)
        two, resid_bound = _stepped_pass(run, one, th, A, data.family, margins,
                                         None if newton is None else newton(), tol_hint, kept)
        if operator32 and not _proposal_closes(one, two, resid_bound, _row_index(~pen_rows),
                                               multiplier(one), tol_hint):
            # the float32 iterations' step fell short: the float64 ones', pass 2 again (the
            # same rounds, so the same numbers as if float32 had never been tried)
            operator32, two = False, None
            continue
        break
    reserve = getattr(one, "penalised_reserve", None)
    one.penalised_reserve = None
    if reserve is not None and not _slack_excess(
            np.negative(two.resid), th, pen_rows, penalty) <= tol_hint * _penalised_scale(
                one, th, pen_rows, penalty):
        # the intercept's step moved the penalised rows' slack, which the given point kept
        # small, beyond the tolerance: a feature nearly a multiple of the intercept (entries
        # near 1e6 of spread 2e3, three classes, C = 100) moves by a million times the
        # intercept's residual, and a converged fit was bracketed within 5.8 nats. The
        # penalised problem's step (:func:`_penalised_step`), from pass 1's sums and kept means,
        # moves both together
        found = _penalised_step(run, data, th, one, *reserve, pen_rows, penalty, kept,
                                newton, margins, multiplier, tol_hint)
        if found is not None:
            return found
        if newton is not None:
            # declined, its pass 2 had written its own point over the intercept step's in the
            # shared table: that point again, or the bracket paired the intercept step's sums
            # with the other point's means (a lower bound 1.15 nats above the optimum, OK,
            # three classes, a feature near 1e6, L2)
            two, resid_bound = _stepped_pass(run, one, th, A, data.family, margins, newton(),
                                             tol_hint, kept)
    if kron_taken and margins:  # the attainment proof's eigenvalue (Kronecker step)
        smallest = _proved_smallest(data, kept, sel, _step_reach(one, _residual_on_S(
            two, resid_bound, feat, cls)) / MARGIN_FRACTION, layout)[0]
    if single:
        eqr = _row_index(~pen_rows)
        if not _proposal_closes(one, two, resid_bound, eqr, multiplier(one), tol_hint):
            # the float32 step fell short: the step of the float64 curvature, pass 2 again
            solve, rank, condition, smallest = factor(
                _kept_curvature(data, kept, sel, None)[0], data.n, bound=margins)
            A = _step(solve(t_S), feat, cls, q)
            two, resid_bound = _stepped_pass(run, one, th, A, data.family, margins, newton(),
                                             tol_hint, kept)
        elif margins:  # the attainment proof's eigenvalue bound, from float64 sums
            smallest = _proved_smallest(data, kept, sel, _step_reach(
                one, _residual_on_S(two, resid_bound, feat, cls)) / MARGIN_FRACTION)[0]
    _add_budget(one, two)
    return one, two, A, resid_bound, (rank, condition, smallest), sel


def _step_reach(one, r_S) -> float:
    """``2 max_j ||x_j|| ||r_S||``: the attainment proof's ``second_step`` times
    ``lambda_min(C_SS)`` (module docstring), ``r_S`` from :func:`_residual_on_S`."""
    return 2.0 * one.x_norm * float(np.linalg.norm(r_S))


def _residual_on_S(two, resid_bound, feat, cls) -> np.ndarray:
    """``|r_S|``: the point's residual on the entries of ``S`` (class-major, as ``sel``) as
    computed plus its rounding bound, at least the exact residual's size entry by entry."""
    return np.abs(two.resid[feat, cls]) + resid_bound[feat, cls]


def _proposal_closes(one, two, rb, eqr, multiplier, tol_hint) -> bool:
    """Whether the point of a step from the float32 curvature (:data:`SINGLE_MIN_TERMS`)
    is as good as the float64 step's for the bracket: ``mu~`` in the domain, and its balance
    residual ``r`` on the equality rows charged (``multiplier |r|``, :func:`_bracket`) and
    sized no more than its own rounding bound ``rb`` is, or than :data:`CG_RESIDUAL` times the
    tolerance allows (the criterion of the conjugate gradients' step, :func:`_newton_step`).
    It decides only which point is measured; either point's bracket is proved."""
    return two.t_max >= 1.0 and _small_residual(one, two.resid[eqr], rb[eqr], multiplier,
                                                tol_hint)


def _small_residual(one, r, b, multiplier, tol_hint, share: float = CG_RESIDUAL) -> bool:
    """:func:`_proposal_closes`'s test of a point's residual ``r`` on the equality rows (and
    of its rounding bound ``b``): its charge within ``share`` of the tolerance (of the
    objective; its largest entry of ``scale``); also :func:`_zero_step`'s, with its own
    share."""
    r = np.abs(r)
    if not (np.isfinite(r).all() and np.isfinite(b).all()):
        return False
    charged = float(np.where(r > 0, multiplier * r, 0.0).sum())
    rounding = float(np.where(b > 0, multiplier * b, 0.0).sum())
    allowed = share * tol_hint
    return (charged <= max(rounding, allowed * _objective_size(one))
            and float(r.max(initial=0.0)) <= max(float(b.max(initial=0.0)),
                                                 allowed * one.scale))


#: Whether the given point itself is tried before the Newton step (:func:`_zero_step`); the
#: tests of the step's own paths turn it off.
ZERO_STEP = True
#: The share of the tolerance the given point's first-order charge may take for its bracket
#: to be the certificate's (:func:`_zero_step`); :data:`ZERO_STEP_ROOM` is its second-order
#: charge's, and the rest is left to the rounding and the budget's other terms, so the point's
#: own bracket stays within six tenths of the tolerance, proved either way. Only the choice
#: between two proved brackets rests on these shares. A hundredth, the step's own proposals'
#: (:data:`CG_RESIDUAL`), took the step at every fit to ``tol = 1e-8`` (n = 1e4, two classes,
#: 50 features, unpenalised: 4.8e-5 nats charged against 4.3e-5 allowed, the step costing 3.8
#: ms against 1.9 for the rest of the certificate); a tenth still took it at every fit to
#: ``tol = 1e-4`` of 24 (n = 1e4 and 1e5; two, three and ten classes; ten and 50 features;
#: unpenalised and L2), where the step and its curvature cost 20 to 70 % of the fit. With
#: four tenths and a tenth and the sample's growth (:data:`ZERO_SAMPLE_ROWS`),
#: ``MaxEntClassifier(tol=1e-4).fit`` (one thread, best of 5): n = 1e4, two classes, ten
#: features 3.8 -> 3.2 ms, 50 features 8.3 -> 6.0; n = 1e5, two classes, ten features 24.4 ->
#: 17.8; three classes, ten features 72.9 -> 57.6, 50 features 182.8 -> 145.0; the 19 others
#: within the spread (their points charged more: the solver's stop at a relative gradient near
#: the tolerance, or an L2 fit's intercept charged through its multiplier's bound). Half, not
#: four tenths: n = 1e6, three classes, 50 features, unpenalised, its point charged 32.8 nats
#: against 29.6 allowed, 2.39 -> 1.53 s (best of 2); the 24 fits above unchanged.
ZERO_STEP_SHARE = 0.5
#: ... and the share its second-order charge may take (:func:`_zero_step`); a hundredth
#: refused n = 1e5, three classes, 50 features at ``tol = 1e-4`` (the sample's eigenvalue
#: bound 8.6 against 23 needed).
ZERO_STEP_ROOM = 0.1
#: The largest row sample, as a share of the rows, whose curvature the zero step's eigenvalue
#: bound may take after the first (:data:`SINGLE_PROOF_ROWS` rows an entry) falls short
#: (:func:`_proved_smallest`): a sample's smallest eigenvalue grows about as its rows, so
#: twice the rows the shortfall asks for, within this share and within one product's cost
#: (``n / products`` rows, :func:`_curvature_products`), less than the step's pass 2 alone. A
#: quarter of the rows without the second cap cost more than the step where that takes a
#: sample of its own: n = 1e5, ten classes, 50 features, tol 1e-4, 266 -> 460 ms a
#: certificate.
ZERO_SAMPLE_ROWS = 0.25

#: ... where the step would cost at least this many multiply-adds, ``n (m q + |S|^2)`` (pass 2's
#: products with ``X`` and ``C_SS``): below, both paths cost a few Python calls more than their
#: arithmetic, and the attempt's own calls were 3 to 14 % of a certificate. Measured (``certify``
#: at the fits' theta, one thread, 10th percentile of 200 interleaved, zero step / step): two
#: classes, ten features, n = 1e3 1.14 (1.3e5 terms), 3e3 1.03 (4.0e5), 1e4 0.86 (1.3e6); three
#: classes, ten features, 1e3 1.04 (5.2e5), 1e4 0.66 (5.2e6), with L2 1e4 0.93 (3.7e5); two
#: classes, 50 features, 1e3 0.96 (2.6e6), 3e3 0.74 (8.0e6).
ZERO_MIN_TERMS = 6e5
#: ... for the Bernoulli family, whose point's sums pass 1 forms itself (no pass 2,
#: :func:`_point_of_pass_one`): unpenalised from this many, penalised always. Measured as
#: above, after that change: unpenalised n = 1e3, three features 1.07 (2e4 terms), ten 1.03
#: (1.3e5), 2e3 and ten 0.97 (2.6e5), 1e3 and thirty 0.90 (9.9e5), 3e3 and ten 0.93, 1e4 0.90
#: (the attainment proof's eigenvalue costs the unpenalised attempt a few Python calls);
#: with L2 (no proof wanted) 0.99 to 1.00 at n = 1e2 and 3e2, 0.95 to 0.98 at 5e2 to 3e3, 0.89
#: at 1e4 and ten features, 0.83 at 3e4.
ZERO_MIN_TERMS_BERNOULLI = 2e5


def zero_step_worth(n: int, m: int, q: int, size: int, bernoulli: bool,
                    penalised: bool) -> bool:
    """Whether the step that the given point's own bracket would spare costs enough, ``n (m q +
    |S|^2)`` multiply-adds with ``|S| = size``, for the attempt (:func:`_zero_step`) to be made:
    from :data:`ZERO_MIN_TERMS`, :data:`ZERO_MIN_TERMS_BERNOULLI` for an unpenalised Bernoulli
    fit, always for a penalised one."""
    least = (ZERO_MIN_TERMS if not bernoulli else 0.0 if penalised
             else ZERO_MIN_TERMS_BERNOULLI)
    return n * (m * q + float(size) ** 2) >= least

#: The zero step (:func:`_zero_step`) is not taken for a Bernoulli point with a mean nearer than
#: this to 0 or 1, and a point's sums are not taken from pass 1 (:func:`_point_of_pass_one`)
#: with a mean or probability nearer than this to 0 or 1: from there on the computed variances
#: ``A''`` are within a factor ``1 + 2^-10`` of the point's own ``mu (1 - mu)`` (a mean's
#: rounding, a few ``u mu``, is then at most ``2^-11`` of ``1 - mu``), which the factor 2 of its
#: second-order charge absorbs.
ZERO_MIN_ENTRY = 2.0 ** -40


def _zero_step(run, data, th, one, sel, pen_rows, penalty, tol_hint, kept, newton, multiplier,
               margins, settle=None, grow: int = 0):
    """``(one, two, A, resid_bound, (rank, condition, smallest))`` at the given point itself,
    ``mu~ = mu(theta)`` with no step, or None where its bracket would not close.

    Near an optimum the Newton step buys almost nothing: the residual ``r = X^T W (mu - Y)``
    of ``mu`` itself is the gradient, already far below the tolerance, while the step's
    curvature (the one product that grows with ``|S|^2``) and pass 2's products with ``X``
    cost more than pass 1. So after pass 1 (its ``C_SS`` left unformed) the point ``mu`` that
    pass 1 kept is taken as it is where its bracket closes within :data:`ZERO_STEP_SHARE` of
    the tolerance (:func:`_small_residual`, the test of :func:`_proposal_closes` with that
    share, fifty times a step's proposal's): its residual is ``-R``,
    pass 1's sums negated (exactly); its entropy, domain and the product with ``|X|`` that
    bounds the residual's rounding (and gives the gradient's budget) come from one pass
    without a product with ``X`` (:func:`_pass_two` without ``A``). Where it does not close
    the step is taken after all, from pass 1's sums and kept means (``C_SS`` formed from them
    in the same blocks, :func:`_pass_curvature`): the same numbers as without the attempt.

    With a penalty (L2, the elastic net) nothing else changes: the equality rows are charged
    with the proved multiplier bound, as at any point, the one the point's own bracket proves
    (``settle``, :func:`_refined_radius`: its excess at ``mu~`` bounds ``f* - f(theta)``)
    where there are such rows; the first bound, through the whole objective, is hundreds of
    times larger and refused the step on fits that met the solver's default tolerance (n =
    1e5, two classes, ten features: the certificate 7.1 -> 4.8 ms).

    Without a penalty (Bernoulli and categorical families) the given theta stands in for
    ``theta*`` to first order, and ``r`` is the gradient, not the rounding level a dense step
    leaves, so the second-order term is proved and charged. Let ``R`` be the norm of ``|r_S| +
    b_S`` on the free entries (``b`` the rounding bound), ``lambda`` a proved lower bound of the
    smallest eigenvalue of the curvature ``C_SS`` of the computed means
    (:func:`_proved_smallest`: a row sample's, or the full one's where no sample can be taken)
    and ``rho`` the rows' largest norm. The point ``mu' = mu + J a`` with ``C_SS a = -r_S``
    (``J`` the derivative of the mean map at ``mu``, the one ``C_SS`` is formed from) meets the
    balance equations exactly; ``|a| <= R / lambda``, so each row's logits move by at most ``2
    rho |a|`` (one-parameter family: ``rho |a|``) and each mean by at most ``second_step = 2 rho
    R / lambda`` of itself (and of ``1 - mu``). The step is taken only where ``second_step <
    MARGIN_FRACTION = 1/2`` (the attainment proof's condition): on the segment to ``mu'`` every
    entry stays above half its value, so the entropy's curvature ``w / mu`` (Bernoulli: ``w /
    (mu (1 - mu))``) is at most twice (four times) its value at ``mu``, and

        ``H(mu') >= H(mu) + <grad H(mu), J a> - c a^T C_SS a``,   ``c = 1`` (2 for Bernoulli),

    with ``a^T C_SS a = r_S^T C_SS^-1 r_S <= R^2 / lambda``: ``4 R^2 / lambda`` is charged, the
    factor 2 over ``c`` covering the computed curvature's distance from the point's own (a
    few ``u`` relative; for the Bernoulli family every mean at least :data:`ZERO_MIN_ENTRY` from
    0 and 1 is required). ``grad H(mu)`` is minus the point's own logits; ``<X theta, W J a> =
    -<theta, r_S>`` is the first-order charge already made, and the logits differ from ``X
    theta`` by their error ``e_j`` (pass 1's bound, at its largest) and the means' rounding,
    which moves a Bernoulli logit by at most ``4 u / (mu (1 - mu))``, a categorical log-ratio
    by ``2 g`` (``g = gamma(2 k + 16)``, the computed probabilities' relative error). With
    ``|(J a)_j|_1 <= 2 rho |a| (1 + g)`` (Bernoulli: ``A'' rho |a| <= rho |a| / 4``) that
    difference costs at most ``rho |a| sum_j w_j c_j``, ``c_j = e_j / 4 + 16 u`` (Bernoulli) or
    ``(1 + g) (2 (2 e_j + 2.02 g) + (1 + |log P_jk|) g)`` (categorical; the last term the rows'
    sums' distance from 1, at most ``g``, times the gradient's constant and the pinned class's
    logarithm, ``P_jk`` its smallest probability), doubled as above. ``mu'``'s rows are within
    ``1 + second_step`` of ``mu``'s distance from the simplex, so the simplex term is charged
    twice. Both charges go into ``roundoff`` with the first-order one, and ``lambda`` is sought
    large enough that they stay within :data:`ZERO_STEP_ROOM` times the tolerance of the
    objective (a larger row sample tried where the first falls short,
    :func:`_proved_smallest`), else the step is taken.

    Measured (``certify`` at the solver's default theta, one thread, best of 20, CPU time;
    before -> after): n = 1e5, 50 features, unpenalised, two classes 30.3 -> 16.8 ms, three
    38.4 ...
    """
    n = data.n
    m, q = th.shape
    fam = data.family
    cls, feat = np.divmod(sel, m)
    resid = one.zero_resid
    one.zero_resid = None
    eqr = _row_index(~pen_rows)
    # first without the residual's rounding bound, before the pass that forms it; where the
    # multiplier's bound is refined by the point's own bracket (``settle``, below), its size
    # alone (the first bound, through the whole objective, is far looser than the one that
    # bracket proves: n = 1e5, two classes, ten features, L2, the intercept's 1915 against 2)
    if not _small_residual(one, resid[eqr], np.zeros(resid[eqr].shape),
                           0.0 if settle is not None else multiplier(one), tol_hint,
                           ZERO_STEP_SHARE):
        return None
    room = ZERO_STEP_ROOM * tol_hint * _objective_size(one)

    def second_order(rb):
        """``(coefficient, enough)``: the second-order charge is ``coefficient / lambda``,
        and ``lambda`` must exceed ``enough`` (docstring)."""
        r_S = np.abs(resid[feat, cls]) + (0.0 if rb is None else rb[feat, cls])
        R = float(np.linalg.norm(r_S)) * (1.0 + gamma(sel.size + 2))
        rho = one.x_norm * (1.0 + gamma(m + 2))
        e = one.e_max  # the logits' largest error bound, pass 1's own
        if fam.multiclass:
            g = gamma(2 * q + 16)
            c = (1.0 + g) * (2.0 * (2.0 * e + 2.02 * g) + (1.0 - np.log(pinned)) * g)
        else:
            c = e / 4.0 + 16.0 * U
        # 4 R^2 and twice rho R sum_j w_j c_j, over lambda (docstring)
        coefficient = 4.0 * R * R + 2.0 * rho * R * one.w_total * (1.0 + gamma(n)) * c
        return coefficient, max(2.0 * rho * R / MARGIN_FRACTION, coefficient / room)

    if margins:  # lambda, large enough for the second-order charge and the proof
        # (the pinned class's smallest probability, for the categorical charge)
        pinned = float(kept["mean"][:, q - 1].min(initial=1.0)) if fam.multiclass else 1.0
        if not pinned > 0:
            return None
        p = sel.size
        # the row sample's bound (:func:`_proved_smallest`), or the full curvature's where no
        # sample can be taken (a few rows); the Kronecker bound first (the rank and condition
        # then unknown) where it costs less than the sample (n m^2 against SINGLE_PROOF_ROWS
        # p^3 multiply-adds) or, on a few rows, than the full curvature by (k - 1)^2 >= 4
        # (from three classes: n = 1e3, 50 features, the certificate 1.62 -> 1.17 ms; it was
        # 9 before, as the step's own choice is, :func:`_newton_step`)
        small = 2 * SINGLE_PROOF_ROWS * p > n
        layout = (_kronecker_layout(sel, m, q) if fam.multiclass
                  and not design.is_sparse(data.X) and (
                      p >= 2 * m if small else n * m * m < SINGLE_PROOF_ROWS * p ** 3)
                  else None)
        low, rank, condition = _proved_smallest(data, kept, sel, second_order(None)[1], layout,
                                                full=small, grow=grow)
    # the point's sums from the kept means, and the product with |X| of pass 2 (the
    # residual's rounding bound, the gradient's budget): no product with X; a Bernoulli or
    # categorical point's from pass 1 itself, where its means keep away from 0 (and 1)
    two = _point_of_pass_one(one, margins)
    if two is None:
        two = run(_pass_two, th, None, fam, margins, columns=run.columns, **kept)
    rb = _resid_bound(two, run.depth)
    if not two.t_max >= 1.0:
        return None
    bound = multiplier(one)
    if settle is not None and not _small_residual(one, resid[eqr], rb[eqr], bound, tol_hint,
                                                  ZERO_STEP_SHARE):
        # the smaller multiplier bound the point's own bracket proves (at t = 1, as
        # :func:`_lower_point` takes it), for this decision alone (the bracket proves its own
        # again)
        charge = float(_relaxation([1.0], resid, pen_rows, penalty)[0])
        bound = settle(one, resid, rb, two.entropy - charge, charge, two.magnitude,
                       two.simplex_term, getattr(two, "fenchel", 0.0), keep=False)[1]
    if not _small_residual(one, resid[eqr], rb[eqr], bound, tol_hint, ZERO_STEP_SHARE):
        return None
    if not _small_residual(one, resid[eqr], np.zeros(rb[eqr].shape), bound, tol_hint,
                           ZERO_STEP_SHARE) and _sharpen_sums(
            data, kept["mean"], resid, rb, pen_rows, bound, penalty, eq_only=True) \
            and not _small_residual(one, resid[eqr], rb[eqr], bound, tol_hint, ZERO_STEP_SHARE):
        # the point passed on the summation bound alone (its residual no larger than the
        # pass's rounding could make it): judged again against its rows summed accurately
        # (:func:`_accurate_sums`), a real residual hid there, and the step removes it
        return None
    second = 0.0
    if margins:
        coefficient, enough = second_order(rb)
        if not (low > enough and two.relative_margin >= MARGIN_FRACTION and (
                type(fam) is not Bernoulli or two.min_entry >= ZERO_MIN_ENTRY)):
            return None
        # mu''s rows are within twice mu's distance from the simplex: its term charged twice
        second = coefficient / low + two.simplex_term + getattr(two, "fenchel", 0.0)
        solve = (rank, condition, low)
    else:  # a penalised fit's few entries of S: the rank and condition of their C_SS, which
        # pass 1 formed
        solve = ((0, float("nan"), 0.0) if not sel.size or not np.all(np.isfinite(one.C))
                 else factor(one.C, n, bound=False)[1:3] + (0.0,))
        second = getattr(two, "fenchel", 0.0)
    _add_budget(one, two)
    two.resid = resid
    two.second_order = second
    # the point of the lower bound: mu itself (the gaussian and Poisson one centred, mu - Y)
    newton.value = (kept["mean"] if data.family.is_probability
                    else kept["mean"] - data.Y.reshape(data.n, 1))
    return one, two, _step(np.zeros(sel.size), feat, cls, q), rb, solve


#: The fields :func:`_pass_one` adds for the given point itself (``point``).
POINT_FIELDS = ("pt_entropy", "pt_magnitude", "pt_min_entry", "pt_resid_abs", "pt_simplex",
                "pt_simplex_term", "pt_fenchel")


def _categorical_point(P, eta, lse, wb) -> dict:
    """The categorical point ``mu(theta) = P``'s sums of pass 2 (:func:`_point_sums`) on one
    block of pass 1, by Fenchel's equality: no logarithm (:func:`_point_of_pass_one`).

    ``P`` (b, k) the computed probabilities, ``eta`` (b, k) the computed logits they were formed
    from, ``lse`` (b,) the computed ``logsumexp(eta)``. With ``L = logsumexp(eta)`` exactly and
    ``p = exp(eta - L)`` (exactly on the simplex), ``sum_c P_c log P_c = <P, eta> - L S + K``,
    ``S = sum_c P_c`` and ``K = sum_c P_c log(P_c / p_c)``: an identity. So the row's entropy
    ``-A*(P)`` is ``F = lse S - <P, eta>`` up to ``|lse - L| S + |K|`` and the rounding of
    ``F``. Where every entry of ``P`` is at least :data:`ZERO_MIN_ENTRY` (a normal number, as
    :func:`_point_of_pass_one` requires; pass 2 takes the row otherwise), ``P_c = p_c exp(d_c)
    (1 + r_c)`` with ``|d_c| <= u |eta_c - top|`` (the subtraction of the row's largest logit
    ``top``, which the exponential sees) and ``|r_c| <= gamma(2 k + 16)``, the module's bound of
    the probabilities' relative error; so ``|K| <= S (2 u |eta|_inf + gamma(2 k + 16) (1 + u))``.
    ``lse = fl(log(s) + top)``, ``s`` the sum of the exponentials, each within ``u (1 + |eta_c -
    top|)`` of ``exp(eta_c - top)`` relative, which is at most 1 (``x e^-x <= 1 / e``): ``|s~ /
    s - 1| <= gamma(2 k + 2)`` (the sum of ``k`` terms, ``s >= 1``), and the logarithm and the
    sum with ``top`` add ``u (|lse| + log k)``. ``<P, eta>`` and ``lse S`` are within
    ``gamma(k + 2)`` of ``S (|eta|_inf + |lse|)``. Charged per row (``fenchel``), with room:
    ``c_j = gamma(3 k + 16) S (2 + |lse| + 2 |eta|_inf)``, weighted and summed; the sum over
    the rows is the ``(gamma(n) + 8 u) magnitude`` every point's sums are charged, with
    ``magnitude = sum_j w_j (|lse| S + <P, |eta|> + 2 S)``. The rows' distance from the simplex,
    ``|S - 1|``, and its first-order term ``sum_j w_j |S - 1| (1 + |A*(P_j)|)`` are pass 2's,
    with ``|A*(P_j)| <= |F| + c_j``.

    Measured (``certify`` at the solver's default theta, unpenalised unless said, one BLAS
    thread, both versions in one process, interleaved, 20th percentile; pass 2 before -> pass
    1): n = 1e5, three classes, ten features 9.67 -> 8.80 ms, 50 features with L2 22.8 ->
    21.4, ten classes and ten features 26.8 -> 24.5; n = 1e6, three classes 106 -> 101, ten
    classes 287 -> 263; n = 1e4 within the spread (three classes 2.37 -> 2.47, ten 6.41 ->
    6.26). Pass 2 had taken a third of these certificates, but most of it was its product with
    ``|X|``, which pass 1 now forms.
    """
    k = P.shape[1]
    S = _rows(P)
    PE = np.multiply(P, eta)
    F = np.multiply(lse, S)
    F -= _rows(PE)  # the row's entropy, -A*(P)
    np.abs(PE, out=PE)
    top = _rowmax(np.abs(eta))  # |eta|_inf
    c = np.abs(lse)
    magnitude = float(wb @ (c * S + _rows(PE) + 2.0 * S))
    del PE
    c += 2.0
    c += 2.0 * top
    c *= gamma(3 * k + 16) * S
    off = np.abs(S - 1.0)
    pos = wb > 0
    live = P if pos.all() else P[pos]
    bound = np.abs(F)
    bound += 1.0
    bound += c
    return dict(pt_entropy=float(wb @ F), pt_magnitude=magnitude,
                pt_min_entry=float(live.min(initial=1.0)),
                pt_simplex=float((off if pos.all() else off[pos]).max(initial=0.0)),
                pt_simplex_term=float(wb @ (off * bound)), pt_fenchel=float(wb @ c))


def _point_of_pass_one(one: _Sums, margins: bool) -> _Sums | None:
    """Pass 2's sums at the given point ``mu~ = mu(theta)`` (Bernoulli, categorical) from pass
    1's own (``point``, :func:`_pass_one`), or None where pass 1 formed none or a mean is nearer
    than :data:`ZERO_MIN_ENTRY` to 0 or 1 (pass 2 then forms them from the kept means). The
    categorical family's sums and charges are :func:`_categorical_point`'s; the Bernoulli
    family's follow.

    The entropy of ``mu~`` without a logarithm. For any ``eta``, Fenchel-Young gives
    ``A*(mu~) = mu~ eta - A(eta) + D``, ``D = A(eta) - A(eta') - mu~ (eta - eta') >= 0`` the
    Bregman divergence from ``eta' = logit(mu~)``, whose derivative ``A'(eta')`` is ``mu~``.
    Pass 1 has ``eta``, ``A(eta)`` and ``mu~`` (computed from that very ``eta``), so
    ``H(mu~) = sum_j w_j (A(eta_j) - mu~_j eta_j) - sum_j w_j D_j``, and ``D_j`` is
    second order in the mean's rounding: with ``|mu~ - A'(eta)| <= 4 u mu~`` (the budget's
    assumption, :func:`_pass_one`) and ``s = min(mu~, 1 - mu~) >= 2^-40``, the logit moves
    by ``|eta' - eta| <= 4 u / ((1 - mu) (1 - 2^-10))`` (the variance ``mu (1 - mu)`` within
    ``2^-10`` of itself on the way, :data:`ZERO_MIN_ENTRY`), and ``D_j <= A''/2 (eta' -
    eta)^2 <= 8.02 u^2 / s`` (``A''`` at most ``mu (1 - mu) (1 + 2^-10)`` there). Charged:
    ``fenchel = 64 u^2 W / s``, ``W`` the weights' sum (eight times the bound: a mean's error up
    to ``11 u`` is covered), a term far below the sums' own rounding (summed over pass 1's
    blocks, each with its own ``W`` and ``s``: a row's ``s`` is at least its block's). That
    rounding (``A`` within ``8 u`` of itself, the products and the two sums of ``n`` terms) is
    the ``(gamma(n) + 8 u) magnitude`` the bracket charges any point, with ``magnitude = sum w
    (A + |mu~ eta| + 2 mu~)``.

    The product with ``|X|`` is pass 2's (the same weights, the same sums; the gradient's
    budget is pass 1's own, formed with it), and
    ``relative_margin`` is 1 (the point is ``mu`` itself), NaN without ``margins`` (as pass 2
    leaves it for a penalised fit).
    """
    if getattr(one, "pt_entropy", None) is None or not (
            one.pt_min_entry >= ZERO_MIN_ENTRY and np.isfinite(one.pt_entropy)
            and np.isfinite(one.pt_magnitude)):  # (a zero-weight row's overflowed logit)
        return None
    fields = {key: one.__dict__.pop(key) for key in POINT_FIELDS}
    s = fields["pt_min_entry"]
    return _Sums(resid=0.0, resid_abs=fields["pt_resid_abs"], grad_budget=0.0,
                 t_max=1.0, min_entry=s,
                 relative_margin=1.0 if margins else float("nan"), entropy=fields["pt_entropy"],
                 magnitude=fields["pt_magnitude"], simplex_term=fields["pt_simplex_term"],
                 simplex=fields["pt_simplex"], fenchel=fields["pt_fenchel"])


def _proved_smallest(data, kept, sel, enough: float, layout=None, full: bool = True,
                     grow: int = 0):
    """A proved lower bound of ``lambda_min(C_SS)`` (the attainment proof's, :func:`_bracket`)
    where the step's curvature was formed in float32 (:data:`SINGLE_MIN_TERMS`) or not at all
    (the Kronecker-preconditioned step, ``layout`` its :func:`_kronecker_layout`): the first
    that exceeds ``enough`` of the Kronecker bound (:func:`_kronecker_smallest`, given
    ``layout``), that of a row sample's ``C_SS`` (:data:`SINGLE_PROOF_ROWS` rows per entry,
    float64, :func:`factor` with its rows' count) when it has full rank, else that of the
    full float64 ``C_SS`` (as without the float32 curvature).

    A sample's bound holds for the full curvature: ``C*_SS`` is the sample's ``C*`` plus the
    other rows' terms, each positive semidefinite (``w_j >= 0`` times ``x x^T`` times ``A''
    >= 0``, or times ``diag(p) - p p^T`` for the categorical family), so its smallest
    eigenvalue is at least the sample's, on the whole space when the sample's has full rank.
    The sample's ``C_SS`` is factored by Cholesky at any size (its bound a shifted
    factorisation, :func:`factor`), not eigendecomposed: 0.3 against 0.8 ms at 102 entries.

    Returns ``(bound, rank, condition)``, the last two of the matrix that gave the bound (-1
    and NaN for the Kronecker bound). ``full=False`` (:func:`_zero_step`) never forms the full
    curvature: where the sample's bound falls short it tries one larger sample (twice the rows
    the shortfall asks for, at most ``grow`` of them, :data:`ZERO_SAMPLE_ROWS`), and returns
    the best bound found, 0 when none."""
    n, p = data.n, sel.size
    found = (0.0, -1, float("nan"))
    if layout is not None:
        low = _kronecker_smallest(data, kept, layout)
        found = (low, -1, float("nan"))
        if low > enough:
            return found
    sample = SINGLE_PROOF_ROWS * p
    if 2 * sample <= n:
        C_s, _ = _kept_curvature(data, kept, sel, sample)
        _, rank, condition, low = factor(C_s, len(range(0, n, _sample_stride(n, sample))),
                                         cholesky_min=0)
        if rank == p and low > enough:
            return low, rank, condition
        if rank == p and low > found[0]:
            found = (low, rank, condition)
        # (the zero step, ``full`` False: a larger sample where this one falls short, as
        # many rows again as the shortfall asks, twice, within ``grow`` rows)
        more = int(min(grow, 2.0 * sample * enough / low)) if (
            not full and rank == p and 0 < low <= enough) else 0
        if more > sample:
            C_s, _ = _kept_curvature(data, kept, sel, more)
            _, rank, condition, low = factor(C_s, len(range(0, n, _sample_stride(n, more))),
                                             cholesky_min=0)
            if rank == p and low > found[0]:
                found = (low, rank, condition)
    if not full:
        return found
    _, rank, condition, low = factor(_kept_curvature(data, kept, sel, None)[0], n)
    return low, rank, condition


def _kronecker_layout(sel, m: int, q: int):
    """``(classes, features)`` when the class-major entries ``sel`` of the categorical ``S``
    are every pair of a set of classes, not all ``q`` of them, and one set of features (an
    unpenalised fit: every feature in all classes but the pinned one), else None."""
    cls, feat = np.divmod(sel, m)
    classes = np.unique(cls)
    if not 0 < classes.size < q:
        return None
    features = feat[cls == classes[0]]
    if (features.size * classes.size != sel.size
            or not np.array_equal(feat, np.tile(features, classes.size))):
        return None
    return classes, features


def _columns(X, features) -> np.ndarray:
    """``X``'s columns ``features`` (sorted): a view when they are a range of them."""
    if features.size and features[-1] - features[0] + 1 == features.size:
        return X[:, features[0]:features[-1] + 1]
    return X[:, features]


def _kronecker_solve(data, kept, layout):
    """A preconditioner for the categorical ``C_SS`` of :func:`_kronecker_layout`'s ``S`` (the
    classes ``F``, the features ``f``), in :func:`factor`'s ``solve(t, whole=True)`` form:
    the inverse of the Kronecker product ``B (x) A``, ``A = X_f^T W X_f / sum w`` and ``B =
    sum_j w_j (diag(p_jF) - p_jF p_jF^T)``, the curvature ``sum_j w_j (diag(p_jF) - p_jF
    p_jF^T) (x) x_jf x_jf^T`` with each row's two factors replaced by their averages (the
    solvers' Kronecker preconditioner has the same shape; this one is the checker's own, from
    the means pass 1 kept). Applied as ``B^-1 V A^-1`` to ``t`` as a (|F|, |f|) table ``V``
    through the two small eigendecompositions, eigenvalues below ``RANK_RTOL`` of the largest
    raised to it (positive definite). Only a preconditioner: nothing proved rests on it."""
    classes, features = layout
    X_f, w = _columns(data.X, features), data.weights
    P = kept["mean"][:, classes]
    A = (X_f * (w / max(float(w.sum()), np.finfo(float).tiny))[:, None]).T @ X_f
    wP = P * w[:, None]
    B = np.diag(wP.sum(axis=0)) - P.T @ wP

    def eig(M):
        vals, vecs = np.linalg.eigh(M)
        top = float(vals.max(initial=0.0))
        return np.maximum(vals, RANK_RTOL * top if top > 0 else 1.0), vecs

    la, Ua = eig(A)
    lb, Ub = eig(B)
    scale = np.outer(lb, la)
    shape = (classes.size, features.size)

    def solve(t, whole=True):
        Z = Ub.T @ np.reshape(t, shape) @ Ua
        Z /= scale
        return (Ub @ Z @ Ua.T).ravel()

    return solve


def _kronecker_smallest(data, kept, layout) -> float:
    """A proved lower bound of ``lambda_min(C_SS)`` for :func:`_kronecker_layout`'s ``S`` (the
    classes ``F``, ``|F| < q``, the features ``f``), from a Gram matrix of ``|f|`` columns
    instead of ``C_SS``'s ``|F| |f|``: ``C_SS = sum_j w_j J_j (x) x_jf x_jf^T`` with ``J_j =
    diag(p_jF) - p_jF p_jF^T`` (``p_j`` the row's computed means, the curvature of the
    attainment proof, :func:`factor`), and ``J_j >= s_j I`` gives ``C_SS >= I (x) G``, ``G =
    X_f^T diag(w s) X_f``, whose smallest eigenvalue :func:`factor` bounds (its rounding
    ``gamma(n + 8)`` relative per term covers ``G``'s three products and sum) when it keeps
    every direction (0 otherwise: a singular ``G`` proves nothing).

    ``s_j``: for ``z`` zero outside ``F``, with ``S_j = sum_c p_jc`` over all ``q`` classes,
    ``z^T J_j z = sum p z^2 - (sum p z)^2 = min_c sum_all p_i (z_i - c)^2 + (sum p z)^2 (1 /
    S_j - 1)``. The minimum is at least ``a_j min_c (c^2 + sum_F (z_i - c)^2) = a_j (|z|^2 -
    (sum z)^2 / (|F| + 1)) >= a_j |z|^2 / (|F| + 1)`` (Cauchy-Schwarz), ``a_j = min(min_F
    p_jc, sum_(not F) p_jc)``; the second term is at least ``-(S_j - 1)_+ |z|^2`` (``(sum p
    z)^2 <= S_j sum p z^2 <= S_j |z|^2``). So ``s_j = a_j / (|F| + 1) - |S_j - 1|``, each sum
    taken with its rounding (``gamma(q)``), rounded down, and 0 where that is negative.
    Loose by up to ``|F| + 1`` on well-spread probabilities, it proves attainment where the
    Newton point's residual is at its rounding level, at a fraction of ``C_SS``'s cost (0.3
    against 18 ms at n = 1e3, ten classes, m = 51)."""
    classes, features = layout
    P = kept["mean"]
    q = P.shape[1]
    outside = np.ones(q, dtype=bool)
    outside[classes] = False
    a = np.minimum(P[:, classes].min(axis=1), P[:, outside] @ np.ones(int(outside.sum())))
    total = P @ np.ones(q)
    s = a * ((1.0 - gamma(q + 10)) / (classes.size + 1))
    s -= np.abs(total - 1.0) + gamma(q + 2) * total
    np.maximum(s, 0.0, out=s)
    s *= data.weights
    X_f = _columns(data.X, features)
    # (a bound on the whole space only: where factor drops a direction, its bound is of the
    # kept range, and nothing is proved)
    # (G by dsyrk on sqrt(s) X_f, _kernels.gram: half the products of (X_f * s)^T X_f, 0.2 ->
    # 0.1 ms at n = 1e3, m = 51; the square roots' rounding is within the same gamma(n + 8))
    _, rank, _, low = factor(_kernels.gram(X_f, s), data.n, cholesky_min=0)
    return low if rank == features.size else 0.0


def _krylov_decades(data, kept, sel, t_S, sample) -> float:
    """``log10(max |t_S| / b)`` (at least 0; inf when ``b`` is 0 where ``t_S`` is not), ``b``
    the sampled step's stopping bound ``gamma(n + 2) |X_S|^T W |mu - Y|`` estimated from the
    rows of a sample of ``sample`` rows, scaled by ``n`` over their count: the decades the
    Krylov step has to bring its residual down by (:func:`_krylov_products`)."""
    n = data.n
    m, q = data.m, (data.k if data.family.multiclass else 1)
    cls, feat = np.divmod(sel, m)
    rows = slice(0, None, _sample_stride(n, sample))
    gap = np.abs(kept["mean"][rows] - data.Y.reshape(n, q)[rows])
    gap *= data.weights[rows, None]
    count = gap.shape[0]
    bound = gamma(n + 2) * (n / max(count, 1)) * _xt(data.X[rows], gap, True)[feat, cls]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.max(np.abs(t_S) / bound, initial=0.0))
    return float(np.log10(max(ratio, 1.0))) if np.isfinite(ratio) else float("inf")


def _curvature_products(size: int, m: int, q: int) -> float:
    """The full curvature ``C_SS`` (``size`` entries of an (m, q) theta) in products with it as
    an operator, in memory: the lesser of the two models of :data:`PRODUCT_COST` and
    :data:`PRODUCT_FLOP_RATIO` (before the slowdown of an ``X`` read from memory,
    :data:`PRODUCT_SLOW`). It decides only how the Newton step is computed."""
    narrow = size ** 2 / (PRODUCT_COST * (m + PRODUCT_COLUMNS) * q)
    wide = size * (size + SYRK_HALF_WIDTH) / (PRODUCT_FLOP_RATIO * m * q ** 0.3)
    return min(narrow, wide)


def _krylov_products(decades: float, units: float) -> float:
    """The products the sampled Krylov step (:func:`_sampled_step`) is expected to take, a
    rule of thumb that decides only how the step is computed (its point is measured either
    way): ``1 + rate decades`` (:func:`_krylov_decades`), ``rate = 1 + 5 / sqrt(units)``
    products a decade, ``units`` the sample's rows per entry of ``S`` times the rank a row
    adds to the curvature (``k - 1`` classes, 1 otherwise). With the sample's own cost, in
    products (the full curvature's times its share of the rows), it also chooses the
    sample's rows per entry among :data:`KRYLOV_SAMPLE_ROWS`.

    Measured at n = 1e4, m = 51, unpenalised, two rows per entry (one thread): 4, 8 and 16
    products for 1.7, 3.4 and 7.5 decades with ten classes (and 4, 9, 17 at m = 11), 8, 14
    and 29 for 1.9, 3.6 and 8.0 with three, 15 and 36 for 2.1 and 7.0 with two: about 2.2,
    3.6 and 5 products a decade (the rule: 2.2, 3.5, 4.5). The decades are those of the
    solver's tolerance: a loose fit's theta (tol 1e-4) needs four times the products of the
    default's, more than the full curvature costs at m = 11, ten classes (where the sample
    then cost 18-20 ms a certificate, 6 products and the full curvature after them,
    against 13 for the full curvature at once; at the default tolerance 10 against 13).

    With few units the rate is at least ``2 / log10(units)``: a sample of ``u`` times as
    many independent rows as dimensions preconditions the curvature to a spectrum within
    about ``[(1 - u^-1/2)^2, (1 + u^-1/2)^2]`` (the Marchenko-Pastur edges), where conjugate
    gradients gain a factor ``u^1/2`` a product. At ``u = 2`` that is 6.6 products a decade
    (measured: 15 and 36 products for 2.1 and 7.0 decades with two classes, above; 16 for
    2.2 at n = 3000, m = 301, three classes, one row per entry); from ``u = 4`` the rule
    above is the larger. At ``u <= 1`` the sample's curvature is singular or nearly so and
    no rate is promised: infinitely many products (n = 3000, m = 601, two classes, one row
    per entry: 27 products left 2.6 decades unfinished)."""
    if not decades > 0:
        return 1.0
    if not units > 1:
        return float("inf")
    rate = max(1.0 + 5.0 / np.sqrt(units), 2.0 / np.log10(units))
    return 1.0 + rate * decades


def _sample_stride(n: int, sample: int) -> int:
    """The stride of a row sample of about ``sample`` of ``n`` rows (every so many rows)."""
    return max(1, n // max(sample, 1))


def _kept_curvature(data, kept, sel, sample, single=False):
    """``(C_SS, sum of its rows' weights)`` from the means pass 1 kept (in memory, dense
    ``X``): of all rows, or of the row sample of ``sample`` rows (every ``n // sample``-th
    row, the rows the runner's blocks would have taken). The same terms as pass 1 would sum,
    in another order: the bound of :func:`factor` holds for any. ``single``: the products in
    float32, a proposal's curvature (:func:`_curvature`)."""
    X, w = data.X, data.weights
    m = X.shape[1]
    multi = data.family.multiclass
    curv = kept["mean"] if multi else kept["curv"]
    rows = slice(None) if sample is None else slice(0, None, _sample_stride(data.n, sample))
    w_rows = w[rows]
    return (_curvature(X[rows], w_rows, curv[rows], sel, m, multi, single=single),
            float(w_rows.sum()))


def _reduce_data_sums(one: _Sums, eq) -> _Sums:
    """Pass 1's sums with ``X^T W Y`` reduced to what the bracket reads of it: ``scale = 1 +
    max |X^T W Y|`` and its equality rows ``XtWY_eq`` (the intercept's, for
    :func:`_multiplier_bound`); the (m, q) table itself is dropped."""
    XtWY = one.XtWY
    if XtWY is None:  # (reduced by pass 1 itself, :func:`_pass_one`)
        del one.XtWY
        return one
    one.XtWY_eq = XtWY[eq].copy()
    one.scale = 1.0 + float(np.abs(XtWY, out=XtWY if XtWY.flags.writeable else None)
                            .max(initial=0.0))
    del one.XtWY
    return one


def _reduce_gradient(one: _Sums, th, pen_rows, penalty, multi) -> bool:
    """Pass 1's ``R`` reduced to the KKT residual's largest entry ``grad_max``
    (:func:`_kkt_gradient`) once the Newton step's target is taken from it: the (m, q) table is
    dropped before pass 2. Returns whether all of ``R`` was finite (else no step is taken)."""
    finite = bool(np.isfinite(one.R).all())
    one.grad_max = _kkt_gradient(one.R, th, pen_rows, penalty, multi)
    one.R = None
    return finite


def _target(one: _Sums, th, feat, cls, pen_rows, penalty) -> np.ndarray:
    """``t_S``: the Newton step's right-hand side on the entries of ``S`` (class-major), pass
    1's ``R`` there (for L1 less ``lam sign(theta)`` on the penalised rows); gathered entry by
    entry, no copy of ``R`` (the step is taken only when all of ``R`` is finite)."""
    t_S = one.R[feat, cls]
    on = pen_rows[feat]
    if on.any():  # the penalty's gradient on its entries of S (L1; L2 and the elastic net
        # where S holds them, :func:`_penalised_step`)
        t_S[on] -= (penalty.l2_lam * th[feat[on], cls[on]]
                    + penalty.l1_lam * np.sign(th[feat[on], cls[on]]))
    return t_S


def _step(a_S, feat, cls, q) -> tuple:
    """The Newton step in theta, ``(rows, values)``: the rows of theta with a nonzero entry of
    ``a_S`` (sorted) and their entries, shape (len(rows), q). A full (m, q) table, zero but for
    the rows of ``S`` (the intercept's alone for L2), was an (m, q) table more through pass 2."""
    nz = a_S != 0
    if not nz.any():  # the given point itself (no unique of nothing: 30 to 70 us a certificate)
        return feat[:0], np.zeros((0, q))
    rows = np.unique(feat[nz])
    values = np.zeros((rows.size, q))
    values[np.searchsorted(rows, feat[nz]), cls[nz]] = a_S[nz]
    return rows, values


def _add_budget(one: _Sums, two: _Sums) -> None:
    """The gradient's budget of both passes (in memory pass 2 forms it, through an engine pass
    1: the other is the scalar 0), without a new (m, q) table (or, reduced by pass 1 to its
    largest entry ``budget_max``, none: :func:`_pass_one`)."""
    if np.ndim(one.grad_budget) == 0 and one.grad_budget == 0:
        one.grad_budget = two.grad_budget
    elif not (np.ndim(two.grad_budget) == 0 and two.grad_budget == 0):
        one.grad_budget = one.grad_budget + two.grad_budget
    two.grad_budget = 0.0


def _resid_bound(two: _Sums, depth: int) -> np.ndarray:
    """The summation bound of the point's residual, ``gamma(L + 2) |X|^T W |mu~ - Y|``
    inflated by ``1 + 2 gamma(L + 2)`` for the rounding of that nonnegative sum itself, ``L =
    depth`` the runner's (:func:`sum_depth`): formed in place of pass 2's ``resid_abs``, which
    is dropped."""
    g = gamma(depth + 2)
    bound = np.multiply(two.resid_abs, g * (1.0 + 2.0 * g), out=two.resid_abs)
    two.resid_abs = None
    return bound


def _lower_point(run, one, two, th, A, fam, pen_rows, penalty, tol_hint, resid_bound,
                 newton=None, pen_value=None, data=None):
    """``(t, H, magnitude, simplex term)`` of the point ``Y + t (mu~ - Y)`` of the lower bound.

    The segment from ``Y`` keeps every constraint but the domain and (L1) the boxes, whose
    residual ``t r`` shrinks with ``t``: ``t_max`` is the last ``t`` where both hold. At
    ``t_max >= 1`` the point is ``mu~`` (pass 2's sums), except that a penalised bracket that
    does not close there may close inside the segment (the charge of L2 falls as ``t^2``, that
    of the elastic net as ``(t |r| - lam a)_+^2``): one more pass over the grid, taken only then
    or when ``mu~`` is infeasible, and not when no point of the segment can close it
    (:func:`_cannot_close`).
    """
    t_max = min(two.t_max, _box_limit(two.resid, pen_rows, penalty))
    at_one = t_max >= 1.0
    closes = False
    if at_one:
        at_one_value = two.entropy - float(_relaxation([1.0], two.resid, pen_rows, penalty)[0])
        if pen_value is None:  # (the bracket's, computed once: an (m, q) copy at this peak)
            pen_value = _penalty_value(th, pen_rows, penalty)
        # (the gaussian and Poisson gap at mu~ evaluated centred, :func:`_centred_gap`)
        gap = (-(one.loglik_full - pen_value) - at_one_value
               if getattr(two, "divergence", None) is None else
               _centred_value(float(two.divergence[0]), th, two.resid,
                              two.entropy - at_one_value, pen_value))
        closes = gap <= tol_hint * _objective_size(one, pen_value)
    if at_one and (closes or penalty.kind not in ("l2", "elasticnet") or _cannot_close(
            data, newton, two, pen_rows, penalty, at_one_value,
            -(one.loglik_full - pen_value) - tol_hint * _objective_size(one, pen_value))):
        point = (1.0, two.entropy, two.magnitude, two.simplex_term)
    elif t_max > 0.0:
        grid = np.asarray(SEGMENT_GRID + (1.0,)) * min(t_max, 1.0)
        if getattr(two, "divergence", None) is not None and two.t_max >= 1.0:
            # the gaussian and Poisson gap is evaluated centred, bounded inside the segment
            # without a pass where mu~ is in the domain (:func:`_centred_gap`; outside it, its
            # divergence is not defined): the grid's point of the least bound,
            # evaluated alone (the entropies themselves carry the data's constant, whose
            # rounding chose t = 0.992 over t = 1 - 1e-11 at y ~ 1e6, a gap 1e4 times larger)
            charge = _relaxation(grid, two.resid, pen_rows, penalty)
            bounds = [_centred_value(_centred_divergence(two, one.data_divergence, t), th,
                                     t * two.resid, c, 0.0) for t, c in zip(grid, charge)]
            grid = grid[[int(np.argmin(bounds))]]
        *point, divergence = _segment_search(run, th, A, fam, grid, two.resid, pen_rows,
                                             penalty, newton)
        point = tuple(point)
        if divergence is not None:  # (the point's own divergence: :func:`_centred_gap`)
            two.segment_divergence = (point[0], divergence)
    else:
        point = None
    if point is None or not np.isfinite(point[1]) or not (
            np.all(np.isfinite(two.resid)) and np.all(np.isfinite(resid_bound))):
        # the data themselves are the feasible point (an overflowed point proves nothing)
        data = run(_pass_data, fam)
        point = (0.0, data.entropy, data.magnitude, 0.0)
    elif fam.multiclass and getattr(two, "clip_mass", 0.0) > 0.0:
        # the rows' sums moved by what pass 2 set on the boundary, below their rounding
        # (:func:`_clip_limit`): charged as a row's distance from the simplex is, t times the
        # amounts at Y + t (mu~ - Y), with |A*| <= log q (and room)
        point = point[:3] + (point[3] + point[0] * two.clip_mass * (2.0 + np.log(th.shape[1])),)
    return point


def _at_segment(two, rb, t, pen_rows, penalty, copy=False):
    """``(charge, resid, rb, excess)`` at the point ``Y + t (mu~ - Y)`` of the lower bound: the
    relaxation's charge, the residual and its rounding bound (``t`` times pass 2's, 0 at ``t =
    0``; in place of pass 2's tables unless ``copy``) and, for L1, ``(|r| - lam)_+`` on the
    boxes ((0, q) otherwise)."""
    charge = float(_relaxation(np.array([t]), two.resid, pen_rows, penalty)[0]) if t > 0 else 0.0
    resid, rb = (two.resid.copy(), rb.copy()) if copy else (two.resid, rb)
    for table in (resid, rb):
        if not t > 0:
            table[...] = 0.0
        elif t != 1.0:
            table *= t
    excess = np.zeros((0, resid.shape[1]))
    if penalty.kind == "l1":  # (|r| - lam)_+ on the boxes, formed in place
        # (the penalised rows as a view when they are one run of a C-ordered table, as pass
        # 2's products are: the same sums as over their copy)
        excess = np.abs(resid[_row_index(pen_rows) if resid.flags.c_contiguous else pen_rows])
        excess -= penalty.lam
        np.maximum(excess, 0.0, out=excess)
    return charge, resid, rb, excess


#: The share of the tolerance above which the bracket's round-off sends the rows whose
#: summation bounds are charged (the equality rows' times the multiplier's bound, the L2
#: rows' through the relaxation's charge) to :func:`_accurate_sums` (a pass over those columns
#: of ``X`` and the point, :func:`_sharpen_sums`): below it the pass's own bounds stand.
ACCURATE_SHARE = 0.01
#: :func:`_accurate_sums` runs only while its terms, rows times chosen columns times classes,
#: are at most this many (about half a second here: 1.5e7 took 0.35 s, n = 1e5, three
#: classes, 51 columns); beyond, the costliest rows within it, the pass's bounds for the rest.
ACCURATE_MAX_TERMS = 2e7


def _accurate_sums(data, point: np.ndarray, cols, rows: int = 1 << 16, centred: bool = False):
    """``(r, b)``, each of shape (len(cols), q): rows ``cols`` of the point's residual ``r =
    X^T W (mu~ - Y)`` summed accurately, and ``b`` a proved bound on ``|r - r_exact|``; None
    where a column is not at hand as dense numbers (a sparse design's, but for its implicit
    column of ones, which is recognised as the data set's last when it holds ones only).

    Pass 2 sums every row by BLAS, in any order: its bound ``gamma(L + 2) |X|^T W |mu~ - Y|``
    grows with the sums' depth ``L`` (:func:`sum_depth`), and where the features' sizes differ
    widely it is charged times large factors (the intercept's multiplier bound, 3.6e6 against
    an intercept of 16 for features near 1e5; the L2 charge's ``b^2 / (2 lam)`` for a feature
    near 1e6): a converged fit was then refused (0.04 nats against 8e-3 allowed). Here the terms ``p_j = fl(x_ji fl(w_j
    fl(mu~_j - Y_j)))``, each within ``gamma(3)`` of its exact value (one rounding fewer for
    the column of ones, read as 1, for unit weights, and for a point held centred, ``mu~ -
    Y`` itself), are summed by halving with Knuth's error-free two-sum (``x +
    y = s + e`` exactly): the halves' sums carry the total exactly but for the errors ``e``,
    summed plainly (at most ``2 n`` terms, within ``gamma(2 n)`` of theirs) and added at the
    end. Each level's ``|e| <= u |s|`` and ``sum |s| <= (1 + u) sum |p|`` per level, so over
    ``L = ceil(log2 n) + 1`` levels ``sum |e| <= L u (1 + u)^L sum |p|``; the blocks of
    ``rows`` rows are summed so, then their sums so again (``L`` counts both). So ``|r -
    r_exact| <= gamma(3) S + u |r| (1 + u) + gamma(2 n) L u (1 + u)^L S`` with ``S = sum
    |p|`` (its own rounding ``gamma(n)``): first order in ``u`` but not in ``n``. ``centred``:
    ``point`` is ``mu~ - Y`` itself (the gaussian and Poisson families), no subtraction."""
    X = data.X
    n, m = data.n, data.m
    cols = [int(c) for c in cols]
    ones = data.intercept and cols.count(m - 1) > 0 and (
        isinstance(X, design.OnesColumn) or not design.is_sparse(X)
        and bool(np.all(design.column(X, m - 1) == 1.0)))
    if any(design.is_sparse(X) and not (c == m - 1 and ones) for c in cols):
        return None
    q = point.shape[1] if point.ndim == 2 else 1
    mu = point.reshape(n, q)
    Y = data.Y.reshape(n, q)
    w = data.weights
    shape = (len(cols), q)
    err, total_abs, parts = np.zeros(shape), np.zeros(shape), []
    for lo in range(0, n, rows):
        if centred:
            t = mu[lo:lo + rows] * w[lo:lo + rows, None]
        else:
            t = mu[lo:lo + rows] - Y[lo:lo + rows]
            t *= w[lo:lo + rows, None]
        sums = np.empty(shape)
        for i, c in enumerate(cols):
            p = t if c == m - 1 and ones else X[lo:lo + rows, c][:, None] * t
            total_abs[i] += np.abs(p).sum(axis=0)
            sums[i], e = _two_sum_halving(p)
            err[i] += e
        parts.append(sums)
    s, e = _two_sum_halving(np.array(parts).reshape(len(parts), -1))
    err += e.reshape(shape)
    r = s.reshape(shape) + err
    levels = int(np.ceil(np.log2(max(n, 2)))) + int(np.ceil(np.log2(max(len(parts), 2)))) + 2
    S = total_abs * (1.0 + gamma(n + 2))
    # each term's roundings: the subtraction (none for a centred point), the weight's product
    # (none with unit weights) and the column's (none for the column of ones)
    unit = bool(np.all(w == 1.0))
    rounds = np.array([(0 if centred else 1) + (0 if unit else 1) + (0 if c == m - 1 and ones
                                                                     else 1) for c in cols])
    b = (np.array([gamma(k) for k in rounds])[:, None] * S + U * np.abs(r) * (1.0 + U)
         + gamma(2 * n + 2 * len(parts)) * levels * U * (1.0 + U) ** levels * S)
    return r, b * (1.0 + 8 * U)


def _l2_moves(r_pen, b_pen, penalty) -> np.ndarray:
    """Each penalised row's bound on how far the relaxation's charge moves when its residual
    ``r_pen`` moves by its summation bound ``b_pen`` (both (|R|, q)): ``sum_c (2 e + b) b / (2
    lam (1 - a))``, ``e = (|r| - lam a)_+`` the excess over the L1 box (``a = 0`` for L2; the
    charge's derivative ``e / (lam (1 - a))``, integrated over ``b``), shape (|R|,). Formed in
    place a chunk of rows at a time: one (|R|, q) table of the terms was the checker's peak on
    ``bench --sparse``'s twenty classes, with ``r`` and ``b`` held."""
    out = np.empty(r_pen.shape[0])
    for c in nx.row_chunks(r_pen.shape[0], width=r_pen.shape[1]):
        e = np.abs(r_pen[c])
        e -= penalty.l1_lam
        np.maximum(e, 0.0, out=e)
        e *= 2.0
        e += b_pen[c]
        e *= b_pen[c]
        out[c] = e.sum(axis=1)
    out /= 2.0 * penalty.l2_lam
    return out


def _sharpen_sums(data, point, resid, rb, pen_rows, bound, penalty,
                  eq_only: bool = False, allowed: float = 0.0, centred: bool = False) -> bool:
    """Rows of the point's residual ``resid`` and of its summation bound ``rb`` (both (m, q),
    in place) summed again by :func:`_accurate_sums`: the rows whose bounds are charged, the
    costliest first, within :data:`ACCURATE_MAX_TERMS` terms. The charges: the equality rows'
    ``bound rb`` (``bound`` the multiplier's, on the equality rows) and, unless ``eq_only``,
    for an L2 part its rows' move of the relaxation's charge, ``(2 e + b) b / (2 lam (1 -
    a))`` (``e`` the residual's excess over the L1 box, :func:`_bracket`'s ``settle``). Each
    row keeps whichever residual and bound enclose the exact sum more tightly. Whether any
    row was summed again: none where the charges sum to at most ``allowed`` nats. Called only
    where the pass's bounds may cost the verdict (the bracket's round-off above
    :data:`ACCURATE_SHARE` of the tolerance, and those charges above half that: the rest of
    the round-off, such as a point's own residual times its multiplier, no sum removes; the
    point's own residual passed by :func:`_zero_step` on its summation bound alone):
    elsewhere the sums cost a pass for nothing (at n = 1e6, ten classes, L2, 0.16 s of a
    0.6 s certificate; n = 1e5, three classes, 50 features, unpenalised, ``tol=1e-4``, whose
    round-off is its point's residual, 0.35 s of a 0.39 s certificate)."""
    if not isinstance(data, Dataset):  # (an engine's blocks: no point in memory)
        return False
    eq = ~pen_rows
    charge = np.zeros(resid.shape[0])
    charge[eq] = np.sum(np.asarray(bound) * rb[eq], axis=1)
    if penalty.active and penalty.l2_lam > 0 and pen_rows.any() and not eq_only:
        charge[pen_rows] = _l2_moves(resid[pen_rows], rb[pen_rows], penalty)
    if not float(np.sum(charge)) > allowed:
        return False
    order = np.argsort(-charge, kind="stable")
    take = order[charge[order] > 0][:int(ACCURATE_MAX_TERMS // max(data.n * resid.shape[1], 1))]
    got = _accurate_sums(data, point, take, centred=centred) if take.size else None
    if got is None:
        return False
    r, b = got
    tighter = np.abs(r) + b < np.abs(resid[take]) + rb[take]
    resid[take] = np.where(tighter, r, resid[take])
    rb[take] = np.where(tighter, b, rb[take])
    return True


def _two_sum_halving(p: np.ndarray):
    """``(s, e)``, (q,) each, for a (b, q) table ``p``: the columns' sums by halving with
    Knuth's two-sum, ``s`` the last level's sum and ``e`` the plain sum of every level's
    rounding errors, so that ``sum p = s + e_exact`` exactly (:func:`_accurate_sums`)."""
    a = np.asarray(p, dtype=np.float64)
    err = np.zeros(a.shape[1])
    while a.shape[0] > 1:
        h = a.shape[0] // 2
        x, y = a[:h], a[h:2 * h]
        s = x + y
        z = s - x
        e = (x - (s - z)) + (y - z)  # x + y = s + e exactly (Knuth; no branch)
        err += e.sum(axis=0)
        if a.shape[0] % 2:
            s = np.concatenate([s, a[2 * h:]])
        a = s
    return (a[0] if a.shape[0] else np.zeros(a.shape[1])), err


def _absolute_point(Y, fam, table: np.ndarray) -> np.ndarray:
    """A point's table as means: the gaussian and Poisson ones are held centred, ``Y`` plus the
    table (:func:`_newton_point`), rounded here (the sign of each entry is the exact sum's);
    the probability families' as they are."""
    return table if fam.is_probability else Y.reshape(table.shape) + table


def _damping(fam, mu, mu_t) -> float:
    """The longest ``s < 1`` (0 where none) that keeps ``mu + s (mu~ - mu)`` strictly inside the
    family's domain, ``mu`` and ``mu~`` two tables of means (the given point's and the
    stepped one's), with a margin of ``2^-8`` of it: where ``mu~`` leaves the domain, the
    damped step ``s A`` (:func:`_given_point`), whose point that is to rounding, keeps the
    residual ``(1 - s) r`` of the given point's and loses only the entropy between ``mu`` and
    ``mu~`` where the segment from ``Y`` lost the entropy between ``Y`` and ``mu~``."""
    lower, upper = fam.mean_bounds
    D = mu_t - mu
    reach = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.isfinite(lower):
            out = D < 0
            if out.any():
                reach = min(reach, float(((mu[out] - lower) / -D[out]).min()))
        if np.isfinite(upper) and not fam.multiclass:
            out = D > 0
            if out.any():
                reach = min(reach, float(((upper - mu[out]) / D[out]).min()))
    if not (np.isfinite(reach) and reach > 0.0) or reach >= 1.0:
        return 0.0  # (mu~ in the domain: its own segment from Y served)
    return reach * (1.0 - 2.0 ** -8)


def _given_point(run, data, one, th, zero, fam, pen_rows, penalty, tol_hint, newton,
                 pen_value):
    """``(two, resid_bound, point table, lower point)`` of the given point ``mu(theta)`` itself,
    pass 2 at the step ``zero`` (the lower point as :func:`_lower_point` gives it), for a
    penalised fit whose stepped point's segment fell short; with ``zero`` a damped step
    ``s A`` (:func:`_damping`), the point ``mu + s J A`` between the given and the stepped
    one, whose residual is ``(1 - s)`` times the given point's.

    The stepped point ``mu~ = mu + J a`` can leave the domain (a negative probability) or, for
    L1, a box (the step moves the free entries only). Where ``Y`` sits on the domain's boundary
    (one-hot rows, 0/1 outcomes, zero counts), a point outside it at an entry where ``Y`` is 0
    leaves the segment ``Y + t (mu~ - Y)`` no room, ``t = 0``, and the lower bound was ``H(Y)``:
    ``MaxEntClassifier(C=100, l1_ratio=1, tol=1e-10)`` on standardised digits was "within 5.78
    nats" where a looser tolerance closed, and scikit-learn's saga fits with L1 were certified
    no better. ``mu(theta)`` is in the domain (a softmax, a logistic, an exponential) and its
    box residual is the KKT gradient, near the box for a fitted theta. With a penalty every
    point of either segment is bounded alike (the equality rows' residual by the proved
    multiplier bound, :func:`_multiplier_bound`), so :func:`_bracket` takes the higher lower
    bound less its round-off; the given point's sums are pass 2's at a zero step, with their
    own rounding bounds (``mu`` recomputed from ``X theta``: one pass more, and the segment's,
    only where the step fell short and its bracket does not close). Without a penalty the
    given point's residual is not at the rounding level and needs the zero step's second-order
    charge (:func:`_zero_step`): not taken here."""
    out = None if newton is None else np.empty(newton.shape, order="F")
    # (no scratch: no gradient budget)
    two = run(_pass_two, th, zero, fam, False, out=out, columns=run.columns)
    resid_bound = _resid_bound(two, run.depth)
    point = _lower_point(run, one, two, th, zero, fam, pen_rows, penalty, tol_hint, resid_bound,
                         out, pen_value, data)
    return two, resid_bound, out, point


def _cannot_close(data, newton, two, pen_rows, penalty, at_one: float, needed: float) -> bool:
    """Whether no point of the segment from ``Y`` to ``mu~`` (in the domain at ``t = 1``) can
    raise the lower bound to ``needed`` (the bracket closing), so that the segment's search
    (:func:`_segment_search`, several passes) would not change the verdict.

    Along the segment ``f(t) = H(Y + t d) - charge(t)``, ``d = mu~ - Y``, is concave
    (:func:`_segment_search`) with ``f'' <= -K`` on ``[0, 1]``, so with ``v = 1 - t``,
    ``f(t) <= f(1) - f'(1) v - K v^2 / 2``, at most ``f(1) + g u - K u^2 / 2`` with ``g =
    -f'(1)`` and ``u = min(1, g / K)`` (``f(1)`` when ``g <= 0``). ``f'(1) = -sum_j w_j
    <grad A*(mu~_j), d_j> - charge'(1)``, ``grad A*`` the log-odds (``log p + 1`` by class
    for the categorical family, ``log p - log(1 - p)`` for the Bernoulli one; other families:
    not known here, False), ``charge'(1) = sum (|r| - lam a)_+ |r| / (lam (1 - a))`` (``a =
    0`` for L2). ``K``: the entropy's ``sum_j w_j sum_c d_jc^2 / p_jc(t)`` with ``p(t) <=
    max(mu~, Y)`` entry by entry (the Bernoulli family's ``d^2 (1 / p + 1 / (1 - p)) >= 4
    d^2``), plus the L2 charge's ``||r||^2 / lam`` (the elastic net's: 0). The tangent alone
    (``K = 0``) did not decide the case this is for (n = 1e3, three classes, m = 51, L2, a
    loose fit's theta: ``-f'(1) = 0.12`` nats against a gap of 0.002; the search's best
    point gained 1.6e-6 nats, at ``t = 1 - 1.5e-5``). Computed in memory from ``mu~`` (one
    log per entry; the search's eight evaluations in four passes cost 0.4 ms there); True
    only when even that maximum misses ``needed`` by more than a millionth of the sums'
    magnitudes: a decision, not a bound (the printed bound is then ``f(1)``'s, proved as any
    point's; a bracket that closes nowhere on the segment is all it can loosen, by at most
    that maximum less ``f(1)``)."""
    fam = data.family if data is not None else None
    if newton is None or type(fam) not in (Bernoulli, Categorical):
        return False
    n = data.n
    Y2 = data.Y.reshape(n, -1)
    P = newton.reshape(n, -1)
    w = data.weights
    slope_h = size_h = curve_h = 0.0
    # a chunk of rows at a time (:func:`dualmaxent._numerics.row_chunks`): its (rows, q)
    # temporaries, not (n, q) ones (whole, they set the peak of a loose fit's certificate on
    # the text problem of ``bench --sparse`` with twenty classes, 5.0 times the sparse X)
    for c in nx.row_chunks(n, P.shape[1]):
        d = P[c] - Y2[c]
        if type(fam) is Bernoulli:  # (one column: p)
            grad = np.log(P[c]) - np.log1p(-P[c])
            bend = 4.0 * np.square(d)  # d^2 (1 / p + 1 / (1 - p)) >= 4 d^2
        else:
            grad = np.log(P[c]) + 1.0
            # p(t) <= max(mu~, Y) entry by entry (d = 0 where both are 0: no term)
            bend = np.square(d) / np.maximum(np.maximum(P[c], Y2[c]), np.finfo(float).tiny)
        grad *= d
        slope_h -= float((w[c] @ grad).sum())
        size_h += float((w[c] @ np.abs(grad, out=d)).sum())
        curve_h += float((w[c] @ bend).sum())
    rows = _row_index(pen_rows)
    a = penalty.l1_ratio if penalty.kind == "elasticnet" else 0.0
    r = np.abs(two.resid[rows])  # (one (|R|, q) table; the sums below make no other)
    squares = float(np.vdot(r, r))
    if a == 0.0:
        slope_c = squares / penalty.lam
    else:
        r_minus = np.subtract(r, penalty.l1_lam)
        np.maximum(r_minus, 0.0, out=r_minus)
        slope_c = float(np.vdot(r_minus, r)) / penalty.l2_lam
        del r_minus
    # the charge's own curvature: ||r||^2 / lam for L2 (for the elastic net 0, a lower bound)
    curve = curve_h + (squares / penalty.lam if a == 0.0 else 0.0)
    rise = slope_c - float(slope_h)  # -f'(1)
    if not (np.isfinite(rise) and np.isfinite(curve) and np.isfinite(needed)):
        return False
    u = min(1.0, rise / curve) if rise > 0 and curve > 0 else (1.0 if rise > 0 else 0.0)
    best = at_one + rise * u - 0.5 * curve * u * u
    return best + 1e-6 * (size_h + slope_c + abs(at_one)) < needed


def _segment_search(run, th, A, fam, grid, r, pen_rows, penalty, newton=None):
    """``(t, H, magnitude, simplex term, divergence)`` at the best point of the grid on the
    segment from ``Y`` to ``mu~`` (``grid`` increasing): the largest ``H - charge`` of the
    points evaluated; ``divergence`` the gaussian and Poisson point's sums
    (:func:`_divergence_sums`), None for the other families.

    Along the segment ``H(Y + t (mu~ - Y))`` is concave in ``t`` (``H`` is concave) and the
    charge convex, so their difference, read along the increasing grid, rises to its largest
    value and then falls. In memory (``mu~`` kept, each pass cheap) the grid is therefore
    searched, :data:`SEGMENT_PROBES` points a pass: where the best of a pass's points lies,
    the largest value lies between its two neighbours among them (a point outside would make
    the best probe lower than one of its neighbours, against concavity), and the search goes
    on there until a few points are left, which are all evaluated. Every point evaluated is a
    feasible point, its value a proved bound: the search only chooses which bound is printed,
    never whether it is one (where the values are flat to within their rounding they can miss
    concavity, and the search may then settle on another point than the grid's best, a bound
    all the same). A value that is
    not finite ends the search: the whole grid is evaluated, as through an engine (one pass,
    where a pass recomputes ``mu~``). Measured at n = 1e4 (L2, tol 1e-4, where ``mu~`` leaves
    the domain; one thread, best of 15): 8 of the 21 points, in 3 or 4 passes; the certificate
    9.1 ms against 15.6 for the whole grid in one pass (ten classes, m = 11; the same point
    and bound), 5.5 against 8.2 (three classes, m = 51), 3.2 against 4.3 (three, m = 11)."""
    charge = _relaxation(grid, r, pen_rows, penalty)
    known = {}

    def evaluate(indices):
        todo = sorted(set(int(i) for i in indices) - known.keys())
        if todo:
            seg = run(_pass_segment, th, A, fam, grid[todo], newton=newton)
            div = getattr(seg, "divergence", None)
            for j, i in enumerate(todo):
                known[i] = (float(seg.entropy[j]) - float(charge[i]), float(seg.entropy[j]),
                            float(seg.magnitude[j]), float(seg.simplex_term[j]),
                            None if div is None else np.asarray(div[j], dtype=float))

    lo, hi = 0, len(grid) - 1
    if newton is None:
        evaluate(range(len(grid)))
    while hi - lo > SEGMENT_PROBES + 1:
        probes = np.unique(np.linspace(lo, hi, SEGMENT_PROBES + 2).round().astype(int))
        evaluate(probes[1:-1])
        values = [known[i][0] for i in probes[1:-1]]
        if not np.all(np.isfinite(values)):
            evaluate(range(len(grid)))
            break
        at = 1 + int(np.argmax(values))
        lo, hi = int(probes[at - 1]), int(probes[at + 1])
    evaluate(range(lo, hi + 1))
    order = sorted(known)  # (argmax: the first of equal values, a NaN first, as over the grid)
    best = order[int(np.argmax([known[i][0] for i in order]))]
    return (float(grid[best]),) + known[best][1:]  # (with the point's divergence, or None)


def _kkt_gradient(R, th, pen_rows, penalty, multi) -> float:
    """``max |G|``: the KKT residual of the penalised dual on the free entries of theta (the
    minimal-norm subgradient for L1 and the elastic net), ``G`` formed in place of pass 1's
    ``R = X^T W (Y - mu)`` (when it is writable), a column at a time: no (m, q) temporary."""
    G = R if R.flags.writeable else R.copy()
    pen = _row_index(pen_rows)
    if penalty.kind == "l2":
        for c in range(G.shape[1]):
            G[pen, c] -= penalty.lam * th[pen, c]
    elif penalty.kind in ("l1", "elasticnet"):
        lam1, lam2 = penalty.l1_lam, penalty.l2_lam
        for c in range(G.shape[1]):
            gp, bp = G[pen, c] - lam2 * th[pen, c], th[pen, c]
            G[pen, c] = np.where(bp != 0, gp - lam1 * np.sign(bp),
                                 np.maximum(np.abs(gp) - lam1, 0.0))
    if multi:  # the pinned entries (the last class on the unpenalised rows) are no parameters
        G[~pen_rows, -1] = 0.0
    return float(np.abs(G, out=G).max(initial=0.0))


def _kkt_budget(gb, th, pen_rows, penalty, multi, cols: slice = slice(None)) -> float:
    """The largest round-off budget of ``G`` (:func:`_kkt_gradient`): the passes' ``|X|^T``
    products plus the penalty's own rounding, ``2 u lam |theta|`` (its L2 part), formed in
    place of the passes' table (when it is writable), a column at a time. ``cols``: the
    columns of theta that ``gb`` holds (a chunk of them: the largest entry of all is the
    largest of the chunks', the same number)."""
    gb = gb if gb.flags.writeable else gb.copy()
    pen = _row_index(pen_rows)
    last = th.shape[1] - 1 in range(th.shape[1])[cols]  # (whether gb holds the last class)
    th = th[:, cols]
    lam2 = penalty.lam * (1.0 - penalty.l1_ratio) if penalty.kind == "elasticnet" else \
        penalty.lam if penalty.kind == "l2" else 0.0
    if penalty.kind in ("l2", "l1", "elasticnet"):
        for c in range(gb.shape[1]):
            gb[pen, c] += 2 * U * lam2 * np.abs(th[pen, c])
    if multi and last:
        gb[~pen_rows, -1] = 0.0
    return float(gb.max(initial=0.0))


def _stepped_multiplier(params: Parameterization, th, A, multi) -> np.ndarray:
    """``|theta + a| + |a|`` in the pivot gauge, entry by entry: the unpenalised stand-in for
    ``|theta*|`` that charges a Newton point's residual (``A`` the step ``a``, rows and
    values, :func:`_step`).

    The point ``mu~ = mu + J a`` is, to first order, the mean at ``theta + a``, whose own
    residual the step removed: ``theta + a`` is Newton's estimate of ``theta*`` and ``|a|``
    more covers its error where Newton contracts (``|theta* - theta - a| <= |a|``). The given
    theta alone stood in before: off ``theta*`` along a nearly flat direction of the design
    (the fit without one of two columns equal to 2e-6, zero inserted; condition 1e5 to 1e6)
    ``a`` is large along it and ``|theta|`` misses it, and a lower bound rose above the
    optimum, by 1.85 nats on a least-squares problem of 2e4 rows. Still a first-order
    stand-in, not a proof (module docstring): beyond :func:`stand_in_condition_max` nothing
    is proved at all."""
    t = params.gauge_fix(th) if multi else np.array(th, dtype=np.float64)
    rows, values = A
    step = np.abs(values)
    t[rows] += values
    np.abs(t, out=t)
    t[rows] += step
    return t


def _abs_pivot(params: Parameterization, th, multi) -> np.ndarray:
    """``|theta|`` in the pivot gauge (categorical: the gauge's copy, its absolute value taken
    in place)."""
    if not multi:
        return np.abs(th)
    t = params.gauge_fix(th)
    return np.abs(t, out=t)


def _multiplier_bound(run, data, one, pen_rows, penalty, upper: float,
                      radius: tuple[float, float] | None = None,
                      memo: dict | None = None) -> np.ndarray:
    """A proved bound on ``|theta*|`` on the equality rows of a penalised fit, shape (1, q).

    The point's residual ``r`` on the equality rows (the intercept's: a penalty frees every
    other row) costs at most ``sum |theta*_i| |r_i|`` of entropy, ``theta*`` any optimum
    (the value of the perturbed primal is concave in its right-hand side, with supergradient
    ``theta*``), so a bound on ``|theta*|`` on those rows makes the lower bound proved for an
    inexact point. The bound, in three steps:

    1. ``-l(theta) >= H(Y)`` for every theta (Fenchel-Young, ``A(eta) + A*(y) >= <y, eta>``),
       and ``-l(theta*) + pen(theta*) <= upper`` (``upper`` the dual objective at the given
       theta plus its round-off), so ``pen(theta*) <= D = upper - H(Y)``. ``H(Y) >= 0`` for
       the probability families (``A* <= 0`` on their domains); the others sum it (pass 0).
    2. The penalty bounds the penalised rows: ``||theta*_R||_2 <= beta`` with ``beta =
       sqrt(2 D / lam)`` (L2, the elastic net with ``lam (1 - a)``), and ``||theta*_R||_1 <=
       D / lam`` (L1, the elastic net with ``lam a``). So ``|x_jR^T theta*_R,c| <= B``, the
       smaller of ``rho_2 beta_2`` and ``rho_inf beta_1`` (``rho`` the rows' largest 2-norm and
       largest entry); for a difference of two classes ``sqrt(2) rho_2 beta_2`` or ``rho_inf
       beta_1`` (both classes share the l1 budget).
    3. The intercept's own balance equation holds at ``theta*``: ``sum_j w_j mu_j = N``
       (``N = 1^T W Y``, ``W = sum w``). The mean is increasing in ``eta``, and ``eta_j`` is
       within ``B`` of the intercept ``b``, so ``A'(b - B) <= N / W <= A'(b + B)``: ``|b -
       g(N / W)| <= B`` with ``g`` the link. For the categorical family the ratios ``p_jc /
       p_jk = exp(b_c + z_jc - z_jk)`` give ``|b_c - log(N_c / N_k)| <= B`` with the
       two-class ``B`` (the last class pinned). A class or mean at the edge of the domain (``N_c = 0``) has no finite
       bound: ``inf``.

    The round-off of ``log(N / W)`` (two sums of ``n`` terms) adds ``2 gamma(n + 2)``.

    ``radius``: ``(radius, distance)`` of :func:`_refined_radius` (from the bracket the loose
    bound gave), another proved bound on ``||theta*_R||_2`` and one on ``||theta*_R -
    theta_R||_2``; the smaller radius serves the l2 form of step 2, and the distance a third
    form, from the given theta's own logits: ``|x_jR^T theta*_R,c| <= |z_jc| + rho d`` (for a
    difference of two classes ``|z_jc - z_jk| + sqrt(2) rho d``), ``z_j = x_jR^T theta_R`` as
    pass 1 computed it (``z_spread``, ``z_abs``: :func:`_logit_spread`), the largest over the
    rows taken per class. Cauchy-Schwarz bounds ``|x_jR^T theta_R|`` by the largest row norm
    times ``||theta_R||`` over all rows at once, several times the largest logit the rows
    actually have. Measured with :data:`REFINE_ROUNDS` (``MaxEntClassifier(C=1)`` fits, n =
    1e5, one thread, interleaved, before -> after): two classes, ten features, tol 1e-4, the
    given point's bound 424 -> 60 (its bracket still steps); at tol 1e-8 it no longer steps,
    the certificate 7.9 -> 5.7 ms; three and ten classes, 50 features, tol 1e-8, the round-off
    2.0e-2 -> 1.4e-3 and 4.8e-2 -> 1.8e-3 nats; the logits' maxima cost pass 1 up to 4 % of
    the certificate (three classes, ten features).
    ``memo`` (a dict) keeps the data's own sums of step 1 for a second call (one pass).
    """
    fam = data.family
    q = one.XtWY_eq.shape[1]
    D = upper
    if not fam.is_probability:  # H(Y) is not known to be >= 0: sum it, less its budget
        memo = {} if memo is None else memo
        if "own" not in memo:
            memo["own"] = run(_pass_data, fam)
        own = memo["own"]
        D -= own.entropy - (gamma(run.depth + 8) + 8 * U) * own.magnitude
    D = max(D, 0.0)
    # |x^T v| <= |x|_inf |v|_1 and <= |x|_2 |v|_2; for a difference of two classes the l1 form
    # keeps its bound (both classes share one budget) and the l2 form gains sqrt(2)
    one_class, two_class = [], []
    if penalty.l1_lam > 0:
        one_class.append(one.x_max * D / penalty.l1_lam)
        two_class.append(one_class[-1])
    if penalty.l2_lam > 0:
        beta = np.sqrt(2.0 * D / penalty.l2_lam)
        if radius is not None:
            beta = min(beta, radius[0])
        one_class.append(one.x_norm * beta)
        two_class.append(np.sqrt(2.0) * one_class[-1])
    B = (min(two_class) if fam.multiclass else min(one_class)) * (1.0 + 16 * U)
    if radius is not None:  # the given logits' form (docstring; infinite unless pass 1 formed it)
        B = np.minimum(B, _logit_form(one, radius[1], fam.multiclass) * (1.0 + 16 * U))
    N = one.XtWY_eq.reshape(-1, q)[0]  # the intercept's column is ones (data.py)
    with np.errstate(divide="ignore", invalid="ignore"):
        if fam.multiclass:
            bound = np.abs(np.log(N) - np.log(N[-1])) + B
            bound[-1] = 0.0  # pinned
        else:
            bound = np.abs(fam.link(np.array([N[0] / one.w_total]))) + B
    bound = np.where(np.isfinite(bound), bound + 2 * gamma(run.depth + 2), np.inf)
    if int((~pen_rows).sum()) != 1 or not data.intercept:  # pragma: no cover - a penalty frees
        return np.full((int((~pen_rows).sum()), q), np.inf)  # every row but the intercept's
    return bound.reshape(1, q)


#: The share of the tolerance beyond which a bracket's round-off sends the L1 penalty to the
#: curvature ball for the multiplier's bound (:func:`_ball_multiplier`: one pass more).
BALL_SHARE = 0.1


def _ball_multiplier(data, th, pen_rows, penalty) -> np.ndarray | None:
    """A proved bound on ``|theta*|`` on the equality rows (the intercept's), shape (1, q), from
    the curvature ball at theta, for the L1 penalty (an L2 part has its own, sharper bound,
    :func:`_refined_radius`: None here); None where the ball proves nothing.

    The ball's argument (:func:`curvature_ball`, Notes) holds for ``f = l - lam1 P`` with the
    gradient's norm raised by ``lam1 sqrt(|R| q)``: along a unit direction ``d``, ``-lam1
    P(theta + r d) <= -lam1 P(theta) + r lam1 sqrt(|R| q)``, ``P`` being ``sqrt(|R| q)``-
    Lipschitz in the Frobenius norm of the ball's free entries. The Bernoulli family: ``P = ||theta_R||_1``. The
    categorical family, whose likelihood reads only the differences ``D_c = theta_c -
    theta_k`` (the pivot gauge, ``q = k - 1`` free classes on every row): ``P(D) = sum_{i in R}
    min_v (sum_{c < k} |D_ic + v| + |v|)``, the penalty at the best gauge of each row, whose
    maximiser is the penalised one's differences (the intercept's own gauge pinned: ``b_k =
    0``); each row's term is 1-Lipschitz in its l1 norm. So where ``kappa <= 1/2`` the
    maximiser lies within ``r = 4 / (c rho)`` of theta's (differences), and each intercept
    within ``r`` of theta's: ``|b*_c| <= |b_c - b_k| + r``, rounded up (:func:`_ball_at`, one
    pass). The Poisson and gaussian families as the Bernoulli one (their balls:
    :func:`curvature_ball`, Notes; one pass more for their means' sums)."""
    fam = data.family
    if penalty.l2_lam > 0 or fam.name not in _BALL_CONSTANT:
        return None
    q = data.k - 1 if fam.multiclass else 1
    extra = penalty.l1_lam * float(np.sqrt(int(np.count_nonzero(pen_rows)) * q)) * (1.0 + 4 * U)
    ball, T = _ball_at(data, th, extra)
    if ball is None or not ball.proves_attained:
        return None
    eq = T[_row_index(~pen_rows)]
    return (np.abs(eq) + ball.radius) * (1.0 + 4 * U)


def _logit_form(one, distance: float, multi: bool) -> np.ndarray:
    """``B`` of :func:`_multiplier_bound` from the given theta's logits, shape (q,): a bound
    on ``|x_jR^T theta*_R|`` (for the categorical family on ``|x_jR^T (theta*_R,c -
    theta*_R,k)|``) on every row, given ``||theta*_R - theta_R||_2 <= distance``.

    Pass 1's computed ``z^_jc = fl(fl(eta_jc) - b_c)`` (``b`` the intercept's row) differs from
    ``fl(eta_jc) - b_c`` by at most ``u |z^_jc|`` relatively, and ``fl(eta_jc)`` from ``x_j^T
    theta_c`` by ``e_j <= e_max`` (pass 1's bound); the difference of two classes, rounded once
    more, by at most ``u`` of itself besides. So ``|z_jc| <= |z^_jc| (1 + gamma(4)) + e_max``
    and ``|z_jc - z_jk| <= |z^_jc - z^_jk| (1 + gamma(4)) + 2 gamma(4) max|z^| + 2 e_max``;
    the distance adds ``rho d`` (two classes: ``sqrt(2) rho d``, the difference of two
    columns of ``theta*_R - theta_R``), ``rho`` the rows' largest norm."""
    g4 = gamma(4)
    spread = np.asarray(one.z_spread, dtype=np.float64)
    if multi:
        return (spread * (1.0 + g4) + 2.0 * g4 * one.z_abs + 2.0 * one.e_max
                + np.sqrt(2.0) * one.x_norm * distance * (1.0 + g4))
    return spread * (1.0 + g4) + one.e_max + one.x_norm * distance * (1.0 + g4)


def _logit_spread(eta: np.ndarray, b: np.ndarray, multi: bool):
    """``(z_spread, z_abs)`` of one block (:func:`_logit_form`): per class the largest
    ``|z^_jc|`` (one class) or ``|z^_jc - z^_jk|`` (``k`` the last class), shape (q,), and the
    largest ``|z^_jc|`` of all, with ``z^ = fl(eta - b)``, ``b`` the intercept's row of theta
    (the data set's last column). A chunk of rows at a time (a sparse ``X`` is one block of all
    ``n`` rows), the columns' maxima exact (:func:`dualmaxent._numerics.column_absmax`)."""
    q = eta.shape[1]
    spread, top = np.zeros(q), 0.0
    for rows in nx.row_chunks(eta.shape[0], q):
        z = np.subtract(eta[rows], b)
        part = nx.column_absmax(z)
        top = max(top, float(part.max(initial=0.0)))
        if multi:
            z -= z[:, q - 1:].copy()
            part = nx.column_absmax(z)
        np.maximum(spread, part, out=spread)
    return spread, top


def _penalised_norm(th, pen_rows) -> float:
    """``||theta_R||_2``, theta's penalised rows (:func:`_refined_radius`), not rounded up."""
    # (the penalised rows as a view where they are one run: no (m, q) copy at the checker's
    # peak, which this end of the bracket is on text k = 20 of bench --sparse)
    tp = np.asarray(th, dtype=np.float64)[_row_index(pen_rows)]
    return float(np.sqrt(np.einsum("ij,ij->", tp, tp)))


def _refined_radius(th, pen_rows, penalty, excess: float,
                    norm: float | None = None) -> tuple[float, float] | None:
    """``(radius, distance)``: proved bounds on ``||theta*_R||_2`` and on ``||theta*_R -
    theta_R||_2`` from a proved bound ``excess`` on ``f* - f(theta)``
    (``f`` the penalised log-likelihood, ``f*`` its maximum: the bracket's ``max(gap, 0) +
    roundoff``), for a penalty with an L2 part ``lam2 = lam (1 - a) > 0``; None otherwise.

    ``F(theta_R) = sup_b f(theta_R, b)``, the supremum over the unpenalised rows, is ``lam2``-
    strongly concave: ``f + (lam2 / 2) ||theta_R||^2`` is concave in all of theta (the
    likelihood and the L1 part are), and a partial supremum of a concave function is concave.
    Its maximum is ``f*``, at ``theta*_R``, and ``F(theta_R) >= f(theta)``, so ``(lam2 / 2)
    ||theta_R - theta*_R||^2 <= F(theta*_R) - F(theta_R) <= f* - f(theta) <= excess``: the
    distance is ``sqrt(2 excess / lam2)`` and the radius ``||theta_R||`` plus it, theta's
    penalised rows as given (the penalty and the upper bound read them so), each norm rounded up
    by ``1 + gamma(|R| q + 4)``.
    Against ``sqrt(2 D / lam2)`` (:func:`_multiplier_bound`, ``D`` the whole objective) this is
    about ``||theta_R||``: on n = 2e4, five features, two classes, L2 with lam 1, the
    intercept's bound 740 -> 6 and the bracket's round-off 2.1e-5 -> 2e-7 nats.
    ``norm``: :func:`_penalised_norm` of the same theta, where the caller has it."""
    lam2 = penalty.l2_lam
    if not (lam2 > 0 and np.isfinite(excess) and excess >= 0):
        return None
    g = 1.0 + gamma(int(np.count_nonzero(pen_rows)) * (np.size(th) // len(th)) + 4)
    distance = float(np.sqrt(2.0 * excess / lam2)) * g
    return (_penalised_norm(th, pen_rows) if norm is None else norm) * g + distance, distance


#: How many times a bracket's multiplier bound is refined by its own excess
#: (:func:`_refined_radius`), while each round shrinks it below :data:`REFINE_GAIN` of the
#: last: each bound is proved by the bracket the one before it gave.
REFINE_ROUNDS = 8
REFINE_GAIN = 0.95


def _box_limit(r, pen_rows, penalty) -> float:
    """The largest ``t <= 1`` with ``|t X_R^T W (mu~ - Y)| <= lam`` on every L1 box (1 without:
    the elastic net has no hard box, its charge is finite everywhere)."""
    if penalty.kind != "l1" or not pen_rows.any():
        return 1.0
    rp = r[_row_index(pen_rows)]  # (the largest |r| as the larger of max r and -min r: no copy)
    top = max(float(rp.max(initial=0.0)), -float(rp.min(initial=0.0)))
    return 1.0 if top <= penalty.lam else penalty.lam / top


def _relaxation(seg_t, r, pen_rows, penalty) -> np.ndarray:
    """The charge of the relaxed balance equations at each ``t`` (``r = X_R^T W (mu~ - Y)`` on
    the penalised rows): ``||t r||^2 / (2 lam)`` for L2, ``sum (|t r| - lam a)_+^2 / (2 lam
    (1 - a))`` for the elastic net (module docstring), 0 otherwise (L1's boxes are
    constraints)."""
    seg_t = np.asarray(seg_t, dtype=np.float64)
    if penalty.kind not in ("l2", "elasticnet") or not pen_rows.any():
        return np.zeros(seg_t.shape)
    # (a view of r's rows when they are one run of a C-ordered table: the same sums as its copy)
    rows = _row_index(pen_rows) if r.flags.c_contiguous else pen_rows
    if penalty.kind == "l2":
        v = r[rows]
        # ||r_R||^2 as one dot product of the rows' view with itself, not a (|R|, q) table of
        # squares (with r and its bound held it made the checker's peak on bench --sparse's
        # twenty classes); any order of the sum is within the gamma(|R| q + 4) budget
        squares = (float(np.dot(v.ravel(), v.ravel())) if v.flags.c_contiguous
                   else float(np.sum(v ** 2)))
        return seg_t ** 2 * squares / (2.0 * penalty.lam)
    size = np.abs(r[rows]).ravel()
    # one t at a time: a (len(t), |R| q) table of the excesses was 20 (m, q) tables on the grid
    sums = np.empty(seg_t.size)
    excess = np.empty(size.size)
    for i, t in enumerate(np.abs(seg_t).ravel()):
        np.multiply(t, size, out=excess)
        excess -= penalty.l1_lam
        np.maximum(excess, 0.0, out=excess)
        np.square(excess, out=excess)
        sums[i] = np.sum(excess)
    return (sums / (2.0 * penalty.l2_lam)).reshape(seg_t.shape)


def _penalty_value(theta, pen_rows, penalty) -> float:
    """``(lam / 2) ||theta_R||^2``, ``lam ||theta_R||_1`` or ``lam (a ||theta_R||_1 + (1 - a)/2
    ||theta_R||^2)`` (0 without a penalty).

    The squares and absolute values are formed in place of the penalised rows' copy (which
    ``theta[pen_rows]`` is for a mask): the same tables, so the same sums, as a new one each
    (``tp ** 2`` was an (m, q) table more)."""
    if not penalty.active:
        return 0.0
    tp = theta[pen_rows]
    if np.may_share_memory(tp, theta) or not tp.flags.writeable:
        tp = tp.copy()
    if penalty.kind == "l2":
        return 0.5 * penalty.lam * float(np.sum(np.square(tp, out=tp)))
    if penalty.kind == "l1":
        return penalty.lam * float(np.sum(np.abs(tp, out=tp)))
    if penalty.kind == "elasticnet":  # (|t|^2 is t^2 exactly)
        a = penalty.l1_ratio
        l1 = float(np.sum(np.abs(tp, out=tp)))
        return penalty.lam * (a * l1 + 0.5 * (1.0 - a) * float(np.sum(np.square(tp, out=tp))))
    return 0.0


def _correction_set(theta, pen_rows, penalty, multi, full: bool = False) -> np.ndarray:
    """The entries ``S`` of theta the Newton step moves (module docstring): bool like theta
    (the intercept row; for L1 also the active entries; L2 and the elastic net charge the
    penalised rows instead, unless ``full``: then L2's every entry of them, the elastic net's
    active ones, :func:`_penalised_step`; a penalty fixes the categorical gauge on its
    rows, so every class of theirs is free, the intercept's but the last)."""
    m, q = theta.shape
    S = np.zeros((m, q), dtype=bool)
    S[~pen_rows, : q - 1 if multi else 1] = True
    if penalty.kind == "l1" or full and penalty.kind == "elasticnet":
        S[pen_rows] = theta[pen_rows] != 0
    elif full and penalty.kind == "l2":
        S[pen_rows] = True
    return S


def _penalised_proposal_closes(one, two, rb, th, A, pen_rows, penalty, multiplier, room,
                               tol_hint) -> bool:
    """Whether the penalised step's point is kept (:func:`_penalised_step`): in the domain, and
    its residual on the equality rows as :func:`_proposal_closes` asks (far from the optimum the
    step's linearisation leaves the intercept's balance equation off, and the intercept's own
    step is taken instead); for a float32 curvature's proposal (``room`` given) also the
    slack's mismatch ``m = s~ + lam2 (theta + a) + lam1 sign(theta)`` on the penalised rows
    (zero for an exact step, to first order), whose charge ``||m||^2 / (2 lam2)`` is what its
    inexactness adds to the gap, within ``room``, else the float64 step is taken. It decides
    only which point is measured; either point's bracket is proved."""
    if not _proposal_closes(one, two, rb, _row_index(~pen_rows), multiplier, tol_hint):
        return False
    if room is None:
        return True
    moved = th.copy()
    rows, values = A
    moved[rows] += values
    pen = _row_index(pen_rows)
    mismatch = (two.resid[pen] + penalty.l2_lam * moved[pen]
                + penalty.l1_lam * np.sign(th[pen]))
    if penalty.l1_lam > 0:  # (the elastic net's inactive entries: not in its step)
        mismatch[th[pen] == 0] = 0.0
    return float(np.sum(mismatch * mismatch)) / (2.0 * penalty.l2_lam) <= room


#: :func:`_slack_excess` takes theta's table whole up to this many entries (its temporaries,
#: (m, q) tables of at most 512 kB), a column at a time beyond.
SLACK_WHOLE_ENTRIES = 1 << 16


def _slack_excess(R, th, pen_rows, penalty) -> float:
    """The penalised rows' share of the gap at ``mu(theta)`` itself: the penalty's
    Fenchel-Young gap ``pen(theta_R) + pen*(s) + <theta_R, s>`` at the slack ``s = -R_R``
    (``R = X^T W (Y - mu)``, pass 1's), ``pen`` as :func:`_penalty_value` sums it and ``pen*``
    as :func:`_relaxation` charges it (at ``t = 1``; ``||R_R - lam2 theta_R||^2 / (2 lam2)``
    in all for L2). A decision's estimate (:func:`_penalised_target`), not a bound: the
    bracket proves its own. A column at a time (views of the penalised rows): no (m, q)
    temporary beside pass 1's tables; a small table (at most :data:`SLACK_WHOLE_ENTRIES`
    entries) at once, where the columns' calls cost more than their sums (n = 100, ten
    classes, 50 features, L2: the certificate 1.18 -> 0.94 ms)."""
    pen = _row_index(pen_rows)
    q = th.shape[1]
    parts = [slice(None)] if th.size <= SLACK_WHOLE_ENTRIES else [slice(c, c + 1)
                                                                  for c in range(q)]
    total = 0.0
    for cols in parts:
        t, r = th[:, cols], R[:, cols]
        total += (_penalty_value(t, pen_rows, penalty)
                  + float(_relaxation([1.0], r, pen_rows, penalty)[0])
                  - float(np.vdot(t[pen], r[pen])))
    return total


def _operator(data, theta, sel, t_S, mask, curv=None, single=False):
    """``(apply, t_S, curv)``: the curvature ``C_SS`` as an operator on the entries ``sel``,
    in memory, and the part of ``t_S`` it can reach.

    ``C = X^T W J X`` (``J`` the derivative of the mean map at ``theta``: ``diag(v)`` for a
    one-parameter family, ``diag(p) - p p^T`` per row for the categorical one) is applied on the
    entries ``sel`` (class-major ``c m + i``): two products with ``X``. ``curv``: the curvature
    at theta as pass 1 kept it, (n, q) (``P`` or ``A''``; computed here when None).

    ``C_SS`` is singular along the categorical gauge (a feature active in every class: the
    same change in every class moves no probability) and ``t_S`` need not lie in its range
    there (the L1 targets ``-lam sign(theta)`` need not sum to zero over the classes). That
    part of ``t_S``, its class mean on such a feature, is removed, as the dense path's
    pseudo-inverse drops it.

    ``single`` (dense ``X``, :data:`SINGLE_KRYLOV_DECADES`): the products in float32, from
    copies of ``X``, the curvature and the weights rounded once, a proposal's operator; its
    results are returned in float64.
    """
    X, w, fam = data.X, data.weights, data.family
    m, q = theta.shape
    multi = fam.multiclass
    cls, feat = np.divmod(sel, m)  # (the entries of S gathered from (m, q) tables by row and
    # class: no class-major copy of a table, the same numbers)
    if curv is None:
        curv = _mean(fam, X @ theta, data.Y, mask)[1]  # P, or A'' (forced rows: no curvature)
    if single:  # (row-major tables: the products' natural layout for a row-major float32 X)
        Xo, curv_o = X.astype(np.float32), np.ascontiguousarray(curv, dtype=np.float32)
        w_o = w.astype(np.float32)[:, None]
        full = np.zeros((m, q), np.float32)
    else:
        Xo, curv_o, w_o = X, curv, w[:, None]
        full = np.zeros((q, m)).T  # the direction as a table (class-major, as it was formed)
    # (the products in the curvature's order: pass 1 keeps it class-major, and a row-major
    # step scaled by it entry by entry took 1.2 of the 2.1 ms of one product at n = 1e4, m =
    # 51, ten classes)
    order = _product if curv_o.flags.f_contiguous else (lambda A, B: A @ B)

    def apply(v):
        full[feat, cls] = v
        step = np.asarray(order(Xo, full))
        step *= curv_o
        if multi:
            step -= curv_o * _rows(step)[:, None]
        step *= w_o
        return np.asarray(_xt(Xo, step)[feat, cls], dtype=np.float64)

    if multi:  # remove the gauge's part of t_S: the class mean of each feature in every class
        t_S = t_S.copy()
        for i in np.flatnonzero(np.bincount(feat, minlength=m) == q):
            at = feat == i
            t_S[at] -= t_S[at].mean()
    return apply, t_S, curv


def _cg_step(data, theta, sel, t_S, mask, atol: float) -> np.ndarray:
    """``a_S`` with ``C_SS a_S ~= t_S`` by a preconditioned Krylov solve, in memory.

    ``C_SS`` as an operator (:func:`_operator`, the gauge's part of ``t_S`` removed); the
    solver is MINRES, which also tolerates what is left of an inconsistent system (collinear
    columns). The diagonal of ``C``, ``sum_j w_j x_ji^2 J_jcc``, preconditions. The solve stops
    at ``|C_SS a - t_S| <= atol`` or after :data:`CG_MAX_ITER` iterations: what is left is
    measured in pass 2, not assumed away.
    """
    import scipy.sparse.linalg as sla

    X, w, fam = data.X, data.weights, data.family
    m, q = theta.shape
    multi = fam.multiclass
    cls, feat = np.divmod(sel, m)
    apply, t_S, curv = _operator(data, theta, sel, t_S, mask)
    own = curv * (1.0 - curv) if multi else curv  # the diagonal of J
    own = np.multiply(own, w[:, None], out=own if multi else None)
    diag = design.column_sq_sums(X, own)[feat, cls]
    del own
    inv = np.where(diag > 0, 1.0 / np.where(diag > 0, diag, 1.0), 0.0)
    size = sel.size
    C = sla.LinearOperator((size, size), matvec=apply, dtype=np.float64)
    M = sla.LinearOperator((size, size), matvec=lambda v: inv * v, dtype=np.float64)
    # MINRES stops on its own estimate of the residual in the preconditioner's norm, which can
    # be far from the plain one: the plain residual is measured after each run, and the run
    # resumed from where it stopped, asked for as much more as was missing
    a_S, left = np.zeros(size), t_S
    used, rtol = 0, 1.0
    while used < CG_MAX_ITER:
        norm = float(np.linalg.norm(left))
        if not norm > atol:
            break
        rtol = min(rtol, atol / norm)
        count = [0]
        a_S, _ = sla.minres(C, t_S, x0=a_S, rtol=rtol, maxiter=CG_MAX_ITER - used, M=M,
                            callback=lambda _x: count.__setitem__(0, count[0] + 1))
        used += max(count[0], 1)
        left = t_S - apply(a_S)
        rtol *= 0.1
    return a_S


def _sampled_step(data, theta, sel, t_S, mask, kept, solve, maxiter: int, single=False):
    """``(a_S, done)``: the Newton step by conjugate gradients with the exact curvature as an
    operator (:func:`_operator`, from the curvature pass 1 kept) and a row sample's
    factor as preconditioner (:func:`_pcg_step`), until every entry of the residual is within
    its own summation bound ``gamma(n + 2) |X_S|^T W |mu - Y|`` (at ``mu``, where ``mu~`` will
    be: a stopping rule, not a bound), or after ``maxiter`` products. ``single``: the
    operator's products in float32 (:data:`SINGLE_KRYLOV_DECADES`), a proposal."""
    m, q = theta.shape
    cls, feat = np.divmod(sel, m)
    curv = kept["mean"] if data.family.multiclass else kept["curv"]
    apply, t_S, _ = _operator(data, theta, sel, t_S, mask, curv, single)
    X, Y2, w = data.X, data.Y.reshape(data.n, q), data.weights
    if design.is_sparse(X) or X.nbytes <= PRODUCT_CACHE_BYTES:
        gap = np.abs(kept["mean"] - Y2)
        gap *= w[:, None]
        total = _xt(X, gap, True)
        del gap
    else:
        # (a dense X read from memory: by blocks of about BLOCK_BYTES of X, each block's |X|
        # and W |mu - Y| formed and multiplied while in cache. At n = 1e5, m = 51, ten
        # classes the whole |X| (40 MB, fresh pages each time) and (n, q) table took 45.8 ms,
        # these blocks 17.5 (best of 7, one thread); a certificate 161 -> 116 ms at the
        # solver's default tolerance, 203 -> 144 at 1e-8 (best of 15, interleaved). At
        # n = 1e4 (4 MB) the blocks cost 27.5 against 21.5 ms a certificate, the same
        # products taken and the product itself no slower (0.79 against 0.81 ms): the later
        # tables' allocations, which follow the largest block freed (glibc's threshold for
        # fresh mappings), hence only here. The same sums, in another order.)
        total = np.zeros((X.shape[1], q))
        step = max(1, BLOCK_BYTES // (8 * X.shape[1]))
        for lo in range(0, data.n, step):
            rows = slice(lo, lo + step)
            gap = np.abs(kept["mean"][rows] - Y2[rows])
            gap *= w[rows, None]
            total += _xt(X[rows], gap, True)
    within = gamma(data.n + 2) * total[feat, cls]
    return _pcg_step(apply, t_S, lambda v: solve(v, whole=True), within, maxiter)


def _pcg_step(apply, t_S, precondition, within, maxiter: int):
    """``(a_S, done)``: conjugate gradients on ``C_SS a_S = t_S``, preconditioned by a sampled
    curvature's factor (:func:`factor`, its positive definite form), until every entry of the
    residual ``t_S - C_SS a_S`` is within ``within`` (entry by entry) or after ``maxiter``
    products; ``done`` says which.

    ``apply`` is :func:`_operator`'s, ``t_S`` in its range. The residual is CG's recurrence,
    which follows the true one to the rounding of the products, far below ``within`` (the
    residual's own summation bound, ``gamma(n)`` times its magnitude); it decides only when to
    stop: pass 2 measures the point's residual and the bound pays for it.
    """
    a = np.zeros_like(t_S)
    r = t_S.copy()
    if np.all(np.abs(r) <= within):
        return a, True
    z = precondition(r)
    d = z.copy()
    rz = float(r @ z)
    for _ in range(maxiter):
        Cd = apply(d)
        dCd = float(d @ Cd)
        if not dCd > 0 or not rz > 0:  # no curvature left along d: nothing more to gain
            break
        alpha = rz / dCd
        a += alpha * d
        r -= alpha * Cd
        if np.all(np.abs(r) <= within):
            return a, True
        z = precondition(r)
        rz, rz_old = float(r @ z), rz
        d *= rz / rz_old
        d += z
    return a, False


def pseudo_solve(C: np.ndarray, t: np.ndarray, terms: int = 0):
    """Solve ``C a = t`` for symmetric positive semidefinite ``C`` on its numerical range:
    :func:`factor` of ``C``, its solve applied to ``t``.

    Returns
    -------
    a : ndarray like ``t``
    rank, condition, smallest :
        As :func:`factor` gives them.
    """
    solve, rank, condition, smallest = factor(C, terms)
    return solve(t), rank, condition, smallest


def _no_step(t, whole=False):
    """The solve of a matrix without curvature: no step."""
    return np.zeros_like(t)


#: :func:`curvature_ball` bounds the curvature from every ``step``-th row, about this many rows
#: per column of ``X`` (all rows of a smaller data set). Any sample is sound; more rows raise
#: the bound ``lambda`` in proportion. At n = 10^5, m = 51, k = 10, solved to 1e-9: 3264
#: rows, 0.002 s for the whole proof and ``kappa`` near 1e-4, against 0.115 s for the
#: projected point (its float32 curvature of 10^4 rows 0.05 s, its second pass 0.057 s).
ATTAINMENT_ROWS_PER_COLUMN = 64

#: The constant ``c`` of the curvature ball (:func:`curvature_ball`): a row's curvature falls at
#: most by ``exp(-c |x_j| |delta|)`` when theta moves by ``delta`` (the range of a row's logits
#: for the two probability families; the Poisson curvature ``exp(eta)`` moves with ``eta``
#: itself; the gaussian's is constant).
_BALL_CONSTANT = {"categorical": 2.0, "bernoulli": 1.0, "poisson": 1.0, "gaussian": 0.0}



@dataclass(frozen=True)
class CurvatureBall:
    """The curvature ball's proof of attainment (:func:`curvature_ball`), from the gradient alone.

    Attributes
    ----------
    proves_attained : bool
        ``kappa <= 1/2``: the likelihood has a maximiser within ``radius`` of theta.
    kappa : float
        ``c rho |g| / lambda``, rounded up (``inf`` when ``lambda`` is 0; for the gaussian
        family, ``c = 0``, 0 when ``lambda > 0``).
    gradient_bound : float
        ``|g|`` (Frobenius, free entries) bounded above, round-off included.
    curvature_bound : float
        ``lambda``, a lower bound of the smallest eigenvalue of the curvature at theta.
    row_norm_bound : float
        ``rho >= max_j |x_j|``.
    radius : float
        ``4 / (c rho)`` (the gaussian family: ``2 |g| / lambda``): the maximiser's distance
        from theta (Frobenius, free entries) is below it when ``proves_attained``.
    rows : int
        The rows of the sample ``lambda`` comes from.
    seconds : float
    column_scale : ndarray of shape (m,) or None
        For an equilibrated ball (``curvature_ball(equilibrate=True)``) the columns' powers of
        two ``s``: ``kappa``, ``gradient_bound``, ``curvature_bound``, ``row_norm_bound`` and
        ``radius`` are then those of the same likelihood in the coordinates ``theta_i / s_i``
        (the design ``X diag(s)``); None: of theta itself.
    """

    proves_attained: bool
    kappa: float
    gradient_bound: float
    curvature_bound: float
    row_norm_bound: float
    radius: float
    rows: int
    seconds: float
    column_scale: np.ndarray | None = None


def curvature_ball(dataset, theta, G, rows_per_column: int = ATTAINMENT_ROWS_PER_COLUMN,
                   subgradient: float = 0.0, equilibrate: bool = False) -> CurvatureBall | None:
    """Prove that the unpenalised likelihood has a maximiser from its gradient at ``theta``.

    The test of the curvature ball (Notes): no pass over ``X`` (the gradient is the
    solver's last pass's; the curvature a row sample's), so it costs a few milliseconds where
    :func:`project_primal` costs two passes. It proves or says nothing: ``False`` is no
    evidence of separation.

    Parameters
    ----------
    dataset : Dataset
        In memory; the full (not reduced) problem, unpenalised.
    theta : ndarray of shape (m, k) or (m,)
        The point, in the pivot gauge (the last class zero).
    G : ndarray of shape (m, k) or (m,) or (m, 1)
        ``X^T W (Y - mu)`` at ``theta`` as computed there
        (:meth:`dualmaxent.objective.DualObjective.last_gradient`).
    rows_per_column : int, default :data:`ATTAINMENT_ROWS_PER_COLUMN`
        The sample's size, in rows per column of ``X``.
    subgradient : float, default 0
        Added to the gradient's norm bound: a bound on the slope a Lipschitz penalty adds
        along any unit direction at theta (:func:`_ball_multiplier`; the ball then holds the
        penalised likelihood's maximiser).
    equilibrate : bool, default False
        Prove it in the coordinates ``theta_i / s_i`` of the design ``X diag(s)``, ``s_i`` the
        power of two that brings ``max_j |x_ji|`` to [0.5, 1) (the rescaling of badly scaled
        designs', :func:`dualmaxent.data._power_of_two_scaling`; Notes): the same likelihood,
        and a proof that does not fail on columns of very different sizes alone.

    Returns
    -------
    CurvatureBall or None
        None for a family the test does not cover (one without :data:`_BALL_CONSTANT`) or a data
        set without its columns' maxima.

    Notes
    -----
    Near a solution the gradient alone proves attainment, with no second pass and no Newton
    system. Let ``l`` be the log-likelihood on the free entries of theta (the
    pivot gauge: classes ``0 .. k-2``, the last pinned at zero; one column for the Bernoulli
    family), ``g`` its gradient at theta* and ``C(theta)`` its curvature ``-Hessian``.

    * Self-concordance. Along ``theta* + t delta`` row ``j``'s logits move by ``v = delta^T x_j``
      (the pinned class's entry 0), and for any ``u`` the row's curvature ``h(t) = Var_p(u)`` of
      the class probabilities ``p(t)`` has ``h' = sum_i p_i (v_i - vbar) (u_i - ubar)^2``, so
      ``|h'| <= range(v) h`` and ``h(t) >= exp(-t range(v)) h(0)``. ``range(v) <= 2 |x_j| |delta|``
      (Cauchy-Schwarz, ``|.|`` the Euclidean and Frobenius norms; the Bernoulli family's one
      free logit: ``|x_j| |delta|``). So on the ball ``|theta - theta*| <= r``,
      ``C(theta) >= exp(-c rho r) C(theta*)`` in the PSD order, with ``rho >= max_j |x_j|`` and
      ``c = 2`` (categorical) or 1 (Bernoulli).
    * The ball. With ``C(theta*) >= lambda I``, along any unit direction ``d``
      ``l(theta* + r d) <= l(theta*) + r |g| - lambda (c rho r - 1 + exp(-c rho r)) / (c rho)^2``.
      At ``c rho r = 4`` the last term is ``r lambda psi / (c rho)`` with ``psi = (3 + e^-4) / 4 >
      1/2``; so when ``kappa = c rho |g| / lambda <= 1/2`` every point of the sphere of radius
      ``4 / (c rho)`` has a smaller likelihood than its centre. ``l`` is continuous, so it has a
      maximum on the closed ball, at an interior point: a local maximum of a concave function,
      hence the maximiser. Nothing else is assumed (no full rank, no bound on theta*).
    * The Poisson and gaussian families (one free column). The Poisson row's curvature
      ``exp(eta_j)`` moves by the factor ``exp(v)``, ``|v| <= |x_j| |delta|``: the ball holds
      with ``c = 1`` and ``mu_j = exp(eta_j)`` in ``K`` below. The gaussian curvature is
      ``w_j x_j x_j^T`` whatever theta (``c = 0``): ``l(theta* + r d) <= l(theta*) + r |g| -
      lambda r^2 / 2``, below the centre beyond ``r = 2 |g| / lambda``, so any ``lambda > 0``
      proves a maximiser within that radius.
    * ``lambda`` from a row sample. ``C(theta*) = sum_j w_j (x_j x_j^T) (x) H_j`` with ``H_j =
      diag(p) - p p^T`` on the free classes, and ``u^T H_j u = min_s [sum_{i<=q} p_i (u_i - s)^2 +
      p_k s^2] >= mu_j |u|^2`` with ``mu_j = a b / (a q + b)``, ``a`` the smallest free
      probability, ``b`` the pinned class's (minimise ``a |u - s 1|^2 + b s^2`` over ``s``; for
      two classes ``mu_j = p_0 p_1``, exact). Every term is positive semidefinite, so dropping
      rows and lowering ``H_j`` to ``mu_j I`` keeps a lower bound: ``C(theta*) >= K (x) I_q``,
      ``K = sum_{j in sample} w_j mu_j x_j x_j^T`` (m, m), and ``lambda = lambda_min(K)``. Any
      sample is sound; :data:`ATTAINMENT_ROWS_PER_COLUMN` rows per column of ``X``, a fixed
      stride, keep it cheap (0.002 s at n = 10^5, m = 51, k = 10).

    Round-off (``u = 2^-53``, ``gamma(L)`` as in :mod:`dualmaxent._kernels`: valid for any order of
    the sums). ``rho`` is ``sqrt(sum_i max_j x_ji^2)`` from the columns' largest entries, rounded
    up. The logits carry at most ``e = gamma(m + 4) rho max_c |theta_c|`` (the products and their
    sum, any order; the softmax's shift by the row's maximum), which moves each probability by a
    factor within ``exp(+-2 e)``, and the softmax's own roundings (at most ``2 k + 16``) make
    ``delta = expm1(4 e + gamma(2 k + 16))`` a bound on the relative error of every computed
    probability. The computed gradient ``G`` of the last pass is within
    ``rho sum_j w_j (2 delta + gamma(n + 4) (max_j |y_j|_1 + 1 + delta))`` of ``g`` in Frobenius
    norm (the probabilities' error, then the sums' over ``n`` terms of at most four roundings; the
    norms of the rows' terms combined by Minkowski). The Poisson mean's relative error is
    ``delta = expm1(e + gamma(8))`` (the logit's error, then the exponential's own rounding, a
    few units at most), and the gradient's within ``rho (2 delta S_mu + gamma(n + 4) (S_y +
    S_mu))``, ``S_mu = sum_j w_j mu~_j`` and ``S_y = sum_j w_j |y_j|`` over every row (one pass
    over ``X``, the probability families need none: their means are at most 1); the gaussian
    mean is the logit itself, within ``e`` absolutely: ``rho (e W + gamma(n + 4) (S_y +
    S_eta))``. ``mu_j`` is homogeneous of degree one and
    increasing in ``a`` and ``b``, so the computed one, times ``(1 - gamma(8)) / (1 + delta)``, is
    below the exact one (its own five roundings and the weight's product included). ``lambda`` is
    bounded below from the formed ``K`` by a shifted Cholesky factorisation
    (:func:`_smallest_eigenvalue_bound`, the argument of :func:`dualmaxent.certify.factor`),
    which charges ``K``'s sums' rounding too. Then ``kappa`` is rounded up.

    Equilibrated (``equilibrate``). ``rho`` and ``lambda`` are Euclidean in theta: a column of
    entries near 1e5 makes ``rho`` 1e5, and a column of spread 1e-2 beside the intercept makes
    ``lambda`` small, so that ``kappa`` of a converged fit was 2.5e11 (n = 2e4, eight such
    features) and the separation LP ran (a quarter of a second, ten times the fit). With ``S
    = diag(s)``, ``s_i`` powers of two, ``X' = X S`` and ``theta' = S^-1 theta`` give ``X'
    theta' = X theta`` exactly in floating point (a product by a power of two is exact, and
    ``(x s)(t / s)`` rounds as ``x t``), so ``l'(theta') = l(theta)`` and each has a maximiser
    if the other has. The proof above for ``l'`` reads ``X'``'s columns' maxima (``big s``,
    exact), theta' (``T / s``, exact), the gradient ``G' = S G`` (exact; its error bound
    ``rho'`` times the same sums, by Minkowski over the rows ``x_j S``) and the sample's ``K' = S
    K S`` (exact: each entry scaled by ``s_i s_k``, so its rounding is that of ``K`` formed from
    the rows ``x_j S``); the logits themselves, and the means from them, are ``X theta``'s.
    A scaled entry that would fall below the smallest normal number (the scaling then not
    exact) leaves the equilibrated proof unmade (None). On that design ``kappa`` fell to 0.02.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # (a huge theta: kappa inf, no proof)
        return _curvature_ball(dataset, theta, G, rows_per_column, subgradient, equilibrate)


def _exactly_scaled(a: np.ndarray) -> bool:
    """Whether a table scaled by powers of two is still exact: finite, and no nonzero entry
    below the smallest normal number (:func:`curvature_ball`'s equilibrated proof)."""
    a = np.abs(a)
    return bool(np.all(np.isfinite(a)) and np.all((a == 0) | (a >= np.finfo(np.float64).tiny)))


def _curvature_ball(dataset, theta, G, rows_per_column, subgradient, equilibrate=False):
    t0 = time.perf_counter()
    fam = dataset.family
    c = _BALL_CONSTANT.get(fam.name)
    big = getattr(dataset, "_column_max", None) if c is not None else None
    if big is None:
        return None
    u = _kernels.unit_roundoff(np.float64)
    gam = _kernels.gamma
    X, Y, w = dataset.X, dataset.Y, dataset.weights
    n, m = X.shape
    T = np.asarray(theta, dtype=np.float64).reshape(m, -1)
    big = np.asarray(big, dtype=np.float64)
    if not (np.all(np.isfinite(big)) and np.all(np.isfinite(T))):
        return None
    if fam.multiclass:
        k = T.shape[1]
        q = k - 1
        if q < 1 or np.any(T[:, q] != 0.0):
            return None  # not the pivot gauge
        g_free = np.asarray(G, dtype=np.float64).reshape(m, k)[:, :q]
    else:
        k, q = 2, 1
        T = T[:, :1]
        g_free = np.asarray(G, dtype=np.float64).reshape(m, -1)[:, :1]
    T_eta = T  # (the logits: X theta, whatever the coordinates)
    scale = None
    if equilibrate:  # the proof in theta_i / s_i (Notes): every scaling exact, or none made
        scale = _power_of_two_scaling(big, np.ones(m, dtype=bool))
        big, T, g_free = big * scale, T / scale[:, None], g_free * scale[:, None]
        if not all(_exactly_scaled(a) for a in (big, T, g_free)):
            return None
    # rho >= max_j |x_j|, and the means' relative error delta (Notes)
    rho = float(np.sqrt(np.sum(big * big))) * (1.0 + gam(m + 2, u))
    theta_norm = float(np.sqrt((T * T).sum(axis=0)).max(initial=0.0)) * (1.0 + gam(m + 2, u))
    eta_err = gam(m + 4, u) * rho * theta_norm
    total_w = float(w.sum()) * (1.0 + gam(n, u))
    # |g| from above: the computed gradient plus its error
    if fam.is_probability:
        delta = float(np.expm1(4.0 * eta_err + gam(2 * k + 16, u)))
        y_max = max(float(Y.max(initial=0.0)), -float(Y.min(initial=0.0)))  # max |Y|, no copy
        y_l1 = y_max * (k if Y.ndim == 2 else 1) * (1.0 + 2 * k * u)
        g_err = rho * total_w * (2.0 * delta + gam(n + 4, u) * (y_l1 + 1.0 + delta))
    else:  # the means' and the data's sums over every row (one pass: Notes)
        eta_all = np.asarray(X @ T_eta[:, 0]).ravel()
        S_y = float(w @ np.abs(Y.ravel())) * (1.0 + gam(n + 2, u))
        if c > 0:  # Poisson
            delta = float(np.expm1(eta_err + gam(8, u)))
            S_mu = float(w @ nx.exp(eta_all)) * (1.0 + gam(n + 2, u))
            g_err = rho * (2.0 * delta * S_mu + gam(n + 4, u) * (S_y + S_mu))
        else:  # gaussian
            delta = 0.0
            S_eta = float(w @ np.abs(eta_all)) * (1.0 + gam(n + 2, u))
            g_err = rho * (eta_err * total_w + gam(n + 4, u) * (S_y + S_eta))
        del eta_all
    g_bound = ((float(np.linalg.norm(g_free)) * (1.0 + gam(m * q + 2, u)) + g_err + subgradient)
               * (1.0 + 6 * u))
    # lambda from below: K = sum_sample w_j mu_j x_j x_j^T
    step = max(1, n // max(1, rows_per_column * m))
    Xs, ws = X[::step], w[::step]
    eta = Xs @ T_eta
    if not fam.is_probability:  # the row's curvature itself (1 for the gaussian family)
        mu = nx.exp(eta[:, 0]) if c > 0 else np.ones(len(ws))
    else:
        if fam.multiclass:
            P = nx.softmax(eta)
        else:
            P = nx.softmax(np.column_stack([eta[:, 0], np.zeros(len(eta))]))
        a, b = P[:, :q].min(axis=1), P[:, q]
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = np.where(a * q + b > 0, a * b / (a * q + b), 0.0)
    d = ws * mu * ((1.0 - gam(8, u)) / (1.0 + delta))
    d = np.where(np.isfinite(d) & (d > 0), d, 0.0)
    K = design.weighted_gram(Xs, d) if design.is_sparse(Xs) else Xs.T @ (d[:, None] * Xs)
    if scale is not None:  # S K S, exactly (Notes)
        K = K * scale[:, None] * scale[None, :]
        if not _exactly_scaled(K):
            return None
    lam = _smallest_eigenvalue_bound(K, terms=len(d))
    if c > 0:
        kappa = (c * rho * g_bound / lam) * (1.0 + gam(4, u)) if lam > 0 else float("inf")
        radius = 4.0 / (c * rho) if rho > 0 else float("inf")
    else:  # the gaussian family's constant curvature: any lambda > 0 (Notes)
        kappa = 0.0 if lam > 0 else float("inf")
        radius = 2.0 * g_bound / lam * (1.0 + gam(4, u)) if lam > 0 else float("inf")
    return CurvatureBall(
        proves_attained=bool(kappa <= 0.5),
        kappa=float(kappa),
        gradient_bound=float(g_bound),
        curvature_bound=float(lam),
        row_norm_bound=rho,
        radius=radius,
        rows=int(len(d)),
        seconds=time.perf_counter() - t0,
        column_scale=scale,
    )


def _smallest_eigenvalue_bound(K: np.ndarray, terms: int) -> float:
    """A lower bound of ``lambda_min`` of the exact sum that ``K`` (p, p) was formed from.

    ``K`` is a sum of ``terms`` positive semidefinite rank-one terms ``d_j x_j x_j^T``, each
    entry formed with at most ``terms + 8`` roundings on any path. As in
    :func:`dualmaxent.certify.factor`: equilibrate to ``H = D K D`` (unit diagonal; the exact
    ``D K* D`` is within ``p gamma(terms + 8) (1 + gamma(terms + 8))`` of ``H`` in 2-norm, by
    Cauchy-Schwarz over the terms), estimate ``lambda_min(H)`` by ``eigvalsh``, and prove half
    of it (or a sixteenth) by Cholesky of ``fl(H - sigma I)``
    (:func:`dualmaxent.certify.shifted_cholesky_bound`). Then ``lambda_min(K*) >= lambda_min(D K* D) / max(D)^2``. 0 when
    nothing is proved (a column without curvature, a singular or tiny ``K``).
    """
    u = _kernels.unit_roundoff(np.float64)
    gam = _kernels.gamma
    p = K.shape[0]
    diag = np.diag(K).copy()
    if p == 0 or not np.all(np.isfinite(K)) or not np.all(diag > 0):
        return 0.0
    dd = 1.0 / np.sqrt(diag)
    H = dd[:, None] * K * dd[None, :]
    rounding = p * gam(terms + 8, u) * (1.0 + gam(terms + 8, u))
    estimate = float(np.linalg.eigvalsh(H)[0])
    if not estimate > rounding:
        return 0.0
    bound = shifted_cholesky_bound(H, (0.5 * estimate, 0.0625 * estimate), rounding)
    if bound is None:
        return 0.0
    # (1 / max(D)^2 >= min(diag) (1 - 4 u): its product, not the square of D's largest entry,
    # which overflows a Python float for a subnormal diagonal)
    return max(bound, 0.0) * float(diag.min()) * (1.0 - 8 * u)


def shifted_cholesky_bound(H: np.ndarray, shifts, rounding: float = 0.0) -> float | None:
    """A proved lower bound of the smallest eigenvalue of the symmetric ``H`` (p, p), from the
    first shift ``sigma`` of ``shifts`` at which ``H - sigma I`` factors by Cholesky; None when
    none does.

    A Cholesky factorisation that completes in floating point is exact for a nearby matrix:
    ``H - sigma I + E = R R^T`` with ``|E| <= gamma(p + 1) |R| |R^T|`` (Higham, *Accuracy and
    Stability*, Thm 10.3), so ``||E||_2 <= gamma(p + 1) ||R||_F^2`` and ``lambda_min(H) >=
    sigma - ||E||_2``; forming ``H - sigma I`` rounds its diagonal by ``u max |h_ii - sigma|``,
    and ``||R||_F^2`` is summed with a relative error ``gamma(p^2)``. ``rounding``: what
    forming ``H`` itself may have cost (the caller's bound), subtracted too.
    """
    p = H.shape[0]
    for sigma in shifts:
        # H - sigma I, its diagonal shifted in a copy: the same numbers as with an identity
        # matrix (h - 0 is h), without its two (p, p) temporaries (0.85 of 3.5 ms at p = 459);
        # the copy in Fortran order, which LAPACK factors in place (scipy's own copy of a
        # C-ordered matrix was a second one), so its diagonal is read first: factor at p = 459
        # (X^T X of 3000 Gaussian rows, one thread, best of 30) 6.8 -> 4.3-4.7 ms, a
        # certificate at n = 1e3, m = 51, ten classes, unpenalised 16.9 -> 16.1 (best of 40,
        # interleaved); the same numbers bit for bit. (The first factorisation's copy made
        # so as well, and H formed with one temporary, gained 0.1 ms more there but cost 2 ms
        # a certificate at n = 1e4, m = 51, ten classes: 22.7 against 24.9.)
        shifted = np.array(H, order="F")
        shifted.flat[::p + 1] -= sigma
        diagonal = float(np.abs(np.diag(shifted)).max())
        try:
            R = nx.cholesky(shifted, clean=True, overwrite=True)
        except np.linalg.LinAlgError:
            continue
        if not np.all(np.isfinite(R)):
            continue
        size = float(np.einsum("ij,ij->", R, R)) * (1.0 + gamma(p * p))
        return sigma - U * diagonal - gamma(p + 1) * size - rounding
    return None


def factor(C: np.ndarray, terms: int = 0, rtol: float = RANK_RTOL,
           cholesky_min: int | None = None, bound: bool = True):
    """A solve with symmetric positive semidefinite ``C``, shape (p, p), on its numerical range,
    and a lower bound of its smallest eigenvalue there.

    ``C`` is equilibrated to unit diagonal, ``H = D C D`` (the units of ``X``'s columns must not
    decide which directions count as singular). From :data:`CHOLESKY_MIN` entries on ``H`` is
    factored by Cholesky, and the smallest eigenvalue bounded below by a second, shifted
    factorisation (below); where either fails (``H`` singular to working precision, or
    smaller), ``H`` is eigendecomposed and eigenvalues below ``RANK_RTOL`` times the largest
    dropped (a pseudo-inverse).

    The shifted factorisation. Let ``H`` be the equilibrated matrix as formed (its lower
    triangle, the one LAPACK reads) and ``sigma > 0``. If Cholesky of ``fl(H - sigma I)``
    runs to completion with a factor ``R``, then ``R^T R = H - sigma I + E + F`` with ``|E|
    <= u |diag(H - sigma I)|`` (the subtraction's rounding; diagonal) and ``|F| <= gamma(p +
    1) |R^T| |R|`` (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Thm
    10.3; the proof holds for any order of the inner products, blocked ones included), so
    ``H - sigma I + E + F`` is positive semidefinite and

        ``lambda_min(H) >= sigma - max|E| - ||F||_2 >= sigma - u max|h_ii - sigma| - gamma(p
        + 1) ||R||_F^2``,

    since ``|| |R^T| |R| ||_2 <= || |R| ||_F^2 = ||R||_F^2``; that norm is summed in floating
    point, so it is taken ``1 + gamma(p^2)`` times larger. ``sigma`` is half an estimate of
    ``lambda_min(H)`` from above (inverse iteration with the first factor: a Rayleigh quotient
    of ``H^-1``), then an eighth of it once more if that factorisation fails; a bound that
    comes out nonpositive is 0 (nothing proved).

    ``H`` itself is the exact ``H* = D C* D`` of the curvature ``C*`` of the computed means,
    up to the rounding of its sums. ``C``'s entry ``(i, j)`` is a sum of ``terms`` (the
    rows) products of at most six factors, with at most eight roundings each (seven for the
    stacked product of many classes, :func:`_stacked_curvature`), so within ``gamma(terms +
    8) M_ij`` of ``C*_ij``,
    ``M`` the same sum of absolute values; ``M_ij <= sqrt(M_ii M_jj)`` (Cauchy-Schwarz over
    the rows, with ``p_c p_d <= p_c (1 - p_c)`` for two classes ``c != d`` of one row) and
    ``M_ii = C*_ii`` (its terms are nonnegative), so the entries of ``D M D`` are at most
    ``1 + gamma(terms + 8)`` and ``||H - H*||_2 <= ||H - H*||_F <= p gamma(terms + 8) (1 +
    gamma(terms + 8))``, also subtracted. On the eigendecomposition's path the same shifted
    factorisation proves the bound when every direction is kept (``sigma`` half the smallest
    computed eigenvalue, then an eighth); on a kept range (a singular ``H``) the eigensolver's
    backward error, ``4 p u`` times the largest eigenvalue, is subtracted from the smallest kept
    one, and an eigenvalue within that error proves nothing.

    Parameters
    ----------
    C : ndarray of shape (p, p)
    terms : int
        The number of terms (rows) of ``C``'s sums (0: ``C`` taken as exact).
    rtol : float
        The relative eigenvalue below which a direction is dropped (:data:`RANK_RTOL`;
        :data:`SINGLE_RANK_RTOL` for a curvature formed in float32).
    cholesky_min : int, optional
        The size from which the Cholesky path is tried first (None: :data:`CHOLESKY_MIN`; 0
        where a positive definite ``C`` is expected and the eigendecomposition is not wanted).
        Below :data:`CHOLESKY_CHECKED_MAX` entries a factor whose smallest eigenvalue's
        estimate is within ``rtol`` of the largest's gives way to the eigendecomposition.
    bound : bool
        Whether ``smallest`` is wanted (only the attainment proof reads it): False skips its
        shifted factorisation (60 of a penalised certificate's 790 us at n = 1e3, three
        classes, m = 51) and gives 0, a lower bound that proves nothing.

    Returns
    -------
    solve : callable
        ``t`` of shape (p,) to ``a`` with ``C a = t`` on the kept range; ``whole=True``: the
        dropped range (and an entry without curvature) as a unit eigenvalue of the
        equilibrated matrix, a positive definite preconditioner (:func:`_pcg_step`).
    rank : int
    condition : float
        Largest over smallest kept eigenvalue of the equilibrated matrix (by Cholesky: the
        power iteration's estimate of the largest over the inverse iteration's of the smallest).
    smallest : float
        A lower bound of the smallest eigenvalue of ``C`` on the kept range:
        ``lambda_min(D C D) / max(d)^2``.
    """
    p = C.shape[0]
    if p == 0:
        return _no_step, 0, 1.0, 0.0
    if p == 1 and C[0, 0] > 0:
        # one entry (an L2 fit's intercept): C is its own eigenvalue, within gamma(terms + 8)
        # of the exact one relative (its terms are nonnegative: the bound below with p = 1),
        # so C / (1 + gamma) rounded down is a lower bound (0.1 ms of eigh at n = 1e3)
        c = float(C[0, 0])
        smallest = c / (1.0 + gamma(terms + 8) if terms else 1.0) * (1.0 - 4 * U)

        def solve_one(t, whole=False):
            return np.asarray(t, dtype=np.float64) / c

        return solve_one, 1, 1.0, smallest
    diag = np.diag(C).copy()
    if not np.any(diag > 0):
        # no curvature at all (every row forced, separated data): H below would be zero, its
        # eigendecomposition keeping nothing (20 ms at p = 459), the same answer
        return _no_step, 0, 1.0, 0.0
    d = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 0.0)
    H = d[:, None] * C * d[None, :]
    rounding = p * gamma(terms + 8) * (1.0 + gamma(terms + 8)) if terms else 0.0
    if p >= (CHOLESKY_MIN if cholesky_min is None else cholesky_min) and np.all(diag > 0):
        try:  # (LAPACK's own call, :func:`dualmaxent._numerics.cholesky`; H not finite: none)
            L = nx.cholesky(H) if np.all(np.isfinite(H)) else None
        except np.linalg.LinAlgError:
            L = None
        if L is not None:
            # the smallest eigenvalue from above (inverse iteration), the largest from below
            # (power iteration): a few products of p^2 each
            x = np.ones(p) / np.sqrt(p)
            y = x
            for _ in range(INVERSE_ITERATIONS):
                y = nx.cho_solve(L, x)
                x = y / np.linalg.norm(y)
            low = 1.0 / float(x @ nx.cho_solve(L, x))
            v = np.ones(p) / np.sqrt(p)
            for _ in range(INVERSE_ITERATIONS):
                v = H @ v
                v /= np.linalg.norm(v)
            top = float(v @ (H @ v))
            if p < CHOLESKY_CHECKED_MAX and not low > rtol * top:
                # numerically singular: the pseudo-inverse below, whose range drops it
                L = None
        if L is not None:
            def solve(t, whole=False):
                return d * nx.cho_solve(L, d * t)

            return solve, p, max(top / low, 1.0), (_unequilibrated(
                _shifted_bound(H, low, rounding), d) if bound else 0.0)
    vals, vecs = np.linalg.eigh(H)
    top = float(vals.max(initial=0.0))
    keep = vals > rtol * top if top > 0 else np.zeros(vals.shape, dtype=bool)
    if not keep.any():  # no curvature at all: nothing can move; the residual says the rest
        return _no_step, 0, 1.0, 0.0
    V, kept = vecs[:, keep], vals[keep]
    # the dropped directions' scale when they count as unit eigenvalues (``whole``): an entry
    # with no curvature at all is scaled as the largest diagonal entry
    d_whole = np.where(d > 0, d, 1.0 / np.sqrt(diag.max(initial=0.0) or 1.0))

    def solve(t, whole=False):
        x = V.T @ (d * t)
        a = d * (V @ (x / kept))
        if whole:  # a preconditioner: positive definite, the dropped range at unit scale
            z = d_whole * t
            a += d_whole * (z - V @ (V.T @ z))
        return a

    # the computed eigenvalues are those of a matrix near H, not H's: where every direction is
    # kept, the shifted factorisation proves the bound (as on the Cholesky path); on a kept
    # range the eigensolver's backward error, taken as p 4 u times the largest eigenvalue
    # (LAPACK's "p(n) eps ||H||"), is subtracted, and an eigenvalue within it proves nothing
    smallest = 0.0
    if bound and float(kept.min()) > len(vals) * 4 * U * top:
        smallest = _unequilibrated(
            _shifted_bound(H, float(kept.min()), rounding) if keep.all()
            else float(kept.min()) - rounding - len(vals) * 4 * U * top, d)
    return solve, int(keep.sum()), top / float(kept.min()), smallest


def _shifted_bound(H, low: float, rounding: float) -> float:
    """:func:`shifted_cholesky_bound` of the equilibrated ``H`` from an estimate ``low`` of
    its smallest eigenvalue (shifts of a half, then an eighth of a half), 0 when none factors."""
    return shifted_cholesky_bound(H, (0.5 * low, 0.0625 * low), rounding) or 0.0


def _unequilibrated(bound: float, d: np.ndarray) -> "_Smallest":
    """A lower bound of ``lambda_min(C)`` from one of ``lambda_min(D C D)``, ``D = diag(d)``:
    divided by ``max(d)^2`` (``x^T C x = y^T D C D y`` with ``y = D^-1 x``, ``|y| >= |x| /
    max(d)``), rounded down; 0 for a bound below 0. (Divided twice: ``max(d)^2`` overflows
    for a column of curvature below 1e-308, whose bound is then 0, not an OverflowError.) It
    keeps ``bound`` and ``d`` (:class:`_Smallest`)."""
    top = float(d.max())
    bound = max(bound, 0.0)
    return _Smallest(bound / top / top * (1.0 - 8 * U), bound, d)


class _Smallest(float):
    """A proved lower bound of ``lambda_min(C)`` (the number itself) that keeps the bound of
    ``lambda_min(D C D)`` it came from (``scaled``) and ``d`` (:func:`factor`'s equilibration
    of ``C``'s entries), for the attainment proof in those coordinates
    (:func:`_second_step`). Arithmetic on it gives a plain float: a bound scaled or taken
    from elsewhere (a sample's ratio, the Kronecker bound) has only the plain proof."""

    def __new__(cls, value: float, scaled: float, d: np.ndarray):
        self = super().__new__(cls, value)
        self.scaled, self.d = float(scaled), d
        return self

    @staticmethod
    def divided(bound, ratio: float):
        """``bound / ratio`` (a bound of ``ratio C``'s to one of ``C``'s), with its ``scaled``
        bound divided too, rounded down (``D`` kept: ``D (ratio C) D = ratio D C D``)."""
        if ratio == 1.0:
            return bound
        if not isinstance(bound, _Smallest):
            return bound / ratio
        return _Smallest(bound / ratio, bound.scaled / ratio * (1.0 - 2 * U), bound.d)


def _second_step(data, engine, one, smallest, r_S, feat, cls) -> float:
    """The attainment proof's ``second_step`` (module docstring): ``reach / lambda_min(C_SS)``,
    ``reach = 2 max_j ||x_j|| ||r_S||`` (:func:`_step_reach`, ``one`` pass 1's sums and
    ``r_S`` from :func:`_residual_on_S`), or, where that is not below
    :data:`MARGIN_FRACTION`, the same bound in the coordinates that equilibrate ``C_SS`` when
    it is smaller.

    The proof bounds the logits' move of the step ``a = C_SS^-1 r_S``: ``|x_j^T a_c| <=
    ||x_j|| ||a||`` and ``||a|| <= ||r_S|| / lambda_min(C_SS)``. With ``a = D a'`` (``D =
    diag(d)`` over the entries of ``S``, :func:`factor`'s), ``a' = (D C_SS D)^-1 D r_S``, so
    ``|x_j^T a_c| = |(x_j o d_c)^T a'_c| <= max_c ||big o d_c|| ||D r_S|| / lambda_min(D C_SS
    D)``, ``d_c`` the scales of class ``c``'s entries and ``big`` the columns' largest
    absolute entries (``|x_ji| <= big_i``); each computed norm within ``gamma(p + 2)`` of its
    own, so each is taken that much larger. Features whose sizes differ by orders of
    magnitude give a ``lambda_min(C_SS)`` that small, the price of the units, not of the
    geometry: ten classes, n = 2e4, ten features of sizes 1e-1 to 1e2, probabilities down to
    1e-91, 2.2 against 5.4e-3 (the proof failed and the separation LP ran, 10 s for a fit of
    0.2 s). ``smallest`` a :class:`_Smallest` (else the plain bound alone); ``big`` the data
    set's held maxima or, in memory, computed here (one pass, only where the plain bound
    fails). (The argument: module docstring, A proof of attainment.)"""
    plain = _step_reach(one, r_S) / smallest
    scaled = getattr(smallest, "scaled", 0.0)
    if plain < MARGIN_FRACTION or not scaled > 0 or engine is not None:
        return plain
    big = held_column_max(data)
    if big is None:
        big = design.column_absmax(data.X)
    d = smallest.d
    grow = 1.0 + gamma(d.size + 2)
    size = np.zeros(int(cls.max(initial=0)) + 1)
    np.add.at(size, cls, (big[feat] * d) ** 2)
    step = (2.0 * float(np.sqrt(size.max(initial=0.0))) * grow
            * float(np.linalg.norm(d * r_S)) * grow)
    return min(plain, step / scaled * (1.0 + 8 * U))


# -- the passes: plain float64 expressions on one row block ------------------------------------

@dataclass(frozen=True, eq=False)
class _ColumnBounds:
    """The columns' largest absolute entries ``big`` (m,) of a dense ``X`` in memory, and
    ``row_norm`` (``|big|_2`` rounded up, or None: the rows' own norms): what passes 1 and 2
    otherwise take from ``X`` itself for their round-off budgets (module docstring, Budgets
    from the columns' largest entries).
    """

    big: np.ndarray
    row_norm: float | None

    def abs_xt(self, T: np.ndarray) -> np.ndarray:
        """``big_i sum_j T_jc``, (m, c): entry by entry at least ``|X_b|^T T`` for a block's
        nonnegative (b, c) table ``T`` (``|x_ji| <= big_i``), its sum rounded as the product's
        would be (``b`` terms, then the blocks' sums added in turn: the same depth)."""
        return np.multiply.outer(self.big, T.sum(axis=0))


def _column_bounds(data, engine, penalty: Penalty) -> _ColumnBounds | None:
    """The column bounds of a fit of a dense Bernoulli or categorical data set in memory that
    holds its columns' largest entries already (:meth:`dualmaxent.Dataset.from_arrays` keeps
    them from its scale check); None otherwise. Penalised, the rows' norms are bounded too
    (``row_norm``); without a penalty they are the rows' own (``row_norm`` None).

    Not for the gaussian and Poisson families: their residuals ``|y - mu|`` have no bound of
    one, and their verdict's excess test (the gap beyond its round-off) would be loosened by a
    looser budget. Without a penalty the rows' norms enter the given point's second-order
    charge and the attainment proof, where ``|big|_2`` is several times the largest row's
    norm (4.5 against 1.5 to 2.1 times ``sqrt(m)`` on standard normal columns at n = 1e5, 10
    and 50 of them), so they are formed from ``X``; the products alone are bounded, and a
    bracket that then proves no attainment is taken again with ``X`` itself (:func:`bracket`).
    Measured, the certificate of an unpenalised two-class fit (one BLAS thread, interleaved in
    one process, best of 5): n = 1e5, 50 features 20.3 -> 14.2 ms, ten features 8.8 -> 7.4;
    n = 1e4, ten features 1.5 -> 1.4 (docs/performance.md has the other cells).
    Penalised, with the rows' norms bounded too, at n = 1e5, ten classes, 50 features, tol
    1e-4 the given point's bracket no longer closed and the checker took its Newton step (98
    -> 459 ms); with the products alone, on heavy-tailed columns (Cauchy, log-normal, a few
    entries of 1e2 to 1e6 among standard normal ones) the attainment proof failed and the
    bracket was taken again in 15 of 120 certificates, the whole set 4 % slower."""
    if engine is not None or design.is_sparse(data.X) \
            or type(data.family) not in (Bernoulli, Categorical):
        return None
    big = held_column_max(data)
    if big is None or not np.all(np.isfinite(big)):
        return None
    big = np.asarray(big, dtype=np.float64)
    if not penalty.active:
        return _ColumnBounds(big, None)
    row_norm = float(np.sqrt(big @ big)) * (1.0 + gamma(data.m + 2))
    return _ColumnBounds(big, row_norm) if np.isfinite(row_norm) else None


def _runner(data, engine, mask, columns=None):
    """``run(fn, *args)``: ``fn`` summed over the row blocks (of an engine, or in memory).

    ``columns`` (:class:`_ColumnBounds`, in memory) is kept as ``run.columns``, which the
    bracket hands to passes 1 and 2 (:func:`_pass_one`, :func:`_pass_two`): their budgets then
    come from the columns' largest entries.

    In memory the blocks are summed in order on the calling thread. Two threads, each summing
    half of the blocks, were slower on every size measured (n = 1e4 .. 1e5, m = 10, two and
    three classes, blocks of 0.25 to 2 MB; e.g. 9.5 ms against 7.4 at n = 1e5, two classes,
    L2): a block's work is some forty numpy calls of 10 to 100 us, and the two threads spend
    what they gain handing the GIL back and forth between them.

    A categorical ``Y`` is handed to the blocks class-major (Fortran order), as are the tables
    pass 1 keeps and ``mu~``: the blocks' (b, q) tables then have their long axis contiguous,
    and numpy's row-wise broadcasts (``w[:, None] * D``) run along it instead of one 3-entry
    row at a time (80 us against 15 for a (23831, 3) table). Each block's rows are copied
    as they are handed over, not all of ``Y`` at once: an (n, k) table of fresh memory costs
    more than the copy where its pages are first touched (on this project's virtual machine
    0.04 s of a 0.25 s certificate at n = 1e6, ten classes, and up to 0.1 s when the host
    took the pages back).
    """
    if engine is not None:
        if mask is not None:
            raise DualMaxentError("the reduced problem of separated data needs the data in "
                                  "memory; it cannot run through an engine")
        def mapped(fn, *args, sample=None, **arrays):
            return engine.map_reduce(fn, None, *args, combine=_Sums.merge)

        mapped.depth = data.n  # (the engine's chunks and its reduction's order: not known here)
        mapped.columns = None
        return mapped
    X, w, Y = data.X, data.weights, data.Y
    n, m = X.shape
    # a sparse X is one block (slicing its rows would copy them; its products are not blocked)
    if design.is_sparse(X):
        rows = n
    else:
        # equal blocks of at most BLOCK_BYTES of X and two (b, q) tables
        q = data.Y.shape[1] if data.Y.ndim == 2 else 1
        rows = max(256, -(-n // -(-n * 8 * (m + 2 * q) // BLOCK_BYTES)))

    def run(fn, *args, sample=None, **arrays):
        # sample: about this many rows form the curvature, every so many rows of all n (a
        # fixed stride, each block handed its rows of it as a slice); arrays: (n, ...) tables
        # the block function reads or writes, passed sliced to its rows (anything else as it is)
        every = None if sample is None else _sample_stride(n, sample)
        total = None
        with nx.one_blas_thread():
            for start in range(0, n, rows):
                sl = slice(start, min(start + rows, n))
                kw = {name: a[sl] if isinstance(a, np.ndarray) else a
                      for name, a in arrays.items() if a is not None}
                if every is not None:
                    kw["curvature"] = slice((-start) % every, None, every)
                Xb = X if rows >= n else X[sl]
                part = fn(Xb, np.asfortranarray(Y[sl]), w[sl],
                          None if mask is None else mask[sl], *args, **kw)
                total = part if total is None else total.merge(part)
        return total

    run.depth = sum_depth(n, rows)
    run.columns = columns
    return run


def sum_depth(n: int, rows: int) -> int:
    """The length ``L`` whose ``gamma(L)`` bounds the rounding of a sum over ``n`` rows formed
    in blocks of at most ``rows`` rows, the blocks' sums then added in turn: ``min(n, rows +
    ceil(n / rows))``.

    Any order of adding ``b`` terms is a binary tree, in which each term meets at most ``b -
    1`` additions; the computed sum is ``sum_i x_i (1 + delta_i)`` with ``|delta_i| <=
    gamma(h_i)``, ``h_i`` the roundings on term ``i``'s path (Higham, *Accuracy and Stability
    of Numerical Algorithms*, 2nd ed., section 4.2). A term of a block formed by BLAS or numpy
    in any order, its product with a weight (one rounding, none with a fused multiply-add)
    and the ``ceil(n / rows) - 1`` additions of the blocks' sums meet at most ``rows +
    ceil(n / rows) - 1`` roundings, whatever the kernel. At n = 1e6, 51 columns, two classes
    (blocks of 4.9e3 rows) that is 5.1e3, not 1e6: every summation bound of the bracket is 195
    times smaller. One block (a sparse ``X``) is ``n``, as any order of ``n`` terms."""
    if rows >= n:
        return int(n)
    return int(min(n, rows + -(-n // rows)))


class _Deferred:
    """A Fortran-ordered table of ``shape`` allocated when first called for, then the same
    one: ``mu~`` (:func:`_bracket`), which pass 2 writes, is not held through pass 1 (an (n,
    q) table: 0.1 times the sparse X's bytes of the categorical problem of ``bench
    --sparse``, whose certificate peaked in pass 1)."""

    def __init__(self, shape):
        self.shape, self.value = shape, None

    def __call__(self) -> np.ndarray:
        if self.value is None:
            self.value = np.empty(self.shape, order="F")
        return self.value


class _Reduce:
    """What pass 1 reduces its (m, q) products with (:func:`_pass_one`): the equality rows
    ``eq`` (a slice or a mask of the m rows) and ``budget(table, cols)``, the largest entry of
    the gradient's budget on theta's columns ``cols`` (:func:`_kkt_budget`)."""

    def __init__(self, eq, budget):
        self.eq, self.budget = eq, budget


class _Sums:
    """Fields summed over blocks (arrays and floats), minima or maxima by name."""

    MIN = ("t_max", "min_entry", "outside", "relative_margin", "pt_min_entry")
    MAX = ("simplex", "x_norm", "x_max", "e_max", "pt_simplex", "z_spread", "z_abs")

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def merge(self, other: "_Sums") -> "_Sums":
        out = {}
        for key, value in self.__dict__.items():
            o = other.__dict__[key]
            if key in self.MIN:
                out[key] = np.minimum(value, o)
            elif key in self.MAX:
                out[key] = np.maximum(value, o)
            else:
                out[key] = value + o
        return _Sums(**out)


def _rows(a: np.ndarray) -> np.ndarray:
    """Row sums of a (b, q) table, as one matrix-vector product (numpy's row reductions over a
    few columns are slow), in float32 for a float32 table, else float64; of one column, its
    copy (numpy's product with an inner dimension of 1 takes no BLAS kernel: 221 us against
    14 on 4e4 rows)."""
    if a.shape[1] == 1:
        return a[:, 0].astype(np.result_type(a.dtype, np.float32))
    return a @ np.ones(a.shape[1], dtype=np.result_type(a.dtype, np.float32))


def _rowmax(a: np.ndarray) -> np.ndarray:
    """Row maxima of a (b, q) table, column by column."""
    out = a[:, 0].copy()
    for c in range(1, a.shape[1]):
        np.maximum(out, a[:, c], out=out)
    return out


def _xt(Xb, T, absolute: bool = False) -> np.ndarray:
    """``X^T T`` on one block, shape (m, c); ``|X|^T T`` with ``absolute``.

    scipy's sparse product reads a table in C order and copies any other (its
    ``other.ravel()``), and ``|X|`` of a sparse ``X`` with negative entries is a copy of its
    entries (:func:`_absolute`). For a CSR ``X`` of float64 (the data sets', one block of all
    n rows) either is avoided by :func:`dualmaxent.design.csr_xt`, the same operations in the same order as
    scipy's product; otherwise the class-major (n, c) tables of a sparse ``X`` are
    multiplied :data:`XT_CHUNK_COLUMNS` columns at a time, each chunk's copy small. Every
    entry is the same sum, in the same order, as the whole product's."""
    T = np.asarray(T)
    if isinstance(Xb, design.OnesColumn):  # (its product copies neither T nor |X|)
        return design.ones_xt(Xb, T, absolute and design.has_negative(Xb))
    if (design.is_sparse(Xb) and Xb.format == "csr" and T.ndim == 2
            and T.dtype == np.float64 and Xb.dtype == np.float64):
        signed = absolute and design.has_negative(Xb)
        if signed or not T.flags.c_contiguous:
            return design.csr_xt(Xb, T, signed)
    if absolute:
        Xb = _absolute(Xb)
    if not design.is_sparse(Xb) and T.ndim == 2 and T.shape[1] >= XT_TRANSPOSED_COLUMNS:
        # (the same sums; the (m, c) result copied to C order, as X^T T's)
        return np.ascontiguousarray((T.T @ Xb).T)
    if not design.is_sparse(Xb) or T.ndim == 1 or T.flags.c_contiguous \
            or T.shape[1] <= XT_CHUNK_COLUMNS:
        return np.asarray(Xb.T @ T)
    out = np.empty((Xb.shape[1], T.shape[1]))
    for lo in range(0, T.shape[1], XT_CHUNK_COLUMNS):
        cols = slice(lo, lo + XT_CHUNK_COLUMNS)
        out[:, cols] = Xb.T @ np.ascontiguousarray(T[:, cols])
    return out


def _abs_xt(Xb, T, columns=None) -> np.ndarray:
    """``|X|^T T`` on one block (:func:`_xt`), or with ``columns`` (:class:`_ColumnBounds`)
    its bound from the columns' largest entries."""
    return _xt(Xb, T, True) if columns is None else columns.abs_xt(T)


def _xt_halves(Xb, T, q: int, absolute: bool = False, columns=None):
    """``(X^T T[:, :q], X^T T[:, q:])`` (``|X|`` with ``absolute``, or with ``columns`` its
    bound, :func:`_abs_xt`): two arrays when the product goes by column chunks anyway
    (:func:`_xt`; then each half is freed on its own, an (m, q) table), else the halves of one
    product (one pass over a dense block for both)."""
    if design.is_sparse(Xb) and not T.flags.c_contiguous and T.shape[1] > XT_CHUNK_COLUMNS:
        return _xt(Xb, T[:, :q], absolute), _xt(Xb, T[:, q:], absolute)
    both = _abs_xt(Xb, T, columns) if absolute else _xt(Xb, T)
    return both[:, :q], both[:, q:]


def _absolute(Xb):
    """``|X|`` of one block: a sparse ``X`` with no negative entry is its own (text designs'
    counts and tf-idf weights; the same products as with its copy, which took 0.67 times the
    sparse X's bytes: one float per stored entry), otherwise
    :func:`dualmaxent.design.absolute`."""
    if design.is_sparse(Xb) and not design.has_negative(Xb):
        return Xb
    return design.absolute(Xb)


#: :func:`_row_index`'s answers by mask (its shape, type and bytes): a certificate asks for the
#: same two masks eleven times or more (20 to 60 us of a 0.5 ms certificate at n = 1e3).
_ROW_INDEX_MEMO: dict = {}
_ROW_INDEX_MEMO_SIZE = 64


def _row_index(mask: np.ndarray):
    """Rows of a boolean mask as a slice when they are one run (the penalised rows: all but
    the intercept's; the equality rows: the intercept's), else the mask: indexing with a slice
    is a view, with a mask a copy of an (m, q) table."""
    key = (mask.shape, mask.dtype.char, mask.tobytes())
    got = _ROW_INDEX_MEMO.get(key)
    if got is None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            got = slice(0, 0)
        elif int(idx[-1]) - int(idx[0]) + 1 == idx.size:
            got = slice(int(idx[0]), int(idx[-1]) + 1)
        else:
            got = False  # (not one run: the mask itself)
        if len(_ROW_INDEX_MEMO) >= _ROW_INDEX_MEMO_SIZE:
            _ROW_INDEX_MEMO.clear()
        _ROW_INDEX_MEMO[key] = got
    return got if type(got) is slice else mask


def _product(Xb, theta):
    """``X theta`` on one block, shape (b, q), class-major (Fortran order) for a dense block
    of several classes, like the runner's other tables (:func:`_runner`).

    From :data:`WIDE_COLUMNS` columns the row-major product of a C-ordered theta is taken and
    copied to class-major; below, ``(theta^T X^T)^T``. (Tried: the product on theta's nonzero
    columns only, pass 2's step and the operator's directions having the categorical
    family's pinned class at zero unpenalised: at m = 51 the row-major product of two
    columns costs what one does, 1.9 against 2.3 ms over n = 1e5 with the zeros written;
    at m = 11, three classes, 0.69 against 0.56.)"""
    if theta.shape[1] == 1 or design.is_sparse(Xb):
        return Xb @ theta
    if Xb.shape[1] >= WIDE_COLUMNS:  # (the row-major product, copied: measured there)
        return np.asfortranarray(Xb @ np.ascontiguousarray(theta))
    return (theta.T @ Xb.T).T


def _mean(fam, eta, Yb, mask_b, mean=None, curv=None):
    """``(mu, curvature, log-partition)`` at ``eta`` (shape (b, q)): ``P``, ``P`` and
    ``logsumexp`` for the categorical family (softmax over the free classes when some are
    forced); ``A'``, ``A''`` and ``A`` otherwise (:func:`_bernoulli` for the Bernoulli family;
    a forced observation: ``mu = y``, no curvature, no term). ``mean`` and ``curv``, (b, q)
    tables, receive ``mu`` and a one-parameter family's curvature when given (pass 1 keeps them
    for pass 2)."""
    if fam.multiclass:
        if mask_b is not None:
            eta = np.where(mask_b, -np.inf, eta)
        # (written into the kept table when given: it serves from here on; a new table and
        # its copy into the kept one, 0.69 against 0.67 ms over n = 1e5, two classes, 0.91
        # against 0.87 with three, in the runner's blocks)
        P, lse = nx.softmax_logsumexp(eta, out=mean)
        return P, P, lse
    e = eta[:, 0]
    if type(fam) is Bernoulli and mask_b is None:  # written in place: no copies
        mu, var, A = _bernoulli(e, None if mean is None else mean[:, 0],
                                None if curv is None else curv[:, 0])
        return (mu[:, None] if mean is None else mean), (var[:, None] if curv is None
                                                        else curv), A
    if type(fam) is Bernoulli:
        mu, var, A = _bernoulli(e)
    else:
        mu, var, A = fam.mean(e), fam.variance(e), fam.log_partition(e)
    if mask_b is not None:
        mu, var, A = np.where(mask_b, Yb, mu), np.where(mask_b, 0.0, var), np.where(mask_b, 0, A)
    for table, values in ((mean, mu), (curv, var)):
        if table is not None:
            table[:, 0] = values
    return mu[:, None], var[:, None], A


def _bernoulli(eta: np.ndarray, mu=None, var=None):
    """``(A', A'', A)`` of the Bernoulli family, ``A(eta) = log(1 + e^eta)``, from one
    exponential per row (``mu`` and ``var``, when given, receive the first two).

    With ``z = exp(-|eta|)`` (in ``(0, 1]``: no overflow) and ``r = 1 / (1 + z)``: ``A' = r``
    for ``eta >= 0`` and ``z r`` otherwise (each side to its own relative precision), ``A'' =
    z r^2`` (``p (1 - p)`` on both sides, without the cancellation of ``1 - p``) and ``A =
    max(eta, 0) + log1p(z)``, a sum of two nonnegative terms, so within a few ``u`` of ``A``
    relatively, as the budget's ``8 u`` assumes. The family's own ``sigmoid``, ``p (1 - p)``
    from a second ``sigmoid`` and ``logaddexp`` take 0.60 ms on 23831 rows, this 0.13 ms (of a
    pass 1 of about 0.8 ms on those rows); ``tests/test_certify.py`` checks it against the
    family's definitions, at extreme ``eta`` too. A chunk of rows at a time
    (:func:`dualmaxent._numerics.row_chunks`): ``z``, ``r`` and ``max(eta, 0)`` are (chunk,)
    temporaries, not (n,) ones (a sparse ``X`` is one block of all ``n`` rows: the categorical
    problem of ``bench --sparse`` peaked here)."""
    b = eta.shape[0]
    mu = np.empty(b) if mu is None else mu
    var = np.empty(b) if var is None else var
    A = np.empty(b)
    for c in nx.row_chunks(b):
        e = eta[c]
        z = np.exp(-np.abs(e))
        r = 1.0 / (1.0 + z)
        # z r for eta < 0, r otherwise, as exp(min(eta, 0)) r: the same numbers (exp(0) = 1,
        # and exp(eta) is z there), formed in place (np.where and a copy took 0.04 ms more per
        # 24k rows)
        mc = np.minimum(e, 0.0, out=mu[c])
        np.exp(mc, out=mc)
        mc *= r
        vc = np.multiply(r, r, out=var[c])
        vc *= z
        ac = np.log1p(z, out=A[c])
        ac += np.maximum(e, 0.0)
    return mu, var, A


def _curvature(Xb, wb, curv, sel, m, multi, single=False) -> np.ndarray:
    """``C_SS`` on one block: ``X_S^T diag(w v) X_S`` for the entries ``sel`` (class-major
    ``c m + i``), ``v = A''`` (one-parameter families) or, between classes ``c`` and ``d`` of
    the categorical family, ``p_c (delta_cd - p_d)``.

    ``single`` (dense ``X``, more than one column): the products in float32, each chunk's
    result added to the float64 ``C`` (the scaling factors are formed in float64, then
    rounded): a curvature that only *proposes* the Newton step (:func:`_newton_step`,
    :data:`SINGLE_MIN_TERMS`), never one whose eigenvalue bound is used.

    Dense, it is formed one pair of classes at a time: a class's own block from its square
    root (a symmetric product), the blocks between two classes as one product each (also a
    symmetric one, of the root of ``w p_a p_b``, where the two classes hold the same columns,
    from :data:`SYMMETRIC_CROSS_COLUMNS` of them), on the columns of ``X`` that ``S`` holds
    in those classes (``X`` itself when they are all), a few thousand rows at a time
    (:data:`CURVATURE_CHUNK_BYTES`). The whole ``X_S`` scaled per entry took twice the
    products and two copies of ``(b, |S|)``: 3.4 ms against 2.3 on 23831 rows, m = 11, three
    classes unpenalised (22 entries).
    """
    cls, feat = np.divmod(sel, m)
    one_column = sel.size > 0 and bool(np.all(feat == feat[0]))
    if design.is_sparse(Xb) and one_column:
        # one column (the intercept of an L2 fit), in one class or several: the dense formula
        # below on that column (a dense vector, :func:`dualmaxent.design.column`), a few
        # thousand rows at a time. Its (n, |S|) sparse copies, gathered, scaled and transposed
        # for the products, were at their peak 1.5 times the sparse X's bytes (k = 20,
        # n = 4e3, m = 6e3); C_SS is the same up to the order of its sums
        d = wb * np.square(design.column(Xb, int(feat[0])))
        return _one_column_curvature(d, curv, cls, multi,
                                     max(256, CURVATURE_CHUNK_BYTES // (8 * cls.size)))
    if design.is_sparse(Xb):  # the same products from the stored entries, dense results
        XS = Xb[:, feat]
        if cls.size and np.all(cls == cls[0]):
            c0 = curv[:, cls[0]]
            return design.weighted_gram(XS, wb * (c0 * (1.0 - c0) if multi else c0))
        U_S = design.multiply(XS, curv[:, cls])
        V = design.scale_rows(U_S, wb)
        return (cls[:, None] == cls[None, :]) * (V.T @ XS).toarray() - (V.T @ U_S).toarray()
    if sel.size == 0:
        return np.zeros((0, 0))
    if one_column:
        # one column in every class (the intercept of an L2 fit): products of length b, no
        # (b, |S|) table of X's columns (0.3 ms of a 24k-row block's 0.7 in pass 1, two
        # classes, L2)
        return _one_column_curvature(wb * np.square(Xb[:, feat[0]]), curv, cls, multi)
    real = np.float32 if single else np.float64
    # sel is sorted: each class's entries are one run
    cuts = np.flatnonzero(np.diff(cls)) + 1
    runs = list(zip(np.split(np.arange(sel.size), cuts), np.split(feat, cuts)))
    # a class's columns: a view of X when they are a range of its columns (all of them, or
    # the intercept's), gathered once per distinct set otherwise
    gathered = {}

    def columns(f):  # (one object per distinct set, a view or a copy: rounded once a chunk)
        key = f.tobytes()
        if key not in gathered:
            gathered[key] = (Xb[:, f[0]:f[0] + f.size] if f.size and np.array_equal(
                f, np.arange(f[0], f[0] + f.size)) else Xb[:, f])
        return gathered[key]

    cols = [columns(f) for _, f in runs]
    spans = [slice(ia[0], ia[-1] + 1) for ia, _ in runs]
    probs = [curv[:, cls[ia[0]]] for ia, _ in runs]
    if multi and len(runs) >= SYRK_MIN_CLASSES and all(
            np.array_equal(f, runs[0][1]) for _, f in runs):
        return _stacked_curvature(cols[0], wb, curv[:, cls[[ia[0] for ia, _ in runs]]],
                                  real)
    roots = [np.sqrt(wb * (p * (1.0 - p) if multi else p)).astype(real, copy=False)
             for p in probs]
    # between two classes on the same columns (all of them, unpenalised) the block
    # X^T diag(w p_a p_b) X is symmetric, its weights nonnegative: one symmetric product of X
    # scaled by sqrt(w p_a p_b), half the multiply-adds of the general product, from
    # :data:`SYMMETRIC_CROSS_COLUMNS` columns on. Its terms
    # fl(x_i s) fl(x_j s), s = fl(sqrt(fl(fl(w p_a) p_b))), are w p_a p_b x_i x_j times at
    # most seven factors (1 + delta), |delta| <= u (the two products under the root, halved
    # by it and squared back, the root's own rounding twice, the two scalings, their
    # product): within the eight of :func:`factor`'s gamma(terms + 8), as the roots' own
    crossed = {(a, b): np.sqrt(wb * probs[a] * probs[b]).astype(real, copy=False)
               for a in range(len(runs)) for b in range(a + 1, len(runs))
               if cols[a] is cols[b] and cols[a].shape[1] >= SYMMETRIC_CROSS_COLUMNS
               } if multi else {}
    C = np.zeros((sel.size, sel.size))
    # the scaled columns are formed a few thousand rows at a time (CURVATURE_CHUNK_BYTES)
    # (of the table's own precision: twice the rows in float32, 24.8-26.2 against 27.4-28.0
    # ms a curvature at n = 1e5, m = 51, three classes, 9.8 against 10.3 with two)
    step = max(256, CURVATURE_CHUNK_BYTES // (np.dtype(real).itemsize
                                              * max(c.shape[1] for c in cols)))
    for lo in range(0, Xb.shape[0], step):
        rows = slice(lo, lo + step)
        # (in float32, each distinct set of columns rounded once per chunk)
        chunk = {}
        for c in cols:
            if id(c) not in chunk:
                chunk[id(c)] = c[rows].astype(real, copy=False)
        xs = [chunk[id(c)] for c in cols]
        for a, sa in enumerate(spans):
            Z = xs[a] * roots[a][rows, None]
            C[sa, sa] += Z.T @ Z
            for b in range(a + 1, len(runs)):
                if (a, b) in crossed:  # (above)
                    Z = xs[a] * crossed[a, b][rows, None]
                    C[sa, spans[b]] -= Z.T @ Z
                    continue
                cross = (wb[rows] * probs[a][rows] * probs[b][rows]).astype(real, copy=False)
                C[sa, spans[b]] -= (xs[a] * cross[:, None]).T @ xs[b]
    for a, sa in enumerate(spans):  # the blocks below the diagonal
        for b in range(a + 1, len(runs)):
            C[spans[b], sa] = C[sa, spans[b]].T
    # Tried and dropped (n = 1e5, m = 51, float32, one thread, best of 7): each chunk's
    # scaled table rounded to float32 by the scaling itself (np.multiply of the float64
    # columns into a float32 buffer), no separate rounding of the columns: 11.0-11.7 against
    # 9.8 ms with two classes; the chunk transposed, (m, rows), and its products Z Z^T:
    # 16-22 against 9.8, 35 against 25 with three classes; the three scaled tables of three
    # classes side by side in one symmetric product (width 153): 34.5 against 3 x 6.8 ms.
    return C


def _stacked_curvature(X_S, wb, P, real=np.float64) -> np.ndarray:
    """:func:`_curvature`'s dense categorical ``C_SS`` when every class of ``S`` holds the
    same columns ``X_S`` (b, w) (all of them, unpenalised), ``P`` (b, c) the curvature's
    columns of those classes: the blocks between two classes from one symmetric product, the
    classes' own blocks as :func:`_curvature` forms them.

    With ``s = sqrt(w)`` and ``U = [X_S diag(s p_1), ..., X_S diag(s p_c)]`` (formed
    transposed, a few hundred rows at a time, :data:`SYRK_BYTES`), ``U^T U`` holds ``X_S^T
    diag(w p_a p_b) X_S`` for every pair of classes, minus the blocks between classes ``a !=
    b``; its diagonal blocks (``w p_a^2``) are replaced by the classes' own, ``X_S^T diag(w p_a
    (1 - p_a)) X_S`` (from the roots of ``w p_a (1 - p_a)``, as :func:`_curvature`). One
    product of ``|S|`` columns instead of one per pair of classes: measured at n = 1e4 (one
    thread, best of 15, interleaved, on a shared machine) 6.3-8.5 ms against 10-18 for the 45
    pairs at m = 11, ten classes; 12-14 against 15-17 on the 1836-row sample of m = 51, ten
    classes; 16 against 18 at m = 21, ten classes; but 12.6 against 10.6 with three classes
    and 18 against 17 with four at m = 51, 2.6 against 2.4 with four at m = 11, where its
    wasted diagonal blocks are a larger part: :data:`SYRK_MIN_CLASSES`.

    Rounding: an entry of ``U^T U`` between classes is a sum of products ``fl(fl(s p_a) x_i)
    fl(fl(s p_b) x_j)``, ``s = fl(sqrt(w))``: ``w p_a p_b x_i x_j`` times at most seven factors
    ``(1 + delta)``, ``|delta| <= u`` (``s`` twice, ``s p`` twice, the products with ``x``
    twice, their product once), within the eight of :func:`factor`'s ``gamma(terms + 8)``; its
    terms' absolute values are those of ``C``'s entry, so that bound holds unchanged. The own
    blocks' lower triangles (the ones LAPACK reads) are kept and mirrored. ``real`` float32:
    the chunks' tables and products in float32 (a proposal's curvature, :func:`_curvature`)."""
    b, width = X_S.shape
    q = P.shape[1]
    size = q * width
    s = np.sqrt(wb)
    Pt = np.ascontiguousarray(P.T)  # (q, b)
    rooted = Pt * (1.0 - Pt)  # the roots of w p (1 - p), formed as :func:`_curvature` forms them
    rooted *= wb
    np.sqrt(rooted, out=rooted)
    scaled = np.multiply(Pt, s, out=Pt).astype(real, copy=False)  # s p
    rooted = rooted.astype(real, copy=False)
    C = np.zeros((size, size))
    own = np.zeros((q, width, width))
    step = max(1, min(b, SYRK_BYTES // (8 * size)))
    # (the chunk's tables are formed in buffers made once per size: fresh ones for every chunk
    # made glibc map and unmap pages, which cost more than the products)
    buffers = {}
    for lo in range(0, b, step):
        rows = slice(lo, lo + step)
        r = min(step, b - lo)
        if r not in buffers:
            buffers[r] = (np.empty((width, r), real), np.empty((q, width, r), real),
                          np.empty((q, width, r), real))
        xt, U3, Z3 = buffers[r]
        np.copyto(xt, X_S[rows].T)
        np.multiply(xt[None], scaled[:, None, rows], out=U3)  # U transposed, class by class
        np.multiply(xt[None], rooted[:, None, rows], out=Z3)
        own += np.matmul(Z3, Z3.transpose(0, 2, 1))
        UT = U3.reshape(size, r)
        C += UT @ UT.T  # (symmetric: numpy forms it by one symmetric rank-k update)
    np.negative(C, out=C)
    for a in range(q):
        low = np.tril(own[a])
        C[a * width:(a + 1) * width, a * width:(a + 1) * width] = low + np.tril(low, -1).T
    return C


def _one_column_curvature(d, curv, cls, multi, rows=None) -> np.ndarray:
    """``C_SS`` of one column of ``X`` in the classes ``cls``: with ``d = w x_i^2`` and ``P``
    the curvature's columns of those classes, ``C = diag(d^T P) - P^T diag(d) P`` for the
    categorical family, ``d^T v`` for a one-parameter one. ``rows``: the products are summed
    over chunks of that many rows (all at once when None: a dense block's own rows)."""
    if not multi:
        return np.array([[d @ curv[:, cls[0]]]])
    step = len(d) if rows is None else rows
    dP, PdP = 0.0, 0.0
    for lo in range(0, len(d), max(step, 1)):
        P, dc = curv[lo:lo + step, cls], d[lo:lo + step]
        dP = dP + dc @ P
        PdP = PdP + P.T @ (P * dc[:, None])
    return np.diag(dP) - PdP


def _eta_cap(data, th) -> float | None:
    """``max_c sum_i big_i |theta_ic|``, rounded up (``big`` the columns' largest absolute
    entries, where the data set holds them already): a bound of ``sum_i |x_ji theta_ic|`` on
    every row (:func:`_pass_one`'s ``eta_cap``); None without the maxima or where it is not
    finite."""
    big = held_column_max(data)
    if big is None:
        return None
    cap = float((np.abs(th).T @ np.asarray(big, dtype=np.float64)).max(initial=0.0))
    return cap * (1.0 + gamma(th.shape[0] + 2)) if np.isfinite(cap) else None


def _pass_one(Xb, Yb, wb, mask_b, theta, fam, sel, peak, rows, curvature=True, mean=None,
              curv=None, scratch=None, reduce=None, point=False, eta_cap=None,
              columns=None, spread=False) -> _Sums:
    """Pass 1 on one block: ``l``, ``R = X^T W (Y - mu)``, ``C_SS``, ``X^T W Y``, the budgets.

    ``sel``: class-major indices ``c m + i`` of the entries of ``S``; ``peak``: whether the
    largest entry of ``X`` (the L1 form of :func:`_multiplier_bound`) is wanted besides the
    rows' largest norm; ``rows``: the runner's sum depth (:func:`sum_depth`: the gradient's
    sums run over every block, so ``gamma(rows + 2)`` with that depth, not the block's own
    length, bounds their rounding); ``curvature``
    False leaves ``C_SS`` unformed (0: in memory it is formed after the pass,
    :func:`_kept_curvature`), a slice of its rows forms ``C_SS`` from those rows alone (a row
    sample, see :data:`CURVATURE_ROWS_PER_PARAM`). ``mean``, ``curv`` and ``scratch`` (in
    memory, (b, q), (b, q) and (b, 2 q)) receive ``mu``, the curvature and, in ``scratch``'s
    last ``q`` columns, the weights of the gradient's budget, whose product with ``|X|`` pass
    2 forms (zero here then).

    ``reduce`` (in memory, a sparse ``X`` of many classes, one block of all ``n`` rows, more
    than :data:`XT_CHUNK_COLUMNS` columns in ``2 q``; no ``scratch`` then): the (m, q)
    products the bracket reads only reduced are reduced here :data:`XT_CHUNK_COLUMNS`
    columns at a time, never formed whole: the gradient's budget to its largest entry
    ``budget_max`` (``reduce.budget``, :func:`_kkt_budget`; formed here, not in pass 2, so
    that no (n, q) table of its weights is kept through pass 2), ``X^T W Y`` to ``scale``
    and its equality rows ``XtWY_eq`` (:func:`_reduce_data_sums`): the same entries, so the
    same numbers (memory: :func:`bracket`). ``C_SS`` is formed last, when the pass's other
    (b, q) tables and (b,) vectors are freed.

    ``point`` (the Bernoulli and categorical families, in memory with ``scratch``, nothing
    forced): the sums of the given point ``mu(theta)`` itself that pass 2 would form for
    :func:`_zero_step`, from this pass's own tables (:func:`_point_of_pass_one`,
    :func:`_categorical_point`): ``pt_entropy`` and ``pt_magnitude`` (Fenchel's equality, no
    logarithm), ``pt_min_entry``, the rows' distance from the simplex and its term
    (``pt_simplex``, ``pt_simplex_term``), the charge of Fenchel's equality (``pt_fenchel``),
    and the product of ``|X|`` with ``|W (mu - Y)|`` (``pt_resid_abs``), taken together with
    the gradient's budget (``grad_budget``, pass 1's then, as without ``scratch``): no (n, 2 q)
    ``scratch`` is kept for pass 2 (its (b, 2 q) table is the block's own), which, should the
    step be taken after all, forms the product with ``|X|`` of its own residual alone.
    (An (n, 2 q) table of fresh memory costs more than its size suggests where the pages are
    first touched: on this project's virtual machine a certificate at n = 1e6, ten classes,
    ten features took 0.6 s with it, freshly allocated, against 0.26 s on memory used before.)

    The error of ``eta_j`` is bounded through the row's norm, which the attainment proof and the
    multiplier's bound need anyway: ``max_c sum_i |x_ji theta_ic| <= |x_j|_2 max_c
    |theta_c|_2`` (Cauchy-Schwarz), times ``1 + gamma(2 m + 8)`` for the rounding of the two
    norms, of the constants and of their product (each computed norm is at least ``1 - gamma(m
    + 1)`` times its exact value: ``m`` squares summed, a square root; four more products).
    Looser than ``|X| |theta|`` (by up to ``sqrt(m)`` for columns of one size), it enters only
    ``value_budget`` and the gradient's budget, terms of order ``m u |eta|`` against the ``n u
    |eta|`` of the sums, and it spares a product with ``|X|`` (0.06 to 0.2 ms of a 24k-row
    block's 0.8 to 1.9). ``eta_cap`` (:func:`_eta_cap`, from the columns' largest entries:
    ``max_c sum_i max_j |x_ji| |theta_ic|`` rounded up) bounds ``sum_i |x_ji theta_ic|`` for
    every row too, and the smaller of the two is taken: where the columns' sizes differ widely
    the row's norm pairs its largest entry with theta's largest (a feature near 1e6 with a
    coefficient of 1e-3, an intercept of 1476: 2e9 against 3e3), and the value's budget alone
    took 0.015 nats where 6e-3 were allowed.

    ``spread``: the given logits' largest values without the intercept, ``z_spread`` and
    ``z_abs`` (:func:`_logit_spread`; infinite otherwise), for the multiplier's bound.

    ``columns`` (:class:`_ColumnBounds`): the products with ``|X|`` are the columns' bounds
    (:meth:`_ColumnBounds.abs_xt`) and ``x_max`` is the largest of ``big``; where it holds a
    ``row_norm`` (a penalised fit) no norm of a row is formed, every one bounded by it
    (``e_j`` then one number for every row, the smaller of that bound and ``eta_cap``'s)
    (module docstring).
    """
    b, m = Xb.shape
    q = theta.shape[1]
    Y2 = Yb.reshape(b, q)
    if point:  # (docstring: the block's own, not kept)
        scratch = np.empty((b, 2 * q), order="F")
    eta = _product(Xb, theta)
    mu, curv, A = _mean(fam, eta, Yb, mask_b, mean, curv)
    Yeta = Y2 * eta
    if mask_b is None:
        total_y = _rows(Y2) if fam.multiclass else None
    else:
        free = ~mask_b.reshape(b, q)
        Yeta = np.where(free, Yeta, 0.0)
        total_y = _rows(Y2) if fam.multiclass else np.where(free[:, 0], 1.0, 0.0)
    yA = A if total_y is None else total_y * A
    # (each row's term formed before the sum: a row whose other classes are all forced adds
    # exactly 0, eta_own - logsumexp over itself alone, and completely separated data have
    # the reduced likelihood 0 exactly; the rounding, depth + q + 2, within the budget's)
    loglik = float(wb @ (_rows(Yeta) - yA))
    # the magnitude of those sums, |Y eta| formed in place (its last use)
    magnitude = float((wb @ np.abs(Yeta, out=Yeta)).sum() + wb @ np.abs(yA))
    # the full likelihood at theta, whatever is forced: the upper bound is the given theta's
    # own, with its own rounding (:func:`_full_terms`: the forced rows' terms tend to 0)
    full = None if mask_b is None else _full_terms(fam, Y2, eta, wb)
    loglik_full = loglik if full is None else full[0]
    if full is not None:
        magnitude = full[1]
    # the residual sum of squares, for a family whose reported likelihood is not the
    # canonical one plus a constant (:func:`_reported_loglik`)
    rss = (float(wb @ (Yb - eta[:, 0]) ** 2)
           if not fam.multiclass and type(fam).loglik is not Family.loglik else 0.0)
    extra = {}
    if not fam.is_probability:  # the fit's excess over the data's point (:func:`_centred_gap`)
        y_m = Y2 - mu
        extra["data_divergence"] = _divergence_sums(wb, Y2, mu, y_m, np.abs(y_m), fam, wb > 0)
        del y_m
    if point and fam.multiclass:  # (:func:`_categorical_point`)
        extra.update(_categorical_point(mu, eta, A, wb))
    elif point:  # the given point's entropy by Fenchel's equality (:func:`_point_of_pass_one`)
        mu_eta = np.multiply(mu[:, 0], eta[:, 0])
        pos = wb > 0
        live = mu[:, 0] if pos.all() else mu[pos, 0]
        wA = float(wb @ A)  # (A >= 0: its own magnitude)
        low = min(float(live.min(initial=1.0)), 1.0 - float(live.max(initial=0.0)))
        extra.update(pt_entropy=wA - float(wb @ mu_eta),
                     pt_magnitude=wA + float(wb @ np.abs(mu_eta, out=mu_eta)
                                             + 2.0 * (wb @ mu[:, 0])),
                     pt_min_entry=low, pt_simplex=0.0, pt_simplex_term=0.0,
                     # (:func:`_point_of_pass_one`: each row's divergence within 8.02 u^2 / s,
                     # s its own distance from 0 and 1, at least the block's smallest)
                     pt_fenchel=64.0 * U * U * float(wb.sum()) / low if low > 0 else np.inf)
        del mu_eta, live
    # the rows' logits without the intercept, for the multiplier's bound (:func:`_logit_form`)
    z_spread, z_abs = (_logit_spread(eta, theta[-1], fam.multiclass) if spread
                       else (np.full(q, np.inf), np.inf))
    # (b, q) tables are freed at their last use: a sparse X is one block of all n rows
    del eta, Yeta, yA, A
    diff = Y2 - mu
    abs_diff = np.abs(diff)
    # |x_j|^2 (the attainment proof's and the multiplier bound's largest row norm) and e_j, the
    # error of eta_j (module docstring), from it (docstring above)
    # (:func:`dualmaxent.design.row_sq_norms`: a narrow dense block's by one product)
    e_factor = gamma(m + 1) * (1.0 + gamma(2 * m + 8))
    theta_norm = float(np.sqrt(np.einsum("ic,ic->c", theta, theta)).max(initial=0.0))
    if columns is not None and columns.row_norm is not None:  # by the columns' (docstring)
        x_norm = columns.row_norm
        e = e_factor * (x_norm * theta_norm if eta_cap is None
                        else min(x_norm * theta_norm, eta_cap))
        e_max = e
    else:
        sq = design.row_sq_norms(Xb)
        x_norm = float(np.sqrt((sq if wb.min(initial=1.0) > 0 else sq[wb > 0]).max(initial=0.0)))
        e = np.sqrt(sq, out=sq)  # (|x_j|^2's last use: (n,) vectors are 0.1 times the sparse
        del sq                   # X's bytes of the categorical problem of ``bench --sparse``)
        e *= e_factor * theta_norm
        if eta_cap is not None:  # the columns' maxima's bound, where it is the smaller (docstring)
            np.minimum(e, e_factor * eta_cap, out=e)
        e_max = float(e.max(initial=0.0))  # (the zero step's logit error, :func:`_zero_step`)
    sens = curv[:, 0] if q == 1 else 2.0 * _rowmax(curv)  # |d mu / d eta| per row
    we = wb * e
    value_budget = (float((we @ abs_diff).sum()) if full is None
                    else float(we @ full[3]) + full[2])
    del we
    # the gradient's budget |X|^T W (2 c_j e_j + gamma(n + 2) |Y_j - mu_j|) and the mean's own
    # rounding, 4 u |mu_j|: its weights formed in place, one (b, q) table (|Y - mu|'s own
    # when pass 1 forms the product itself)
    gv = np.multiply(abs_diff, gamma(rows + 2), out=abs_diff if scratch is None
                     else scratch[:, q:])
    del abs_diff
    for c in range(q):  # (a column at a time: no (b, q) table of |mu|)
        gv[:, c] += (4 * U) * np.abs(mu[:, c])
    gv += (sens * e)[:, None]  # 2 c_j e_j: the weight w_j comes once, next
    del sens, e
    gv *= wb[:, None]
    if reduce is not None:  # (docstring)
        top = 0.0
        for lo in range(0, q, XT_CHUNK_COLUMNS):
            cols = slice(lo, lo + XT_CHUNK_COLUMNS)
            top = np.maximum(top, reduce.budget(_xt(Xb, gv[:, cols], True), cols))
        extra["budget_max"], grad_budget = float(top), 0.0
    elif scratch is None:
        grad_budget = _abs_xt(Xb, gv, columns)
    else:  # pass 2 forms the product, with its own of |X| (the point's: below)
        grad_budget = 0.0
    del gv
    # (|X|'s largest entry is X's largest or minus its smallest: no |X| formed)
    x_max = (float(columns.big.max(initial=0.0)) if columns is not None
             else max(float(Xb.max()), -float(Xb.min()))) if peak and b else 0.0
    if design.is_sparse(Xb) and 2 * q > XT_CHUNK_COLUMNS:
        # R and X^T W Y as two products (by column chunks anyway, :func:`_xt`), the same sums
        # entry by entry as one of width 2 q: the bracket keeps of X^T W Y only its largest
        # entry and the intercept's row (:func:`_reduce_data_sums`), so it is freed on its own,
        # not kept as the other half of R's array (an (m, q) table, 0.39 times the sparse X's
        # bytes at k = 20); W (Y - mu) formed in place
        diff *= wb[:, None]
        R = _xt(Xb, diff)
        del diff
        if reduce is None:
            XtWY = _xt(Xb, wb[:, None] * Y2)
        else:  # (docstring; each chunk's W Y formed in C order, as scipy reads it)
            XtWY, top = None, 0.0
            extra["XtWY_eq"] = np.empty((np.arange(m)[reduce.eq].size, q))
            for lo in range(0, q, XT_CHUNK_COLUMNS):
                cols = slice(lo, lo + XT_CHUNK_COLUMNS)
                part = _xt(Xb, np.multiply(wb[:, None], Y2[:, cols], order="C"))
                extra["XtWY_eq"][:, cols] = part[reduce.eq]
                top = np.maximum(top, np.abs(part, out=part).max(initial=0.0))
                del part
            extra["scale"] = 1.0 + float(top)
    else:
        # R and X^T W Y from one product: X's block is read once for both (class-major, as
        # the other tables: a row-major (b, 2 q) target made each of these products 0.2 ms
        # slower per 24k-row block with three classes)
        WT = np.empty((b, 2 * q), order="F")
        np.multiply(wb[:, None], diff, out=WT[:, :q])
        del diff
        np.multiply(wb[:, None], Y2, out=WT[:, q:])
        RY = _xt(Xb, WT)
        if point:  # |W (mu - Y)| beside the budget's weights: one product with |X| for both
            np.abs(WT[:, :q], out=scratch[:, :q])
            extra["pt_resid_abs"], grad_budget = _xt_halves(Xb, scratch, q, True, columns)
        del WT
        R, XtWY = RY[:, :q], RY[:, q:]
    # C_SS last, when pass 1's other (b, q) tables and (b,) vectors are freed (a sparse X is
    # one block of all n rows): the categorical problem of ``bench --sparse`` (n = 1e5, L2)
    # peaked there, at 3.02 times the sparse X's bytes a fit, with the products' operands
    if curvature is False:  # (formed after the pass, :func:`_kept_curvature`)
        C, w_curvature = 0.0, 0.0
    else:
        single = isinstance(curvature, str) and curvature == "single"
        C, w_curvature = _block_curvature(Xb, wb, curv, sel, m, fam.multiclass,
                                          True if single else curvature, single)
    return _Sums(
        loglik=loglik, loglik_full=loglik_full, loglik_constant=fam.loglik_constant(Yb, wb),
        rss=rss, R=R, C=C, w_curvature=w_curvature,
        w_total=float(wb.sum()), XtWY=XtWY, magnitude=magnitude,
        value_budget=value_budget, grad_budget=grad_budget, x_norm=x_norm, x_max=x_max,
        e_max=e_max, z_spread=z_spread, z_abs=z_abs,
        **extra)


def _full_terms(fam, Y2, eta, wb) -> tuple[float, float, float, np.ndarray]:
    """``(l, magnitude, constant, dev)`` of the full likelihood at ``eta`` (b, q) on one block,
    nothing forced: ``l = sum_j w_j (<Y_j, eta_j> - A(eta_j))``, its rounding within ``gamma(n)
    magnitude + constant``, and ``dev_j = |Y_j - A'(eta_j)|_1``, which times ``e_j`` (the
    error of ``eta_j``) bounds the rest (:func:`_pass_one`, where some entries are forced).

    The rows that separation forces have terms near 0 made of logits far from 0 (the ray's
    theta: hundreds to thousands). Formed as ``<Y, eta> - A(eta)``, each is the difference of
    two such numbers, and the budget ``u (|Y eta| + |A|)`` a row: 4.6e-5 nats for completely
    separated data of n = 3000, three classes, two features, with a gap of 2.7e-13 (NOT OK
    against a tolerance of 1e-6 nats, the optimum being 0). So the terms are formed to the
    precision of their own size:

    * categorical: ``<Y_j, D_j> - s_j r_j`` with ``D_j = eta_j - top_j`` (the row's largest
      logit subtracted, :func:`dualmaxent._numerics.logsumexp_parts`), ``r_j`` the rest of
      the log-sum-exp (in ``[0, log k]``) and ``s_j`` the row's total of ``Y``. Each ``D_jc``
      is within ``u |D_jc|`` (exact where the two are within a factor 2 of each other); each
      exponential of the sum within ``u |D_jc| + 4 u`` relative, and ``x e^-x <= 1 / e``, so
      the sum (at least 1) within ``(1.4 k + 3) u`` relative and ``r_j`` within ``(1.4 k + 3)
      u (1 + u) + 4 u r_j``. The rest is ``gamma(k + 2)`` of ``<|Y|, |D|> + |s| r``: the
      magnitude ``sum_j w_j (<|Y_j|, |D_j|> + |s_j| r_j)``, and the constant ``(2 k + 8) u
      sum_j w_j |s_j|``;
    * Bernoulli: ``a_j eta_j - log1p(exp(-|eta_j|))`` with ``a_j = y_j - 1`` where ``eta_j >
      0``, else ``y_j`` (``A = max(eta, 0) + log1p(exp(-|eta|))``); ``log1p`` of an input
      within ``4 u`` relative is within ``5 u`` of its own value (``z / (1 + z) <= log1p(z)``),
      so each row within ``8 u (|a_j eta_j| + log1p(exp(-|eta_j|)))``, the magnitude;
    * the other families: ``u (|Y eta| + |A|)`` as in the pass.
    """
    q = Y2.shape[1]
    if fam.multiclass:
        top, rest = nx.logsumexp_parts(eta)
        D = np.subtract(eta, top[:, None])
        YD = Y2 * D
        total = _rows(Y2)
        value = float(wb @ (_rows(YD) - total * rest))
        magnitude = float(wb @ (_rows(np.abs(YD, out=YD)) + np.abs(total) * rest))
        constant = (2 * q + 8) * U * float(wb @ np.abs(total))
        D -= rest[:, None]
        np.exp(D, out=D)  # the probabilities
        np.subtract(Y2, D, out=D)
        return value, magnitude, constant, _rows(np.abs(D, out=D))
    e, y = eta[:, 0], Y2[:, 0]
    if type(fam) is Bernoulli:
        soft = np.log1p(np.exp(-np.abs(e)))
        term = np.where(e > 0, y - 1.0, y) * e
        value = float(wb @ (term - soft))
        magnitude = float(wb @ (np.abs(term) + soft))
        mu = _bernoulli(e)[0]
    else:
        A = fam.log_partition(e)
        term = y * e
        value = float(wb @ (term - A))
        magnitude = float(wb @ (np.abs(term) + np.abs(A)))
        mu = fam.mean(e)
    return value, magnitude, 0.0, np.abs(y - mu)


def _pass_curvature(Xb, Yb, wb, mask_b, sel, m, multi, single, curvature=True, mean=None,
                    curv=None) -> _Sums:
    """``C_SS`` on one block from the means pass 1 kept (in memory; pass 1 of the zero step's
    attempt left it, :func:`_zero_step`): the terms pass 1 would have summed, of the block's
    rows or of its slice ``curvature`` of the row sample; ``single``: float32 products."""
    C, w = _block_curvature(Xb, wb, mean if multi else curv, sel, m, multi, curvature, single)
    return _Sums(C=C, w_curvature=w)


def _pass_curvature_at(Xb, Yb, wb, mask_b, theta, fam, sel, m, multi) -> _Sums:
    """``C_SS`` on one block at ``theta``, its means formed here (through an engine, whose pass
    1 keeps none: the penalised step, :func:`_penalised_step`); float64."""
    mu, curv, _ = _mean(fam, _product(Xb, theta), Yb, mask_b)
    C, w = _block_curvature(Xb, wb, mu if multi else curv, sel, m, multi)
    return _Sums(C=C, w_curvature=w)


def _block_curvature(Xb, wb, curv, sel, m, multi, rows=True, single=False):
    """``(C_SS, its rows' weight)`` of a block: of all its rows (``rows`` True) or of its slice
    ``rows`` of the row sample; ``curv`` the block's curvature (the categorical family's ``P``);
    ``single``: float32 products (:func:`_curvature`)."""
    if rows is not True:
        Xb, wb, curv = Xb[rows], wb[rows], curv[rows]
    return _curvature(Xb, wb, curv, sel, m, multi, single=single), float(wb.sum())


def _pass_data(Xb, Yb, wb, mask_b, fam) -> _Sums:
    """The data's own point ``Y`` on one block: its entropy and magnitude (the lower bound's
    last resort, computed only when it is needed)."""
    Y2 = Yb.reshape(len(wb), -1)
    sums = _point_sums(wb, Yb, Y2, Y2, fam, wb > 0)
    return _Sums(entropy=sums["entropy"], magnitude=sums["magnitude"])


def _newton_point(Xb, Yb, wb, mask_b, theta, A, fam, mean=None, curv=None, out=None):
    """``(mu, mu~)`` on one block, shape (b, q): ``mu~ = mu + J A`` (rows of ``P~`` keep their
    sum and their zeros), written to ``out`` when given; for the gaussian and Poisson families
    ``mu~`` in its centred form, ``mu~ - Y = (mu - Y) + J A`` (the point is ``Y`` plus that
    table exactly: module docstring, The centred gap). ``A``: the step in theta as
    :func:`_step` packs it, ``(rows, values)``, the rows of theta it moves and their entries.
    ``mean`` and ``curv``: ``mu`` and the curvature at theta as pass 1 kept them (``curv``
    None for the categorical family, whose curvature is ``P``)."""
    b = Xb.shape[0]
    if mean is None:
        mu, curv, _ = _mean(fam, Xb @ theta, Yb, mask_b)
    else:
        mu, curv = mean, (mean if curv is None else curv)
    moved, values = A  # (the rows of S: the intercept's, often)
    if moved.size == 1:
        # one column of X (:func:`dualmaxent.design.column`: a strided view, or of a sparse X a
        # dense vector) times one row of A: the product's only nonzero term, the same number
        # (0.005 ms against 0.022 for the gathered column's product), class-major like the
        # other tables
        i = int(moved[0])
        col = design.column(Xb, i)
        XA = (values[0][:, None] * col).T
    elif 2 * moved.size > theta.shape[0]:
        full = np.zeros((values.shape[1], theta.shape[0])).T  # (class-major, as it was formed)
        full[moved] = values
        XA = _product(Xb, full)
        del full
    else:
        XA = _product(Xb[:, moved], values)
    # the step J X A formed in place, in XA and then in out
    step = np.multiply(curv, XA, out=XA if XA.flags.owndata and XA.shape == curv.shape
                       else None)
    del XA
    if fam.multiclass:
        step -= np.multiply(curv, _rows(step)[:, None],
                            out=None if out is None else out.reshape(b, -1))
    if fam.is_probability:
        mu_t = np.add(mu, step, out=None if out is None else out.reshape(b, -1))
    else:  # centred: mu~ - Y = (mu - Y) + step (module docstring, The centred gap)
        mu_t = np.subtract(mu, Yb.reshape(b, -1), out=None if out is None else out.reshape(b, -1))
        mu_t += step
    return mu, mu_t.reshape(b, -1)


def _pass_two(Xb, Yb, wb, mask_b, theta, A, fam, margins=True, out=None, mean=None,
              curv=None, scratch=None, reduce=None, columns=None, clip=None) -> _Sums:
    """Pass 2 on one block: ``mu~``, its residual, domain, entropy and ``t_max``; ``mu~`` is
    written to ``out`` (shape (b, q)) when given. ``margins``: whether the attainment proof's
    relative margin ``min mu~ / mu`` is wanted (NaN otherwise: a penalised fit needs none).

    ``clip`` (a function giving :func:`_clip_limit`, called only where an entry is outside;
    with ``out`` only, which the segment's pass then reads): the entries outside the domain by
    at most that limit are set on its boundary, in ``mu~``
    itself, before its residual and sums are formed; ``clip_mass`` is what they moved,
    weighed, ``clip_effect`` its product with ``|X|`` (what it can move the residual by) and
    ``outside`` the least margin before (``min_entry`` the point's after).

    ``scratch`` (in memory, (b, 2 q)) holds in its last ``q`` columns the weights of the
    gradient's budget from pass 1: ``|W (mu~ - Y)|`` is written to its first ``q``, and one
    product with ``|X|`` gives the residual's rounding bound and the gradient's budget, so that
    ``|X|`` is formed once per block, not in both passes (``|X|`` and a product with it: 0.13
    ms on 23831 rows, m = 11, of about 1.1 ms for both passes, two classes).

    With ``reduce`` (a sparse ``X`` of many classes: pass 1 formed the gradient's budget,
    :func:`_pass_one`) ``W (mu~ - Y)`` is written over ``mean``: ``mu`` is read by nothing
    after ``mu~`` and its margins. With ``columns`` (:class:`_ColumnBounds`) no ``|X|`` is
    formed: its products are the columns' bounds."""
    b = Xb.shape[0]
    q = theta.shape[1]
    Y2 = Yb.reshape(b, q)
    centred = not fam.is_probability
    if A is None:  # the given point itself (:func:`_zero_step`): the means pass 1 kept
        mu = mu_t = mean
        if centred:
            mu_t = mean - Y2
    else:
        mu, mu_t = _newton_point(Xb, Yb, wb, mask_b, theta, A, fam, mean, curv, out)
    point = _absolute_point(Y2, fam, mu_t)  # (mu_t: the gaussian and Poisson one centred)
    pos = wb > 0
    # the entries whose domain matters: positive weight and not forced (all, usually)
    keep = None if mask_b is None and pos.all() else np.broadcast_to(pos[:, None], (b, q)) & (
        True if mask_b is None else ~mask_b.reshape(b, q))

    def on(a):  # (a class-major table's ravel() would copy it)
        return a if keep is None else a[keep]

    lower, upper = fam.mean_bounds
    t_max, margin, rel = 1.0, np.inf, (np.inf if margins else np.nan)
    tiny = np.finfo(float).tiny
    sides = []
    if np.isfinite(lower):  # (a bound of 0 needs no subtraction)
        sides.append((lambda a: a if lower == 0 else a - lower, lower))
    if np.isfinite(upper) and not fam.multiclass:
        sides.append((lambda a: upper - a, upper))
    outside, clip_mass, clip_effect = np.inf, 0.0, 0.0
    for gap, bound in sides:
        g_t = on(gap(point))
        low = float(g_t.min(initial=np.inf))
        outside = min(outside, low)
        if low < 0 and out is not None and clip is not None:
            # the entries outside within the limit set on the boundary (mu~ held centred too:
            # 0 - Y, exactly), what they moved weighed for the simplex term (:func:`_clip_limit`)
            g = gap(point)
            near = (g < 0) & (g >= -clip())
            if keep is not None:
                near &= keep
            if near.any():
                table = np.zeros(point.shape)
                table[near] = -g[near]
                table *= wb[:, None]
                clip_mass += float(_rows(table).sum())
                rows = np.flatnonzero(near.any(axis=1))
                clip_effect = clip_effect + _abs_xt(Xb[rows], table[rows], columns)
                point[near] = bound
                if point is not mu_t:
                    mu_t[near] = bound - Y2[near]
                g_t = on(gap(point))
                low = float(g_t.min(initial=np.inf))
            del g, near
        margin = min(margin, low)
        if low < 0:  # the segment Y + t (mu~ - Y) leaves the domain there
            out_ = g_t < 0
            g_y = on(gap(Y2))[out_]
            t_max = min(t_max, float((g_y / (g_y - g_t[out_])).min()))
        if margins:
            ref = on(gap(mu))
            rel = min(rel, float((g_t / ref).min(initial=np.inf))
                      if ref.min(initial=np.inf) > tiny else -np.inf)
        del g_t
    if t_max >= 1.0:
        sums = _point_sums(wb, Yb, Y2, point, fam, pos)
        if centred:  # (the centred gap's, :func:`_centred_gap`): p - m = d - (m - Y)
            base = mu - Y2
            sums["divergence"] = _divergence_sums(wb, point, mu, mu_t - base, np.abs(base),
                                                  fam, pos)
            del base
    else:  # the sums at mu~ are not wanted (a point of its segment is), its simplex residual is
        sums = {"entropy": 0.0, "magnitude": 0.0, "simplex_term": 0.0,
                "simplex": float(np.abs(_rows(mu_t) - 1.0).max(initial=0.0))
                if fam.multiclass else 0.0}
        if centred:  # (not read: the point is one of the segment's)
            sums["divergence"] = np.zeros(4)
    del point
    # W (mu~ - Y) formed in place (in scratch's first q columns, in memory), its product with
    # X taken (not for the given point itself, whose residual is pass 1's, :func:`_zero_step`),
    # then its absolute value in place for the product with |X|; the centred form is mu~ - Y
    target = scratch[:, :q] if scratch is not None else mean if reduce is not None else None
    if not centred:
        wd = np.subtract(mu_t, Y2, out=target)
    elif target is None:
        wd = mu_t.copy()
    else:
        wd = target
        wd[...] = mu_t
    wd *= wb[:, None]
    resid = 0.0 if A is None else _xt(Xb, wd)
    # (|X| of a dense block formed once, in :func:`_xt`; a sparse X's never; with the column
    # bounds none)
    np.abs(wd, out=wd)
    if scratch is None:
        resid_abs, grad_budget = _abs_xt(Xb, wd, columns), 0.0
    else:
        resid_abs, grad_budget = _xt_halves(Xb, scratch, q, True, columns)
    return _Sums(resid=resid, resid_abs=resid_abs, grad_budget=grad_budget,
                 t_max=max(t_max, 0.0), min_entry=margin, outside=outside,
                 clip_mass=clip_mass, clip_effect=clip_effect, relative_margin=rel, **sums)


def _clip_limit(one: _Sums, th: np.ndarray, tol_hint: float) -> float:
    """How far outside the domain an entry of the Newton point ``mu~`` may lie and be set on
    its boundary (:func:`_pass_two`, module docstring, The point): the amount ``d`` of each
    such entry, in row ``j``, moves the residual by ``w_j d`` times that row of ``X`` (charged,
    measured, with the residual's other terms) and a categorical row's sum by ``d`` (charged
    with the simplex term). Per unit moved that is at most ``w_j (rho |theta|_2 + 1 + log
    q)``, ``rho`` the rows' largest norm and ``|theta|_2`` the largest of its columns' norms
    (the residual's first-order charge) and ``1 + |A*|`` the simplex term's, so an amount up to
    the limit on all ``q`` entries of every row costs at most :data:`CLIP_SHARE` of the
    tolerance of the objective. 0 where that is not finite."""
    q = th.shape[1]
    per_unit = q * one.w_total * (one.x_norm * float(np.linalg.norm(th, axis=0).max(
        initial=0.0)) + 1.0 + np.log(q))
    limit = CLIP_SHARE * tol_hint * _objective_size(one) / per_unit if per_unit > 0 else 0.0
    return limit if np.isfinite(limit) else 0.0


def _stepped_pass(run, one, th, A, fam, margins, out, tol_hint, kept):
    """``(two, resid_bound)``: pass 2 at the step ``A`` (:func:`_pass_two`) and its residual's
    summation bound (:func:`_resid_bound`), in memory (``out``) with the entries outside the
    domain within :func:`_clip_limit` set on its boundary, where that moves the residual by
    no more than that bound: the clipped point then meets the balance
    equations as well as the computed one is known to. Where it moves more, pass 2 again
    without (the segment decides): on quasi-separated data whose LP failed, entries of
    6e-14 that the optimum holds at 0 moved it past that bound, and the clipped point's lower
    bound, charged with the given theta, stood 1e-10 nats above the optimum."""
    two = run(_pass_two, th, A, fam, margins, out=out, columns=run.columns,
              clip=None if out is None else functools.partial(_clip_limit, one, th, tol_hint),
              **kept)
    bound = _resid_bound(two, run.depth)
    if two.clip_mass > 0.0 and not np.all(two.clip_effect <= bound):
        two = run(_pass_two, th, A, fam, margins, out=out, columns=run.columns, **kept)
        bound = _resid_bound(two, run.depth)
    return two, bound


def _pass_segment(Xb, Yb, wb, mask_b, theta, A, fam, grid, newton=None) -> _Sums:
    """Pass 3 on one block (only when ``mu~`` left the domain, or a penalty's boxes or charge
    make a point inside the segment better): the primal sums at each point ``Y + t (mu~ -
    Y)`` of the grid, and for the gaussian and Poisson families each point's divergence from
    ``mu`` (:func:`_divergence_sums`)."""
    b = Xb.shape[0]
    Y2 = Yb.reshape(b, -1)
    if newton is not None:
        mu, mu_t = None, newton
    else:
        mu, mu_t = _newton_point(Xb, Yb, wb, mask_b, theta, A, fam)
    pos = wb > 0
    # (once: each point, Y + t step, is formed in one (b, q) table; the gaussian and Poisson
    # mu~ is held centred, mu~ - Y itself, and their divergence at each point is summed
    # centred, p - mu = t (mu~ - Y) - (mu - Y), as pass 2's at mu~: :func:`_centred_gap`)
    centred = not fam.is_probability
    if centred:
        if mu is None:
            mu = _mean(fam, Xb @ theta, Yb, mask_b)[0]
        base = mu - Y2
        size = np.abs(base)
    step = mu_t - Y2 if fam.is_probability else mu_t
    point = np.empty_like(step)
    parts = []
    for t in grid:
        np.multiply(t, step, out=point)
        if centred:
            diff = point - base
        point += Y2
        parts.append(_point_sums(wb, Yb, Y2, point, fam, pos))
        if centred:
            parts[-1]["divergence"] = _divergence_sums(wb, point, mu, diff, size, fam, pos)
    return _Sums(**{key: np.array([p[key] for p in parts]) for key in parts[0]})


def _point_sums(wb, Yb, Y2, point, fam, pos) -> dict:
    """The entropy of a point in the domain, its magnitude for the round-off budget, the
    first-order cost of its rows' distance from the simplex (module docstring) and that
    distance's largest value.

    A probability's entry of exactly 0 or 1 has its ``p log p`` (and the Bernoulli family's
    ``(1 - p) log(1 - p)``) formed exactly, 0: it adds nothing to the magnitude. (The generic
    ``2 |p|`` of an entry, ``n^2 u`` in all where the point is the labels themselves, took 4.5e-7
    nats of the 1e-6 allowed for completely separated data of n = 1e5, whose optimum is 0.)"""
    if pos.all():
        conj = _conjugate(fam, point)
    else:
        conj = np.zeros(len(wb))
        conj[pos] = _conjugate(fam, point[pos])
    size = np.abs(point)
    if fam.is_probability:
        size[point == 1.0] = 0.0
    sums = {"entropy": -float(wb @ conj),
            "magnitude": float(wb @ np.abs(conj) + 2 * (wb @ size).sum()),
            "simplex_term": 0.0, "simplex": 0.0}
    if fam.multiclass:
        simplex = np.abs(_rows(point) - 1.0)
        sums["simplex"] = float(simplex.max(initial=0.0))
        sums["simplex_term"] = float(wb @ (simplex * (1.0 + np.abs(conj))))
    return sums


def _divergence_sums(wb, point, mean, diff, base, fam, pos) -> np.ndarray:
    """``[sum w D, evaluation, sum w |p - m|, mass]`` over a block's rows of positive weight,
    for the gaussian and Poisson families (:func:`_centred_gap`): ``D(p, m) = A*(p) - A*(m) -
    (A*)'(m) (p - m) >= 0``, the Bregman divergence of the conjugate between the point ``p``
    and the mean ``m = A'(eta)``, which is Fenchel-Young's gap ``A(eta) + A*(p) - eta p``: half
    the squared difference, or ``p log(p / m) - p + m`` (``m`` where ``p = 0``). Formed
    without its three terms' cancellation, its rounding is at most ``3 u D`` (gaussian) and
    ``u D`` plus ``evaluation`` (Poisson, ``8 u (|p log1p((p - m) / m)| + |p - m|)``: the
    difference, its quotient, ``log1p`` within an ulp, the product and the subtraction). The
    mean's own error moves ``D`` by at most ``eps |p - m| + eps^2 mass`` (:func:`_mean_error`;
    ``mass``: ``sum w / 2`` for the gaussian's absolute ``eps``, ``sum w (2 m + p)`` for the
    Poisson relative one).

    ``diff``, the difference ``p - m``, comes from the point's centred form (pass 2's ``d - (m
    - Y)``, pass 1's ``Y - m``), within ``u (|diff| + base)`` of the exact one (``base = |m -
    Y|``): never from ``p`` and ``m`` themselves, each of which may be rounded at the scale of
    ``Y`` (1e-8 at ``y ~ 1e8``). That error moves ``D`` by its slope ``|dD/dp|`` (``|p - m|``;
    ``|log(p / m)|``) times it, which ``evaluation`` holds too (none where ``p = 0``, exact:
    ``D = m`` there)."""
    if not pos.all():
        wb, point, mean, diff, base = wb[pos], point[pos], mean[pos], diff[pos], base[pos]
    p, m, d = point[:, 0], mean[:, 0], diff[:, 0]
    size = np.abs(d)
    if fam.quadratic:
        slope = size
        D = 0.5 * (d * d)
        evaluation = 0.0
    else:
        with np.errstate(all="ignore"):
            slope = np.log1p(d / m)
            pl = p * slope
        zero = p == 0
        pl[zero] = 0.0  # (0 log 0 = 0: D = m there)
        slope = np.abs(slope, out=slope)
        slope[zero] = 0.0
        D = pl - d
        evaluation = 8 * U * float(wb @ (np.abs(pl) + size))
    evaluation += 2 * U * float(wb @ (slope * (base[:, 0] + size)))
    mass = 0.5 * float(wb.sum()) if fam.quadratic else float(wb @ (2.0 * m + p))
    return np.array([float(wb @ D), evaluation, float(wb @ size), mass])


def _mean_error(fam, e_max: float) -> float:
    """A bound of the computed mean's error at theta, by the logits' error ``e_max`` (pass 1's,
    :func:`_pass_one`): absolute for the gaussian (the mean is ``eta``), relative for the
    Poisson family (``exp`` of a logit off by ``e``, rounded within ``4 u``); infinite from
    1/2 on (:func:`_divergence_sums`'s second-order bound needs less)."""
    if fam.quadratic:
        return float(e_max)
    eps = (float(np.expm1(e_max)) + 4 * U * float(np.exp(e_max))) * (1.0 + 4 * U)
    return eps if eps < 0.5 else float("inf")


def _divergence_budget(sums: np.ndarray, eps: float, depth: int) -> float:
    """The round-off budget of ``sum w D`` from :func:`_divergence_sums`'s four sums, ``eps``
    the mean's error (:func:`_mean_error`) and the rows' sum depth: the sum's own rounding
    (``D >= 0``) and the evaluation's and the mean's bounds, inflated for their own sums."""
    total, evaluation, dev, mass = (float(v) for v in sums)
    g = gamma(depth + 8)
    return g * total + (1.0 + g) * (evaluation + eps * dev + eps * eps * mass)


def _centred_gap(two: _Sums, th, resid, rb, charge: float, pen_value: float, eps: float,
                 depth: int, t: float = 1.0, data_divergence=None) -> tuple[float, float]:
    """``(gap, budget)``: the gaussian and Poisson bracket's gap at ``Y + t (mu~ - Y)``
    evaluated centred, and the round-off budget of its sums (module docstring, The centred
    gap).

    ``dual(theta) - H(p) + charge = sum_j w_j D(p_j, mu_j) + <theta, r> + penalty + charge``
    exactly for every point ``p``, with ``D`` Fenchel-Young's gap (:func:`_divergence_sums`,
    summed at ``mu~`` by pass 2) and ``r = X^T W (p - Y)`` the point's residual (``sum_j w_j
    eta_j (p_j - Y_j)``; ``resid`` and its bound ``rb`` are the point's, ``t`` times
    ``mu~``'s): no term carries the data's constant ``sum w A*(Y)``, which dominates both
    bounds once ``y`` is far from 0 (1e17 nats at ``y ~ 1e8``, whose fit's own excess was 15).
    Inside the segment (``t < 1``: ``mu~`` in the domain but past an L1 box, or the L2 charge
    smaller there) ``sum w D`` at ``p = Y + t (mu~ - Y)`` is the segment's pass's own where
    it summed that point (``two.segment_divergence``, :func:`_pass_segment`), else bounded by
    ``D``'s convexity in ``p``: at most ``(1 - t)`` times the data's (pass 1's
    ``data_divergence``) plus ``t`` times ``mu~``'s (the grid's choice, :func:`_lower_point`;
    loose where ``mu~`` is well past a box, by ``(1 - t)`` times the data's, 30 nats at ``1 -
    t = 2.5e-6``). Either way both sums are of the fit's size (the bounds themselves, 1e11 nats
    at ``y ~ 1e4``, left a budget of 0.02 nats against an excess of 214). The budget is
    ``D``'s (:func:`_divergence_budget`, weighed the same) and the inner product's,
    ``<|theta|, b>`` for the residual's summation bound ``b`` plus its own sum's rounding; the
    penalty's and the charge's are the bracket's as before."""
    at = getattr(two, "segment_divergence", None)
    if t != 1.0 and at is not None and at[0] == t:  # the point's own, summed by its pass
        divergence, budget = float(at[1][0]), _divergence_budget(at[1], eps, depth)
    else:
        divergence = _centred_divergence(two, data_divergence, t)
        budget = _divergence_budget(two.divergence, eps, depth)
        if t != 1.0:  # (by convexity: the weights' products each rounded once more)
            budget = (t * budget + (1.0 - t) * _divergence_budget(data_divergence, eps, depth)
                      + gamma(3) * divergence)
    budget += (float(np.sum(np.abs(th) * rb))
               + gamma(th.size + 4) * float(np.abs(th * resid).sum()))
    return _centred_value(divergence, th, resid, charge, pen_value), budget


def _centred_divergence(two: _Sums, data_divergence, t: float) -> float:
    """``sum w D`` at ``Y + t (mu~ - Y)`` bounded by convexity (:func:`_centred_gap`): pass 2's
    at ``t = 1``, else ``t`` times it plus ``1 - t`` times the data's (pass 1's
    ``data_divergence``)."""
    divergence = float(two.divergence[0])
    return divergence if t == 1.0 else t * divergence + (1.0 - t) * float(data_divergence[0])


def _centred_value(divergence: float, th, resid, charge: float, pen_value: float) -> float:
    """The centred gap's value alone (:func:`_centred_gap`): ``sum w D + <theta, r> + penalty
    + charge``, ``divergence`` the point's ``sum w D``."""
    return divergence + float(np.sum(th * resid)) + pen_value + charge


def _conjugate(fam, point2) -> np.ndarray:
    """``A*`` of each row of a (b, q) table, by the family's definition (rows in the domain):
    for the two probability families ``sum_i p_i log p_i`` over the row's classes (the
    Bernoulli family's two, ``p`` and ``1 - p``, the latter's logarithm as ``log1p(-p)``),
    entries clipped into the domain as the families clip them; the family's own ``conjugate``
    otherwise.

    Each entry is ``p log p`` from one logarithm and one product; only where that gives NaN
    (``0 log 0``, a row at the boundary) is the block evaluated again with ``0 log 0 = 0``.
    The families' ``conjugate`` (``scipy.special.xlogy``, which tests every entry) takes 0.27
    ms on 23831 rows (Bernoulli) and 0.84 ms (three classes, a sum over a short axis), this
    0.11 and 0.14 ms. ``tests/test_certify.py`` checks both against the families'
    ``conjugate``. The Bernoulli rows are taken a chunk at a time
    (:func:`dualmaxent._numerics.row_chunks`; the categorical problem of ``bench --sparse``,
    one block of all n rows, peaked in its (n,) temporaries).
    """
    if type(fam) is Bernoulli:  # a chunk of rows at a time: (chunk,) temporaries
        out = np.empty(point2.shape[0])
        for c in nx.row_chunks(point2.shape[0]):
            p = np.clip(point2[c, 0], 0.0, 1.0)
            part = np.log(p, out=out[c])
            part *= p
            other = np.log1p(-p)
            other *= 1.0 - p
            part += other
            if np.isnan(part.sum()):
                part[...] = _xlogx(p) + _xlogx(1.0 - p)
        return out
    if type(fam) is Categorical:
        P = np.clip(point2, 0.0, None)
        out = np.log(P)
        out *= P
        if np.isnan(out.sum()):
            out = _xlogx(P)
        return _rows(out)
    return fam.conjugate(point2 if fam.multiclass else point2[:, 0])


def _xlogx(p: np.ndarray) -> np.ndarray:
    """``p log p`` entrywise with ``0 log 0 = 0``, for ``p >= 0`` (:func:`_conjugate`)."""
    out = np.zeros_like(p)
    np.log(p, out=out, where=p > 0)
    out *= p
    return out
