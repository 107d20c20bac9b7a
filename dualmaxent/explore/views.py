"""The explorer's views: each an HTML block (a table, or a figure as an inline PNG) with the
numbers it shows, drawn from an :class:`~dualmaxent.explore.model.Exploration`.

Every number is read from a result object (:class:`~dualmaxent.Certificate`,
:class:`~dualmaxent.DualResult`, :class:`~dualmaxent.PrimalResult`,
:class:`~dualmaxent.trace.BracketTrace`) or computed by the library's own functions
(:func:`dualmaxent.recover_primal`, the family's ``conjugate``); as in
:mod:`dualmaxent.figures`, the code here only multiplies by ``X^T W``, subtracts, takes norms
and picks extremes. The charts are SVG strings (:mod:`dualmaxent.explore.svg`), so that a
slider move redraws in milliseconds.
"""

from __future__ import annotations

import html
import warnings
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .. import display
from ..exceptions import DualMaxentError, DualMaxentWarning
from ..figures import CLASS_COLORS, METHOD_COLORS
from ..report import label_text
from ..verify import balance_sides, recover_primal
from . import svg

__all__ = ["View", "VIEWS", "show", "summary", "balance", "primal_dual", "bracket", "maxent_map", "separation",
           "coefficients", "TRACE_METHODS"]

#: The dual solvers whose brackets the bracket view traces.
TRACE_METHODS = ("newton", "newton-cg", "lbfgs", "gradient")
#: Iterates certified per solver (the first, the last and some between, log-spaced): enough
#: for the shape of each curve (Newton's few steps are all shown), few enough that a lambda move
#: re-traces the four solvers within the 0.3 s budget.
TRACE_POINTS = 8
#: The gradient method's iteration cap in the bracket view: it converges slowly by design, and
#: its stall is part of the picture (about 0.1 s on the built-in data).
TRACE_MAX_ITER = 400


@dataclass(frozen=True)
class View:
    """What a view shows: its HTML, and the numbers in it (for tests and for reading)."""

    html: str
    numbers: dict = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return self.html


def _text(sentence: str) -> str:
    return f"<p style='margin:4px 0 8px 0;color:#333;max-width:62em'>{sentence}</p>"


def _error(message: str) -> View:
    return View(f"<pre data-dm='error' style='color:#b42318;white-space:pre-wrap'>"
                f"{html.escape(message)}</pre>", {"error": message})


def _row(*charts: str) -> str:
    return ("<div style='display:flex;gap:12px;flex-wrap:wrap'>"
            + "".join(f"<div>{c}</div>" for c in charts if c) + "</div>")


def _color(i: int) -> str:
    return CLASS_COLORS[i % len(CLASS_COLORS)]


def _guard(expl) -> View | None:
    if expl.error:
        return _error(expl.error)
    return None


def _table(ds, values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(ds.n, -1)


def _columns(ds) -> list[str]:
    if ds.family.multiclass:
        return [label_text(c) for c in ds.classes]
    if ds.family.is_probability:
        return [f"Pr({label_text(ds.classes[-1])})"]
    return ["mean"]


# -- the summary line ----------------------------------------------------------------------------

def summary(expl) -> View:
    """The verdict, the entropy, the gap and the timings, in one block."""
    bad = _guard(expl)
    if bad is not None:
        return bad
    cert, s = expl.cert, expl.seconds
    color = "#1a7f37" if cert.ok else "#b42318"
    # the checker's point gives the lower bound; CVXPY's entropy (when it ran) is a cross-check
    point_h = cert.projected.entropy if cert.projected is not None else cert.entropy
    cross = ("" if expl.primal is None else
             f"; CVXPY's entropy {cert.entropy:.8f} nats is a cross-check, not a bound")
    cvxpy = ("" if expl.primal is None else
             f"; CVXPY compile <span data-dm='compile'>{s['primal_compile'] * 1e3:.0f}</span> ms,"
             f" solve <span data-dm='solve'>{s['primal_solve'] * 1e3:.0f}</span> ms")
    fam = expl.dataset.family
    kind = ("" if fam.is_probability else
            f" <span style='font-size:12px;color:#555'>(the {html.escape(fam.name)} family's "
            "entropy −Σ A*(μ): not a Shannon entropy, it can be negative)</span>")
    below = ("" if abs(cert.duality_gap) > cert.roundoff else
             f" (round-off ±{cert.roundoff:.0e})")
    warm = ("" if expl.warm_from is None else
            f" (started from θ* at λ = {expl.warm_from:.4g})")
    reused = ("" if not expl.reused else
              " (this problem was solved before: " + ("λ does not enter it" if not
                                                     cert.penalty.active else "same λ")
              + ", nothing re-solved)")
    block = (
        f"<div style='border:1px solid #ccc;border-radius:6px;padding:6px 10px'>"
        f"<div data-dm='verdict' style='font-weight:bold;color:{color}'>"
        f"{html.escape(cert.verdict)}</div>"
        f"<div style='font-size:15px'>lower bound <b data-dm='lower'>{cert.lower_bound:.8f}</b>"
        f" ≤ OPT ≤ upper bound <b data-dm='upper'>{cert.upper_bound:.8f}</b> nats &nbsp;"
        f" gap <b data-dm='gap'>{cert.duality_gap:.2e}</b> nats{below} (θ is within <span "
        f"data-dm='within'>{cert.within:.2e}</span> nats of the optimum)</div>"
        f"<div style='font-size:12px;color:#555'>upper bound: the dual objective "
        f"−l(θ*){' + penalty' if cert.penalty.active else ''}; lower bound: the entropy "
        f"H(P~) = <span data-dm='entropy'>{point_h:.8f}</span> nats{kind} of the checker's "
        f"point P~ (built from θ*, then checked){_charge_text(cert, point_h)}{cross}</div>"
        f"<div style='font-size:12px;color:#555'>{html.escape(expl.dataset.name)}: n = "
        f"{expl.dataset.n}, m = {expl.dataset.m}, {expl.dataset.family.name}; dual "
        f"{html.escape(expl.dual.method)} {expl.dual.iterations} "
        f"iteration{'' if expl.dual.iterations == 1 else 's'}{warm} "
        f"{s['dual'] * 1e3:.0f} ms; checker {s['certify'] * 1e3:.0f} ms{cvxpy} (the solver's own "
        f"clock); wall time of the solve "
        f"<span data-dm='total'>{s['total'] * 1e3:.0f}</span> ms{reused}</div></div>")
    return View(block, {"ok": bool(cert.ok), "entropy": cert.entropy,
                        "gap": cert.duality_gap, "seconds": dict(s)})


def _charge_text(cert, point_h: float) -> str:
    """The relaxation's charge between the point's entropy and the lower bound, if any."""
    charge = point_h - cert.lower_bound
    if not cert.penalty.active or not np.isfinite(charge) or abs(charge) <= cert.roundoff:
        return ""
    return (f", less the penalty's charge on its slack s ({charge:.6g} nats: "
            f"{'‖s‖²/2λ' if cert.penalty.kind == 'l2' else 'the softened box'})")


# -- the balance equations ----------------------------------------------------------------------

def balance(expl) -> View:
    """``X^T W Y`` against ``X^T W mu(theta*)`` and their difference, entry by entry; with a
    penalty the slack ``s`` of the penalised rows and its box."""
    bad = _guard(expl)
    if bad is not None:
        return bad
    from ..params import Parameterization

    ds, cert = expl.dataset, expl.cert
    penalty = cert.penalty
    xtm, xty = (np.asarray(side).reshape(ds.m, -1) for side in balance_sides(ds, cert.theta))
    diff = xtm - xty
    scale = 1.0 + float(np.abs(xty).max())
    pen = Parameterization.from_dataset(ds, penalty).penalized_rows
    theta = np.asarray(cert.theta, dtype=np.float64).reshape(ds.m, -1)
    kind = penalty.kind if penalty.active else "none"
    box = (penalty.lam if kind == "l1" else
           penalty.lam * penalty.l1_ratio if kind == "elasticnet" else None)
    header = ["feature", "class" if ds.family.is_probability else "column", "Xᵀ W Y (data)",
              "Xᵀ W μ* (model)", "difference"]
    if kind != "none":
        header += ["penalised", "|s| vs box" if box is not None else "θ = −s/λ"]
    rows, styles, tight = [], [], np.zeros(diff.shape, dtype=bool)
    names = _columns(ds)
    for r, feature in enumerate(ds.feature_names):
        for i, col in enumerate(names):
            line = [html.escape(feature), html.escape(col), f"{xty[r, i]:.6g}",
                    f"{xtm[r, i]:.6g}", f"{diff[r, i]:+.2e}"]
            style = ""
            if kind != "none":
                if pen[r]:
                    # the box is tight exactly where theta is nonzero (complementary slackness)
                    tight[r, i] = box is not None and theta[r, i] != 0.0
                    line.append("yes")
                    if box is not None and kind == "elasticnet" and tight[r, i]:
                        # the softened box: beyond lam a the slack is paid for, |s| = lam a +
                        # lam (1 - a) |theta| (it read as a broken constraint, "41.28 >= 24.2")
                        line.append(f"{abs(diff[r, i]):.4g} = {box:.4g} + "
                                    f"{abs(diff[r, i]) - box:.4g} <b>beyond the box</b>")
                    elif box is not None:
                        line.append(f"{abs(diff[r, i]):.4g} {'≥' if tight[r, i] else '<'} "
                                    f"{box:.4g}" + (" <b>tight</b>" if tight[r, i] else ""))
                    else:
                        line.append(f"{theta[r, i]:.4g}")
                    style = "background:#fff4e5" if tight[r, i] else "background:#f3f7ff"
                else:
                    line += ["no (equation)", ""]
            rows.append(line)
            styles.append(style)
    equal = ~pen if kind != "none" else np.ones(ds.m, dtype=bool)
    rel = float(np.abs(diff[equal]).max()) / scale
    if kind == "none":
        note = ("Every entry of the data's column Xᵀ W Y is matched by the model's: these are "
                "the constraints of the max-entropy problem, and the dual's gradient. The "
                f"largest difference is {rel:.1e} of 1 + max |Xᵀ W Y|.")
    elif kind == "elasticnet":
        n_tight = int(tight.sum())
        note = (f"With the elastic net the penalised rows' slack s = Xᵀ W (μ* − Y) is free "
                f"inside the box |s| ≤ λa = {box:.4g} and paid for beyond it, (|s| − λa)²/"
                f"(2λ(1 − a)) in the primal: a box softened by a quadratic. {n_tight} of "
                f"{int(pen.sum()) * diff.shape[1]} entries reach beyond it (orange), by "
                "λ(1 − a)|θ|: exactly the nonzero coefficients.")
    elif box is not None:
        n_tight = int(tight.sum())
        note = (f"With {html.escape(expl.settings.penalty)}, the penalised rows are no longer equations: their slack "
                f"s = Xᵀ W (μ* − Y) may move inside the box |s| ≤ {box:.4g}. {n_tight} of "
                f"{int(pen.sum()) * diff.shape[1]} boxes are tight (orange): exactly the "
                "nonzero coefficients. Beyond λ_max every box is slack and only the intercept "
                "remains.")
    else:
        note = ("With L2 the penalised rows are relaxed: the slack s = Xᵀ W (μ* − Y) is paid "
                "for by ‖s‖²/(2λ) in the primal, and θ = −s/λ. The intercept row (white) is "
                f"still an equation, matched to {rel:.1e}.")
    out = _text(note) + ("<div style='max-width:64em'>"
                         + display.table_html(header, rows, row_styles=styles) + "</div>")
    return View(out, {"xty": xty, "xtm": xtm, "difference": diff, "relative_difference": rel,
                      "tight": tight, "penalized": pen, "scale": scale})


# -- primal = dual -------------------------------------------------------------------------------

def primal_dual(expl) -> View:
    """CVXPY's point (or the checker's) against ``mu(theta*)``, CVXPY's multipliers against
    theta*, and the certificate."""
    bad = _guard(expl)
    if bad is not None:
        return bad
    ds, cert = expl.dataset, expl.cert
    mu_dual = _table(ds, recover_primal(ds, cert.theta))
    if cert.primal is not None:
        point, who = _table(ds, cert.primal.mu), "CVXPY's primal optimum"
    else:
        point, who = _table(ds, cert.projected.mu), "the checker's feasible point"
    names = _columns(ds)
    left = svg.chart([svg.Series(mu_dual[:, i], point[:, i], _color(i), names[i], "points",
                                 opacity=0.6) for i in range(point.shape[1])],
                     diagonal=True, title="the primal point is the dual's mean",
                     xlabel="dual: μ(θ*) = A'(Xθ*)", ylabel=who.split("'s ")[0] + " point",
                     legend="upper left")
    numbers = {"max_point_difference": float(np.abs(point - mu_dual).max())}
    right = ""
    if cert.primal is not None and cert.primal.theta is not None:
        mult = np.asarray(cert.primal.theta, dtype=np.float64).ravel()
        th = np.asarray(cert.theta, dtype=np.float64).ravel()
        right = svg.chart([svg.Series(th, mult, "#1f77b4", "", "points", size=3.5)],
                          diagonal=True, title="the multipliers are θ*" if cert.attained
                          else "multipliers vs θ (θ* is at infinity)",
                          xlabel="θ* (dual solver)", ylabel="−(CVXPY's multipliers)")
        numbers["max_theta_difference"] = float(np.abs(mult - th).max())
    sentence = (f"Each dot is one entry of {who} against the dual's mean at θ*: they lie on "
                "the diagonal, and CVXPY's multipliers of the balance equations are θ* itself "
                "(with the sign flipped). The certificate below proves the two objectives meet."
                + ("" if cert.attained else " Here the data are separated: θ* is at infinity, "
                   "the θ shown was walked along the separating direction, and it matches "
                   "CVXPY's multipliers of the reduced problem only modulo that direction (the "
                   "certificate's θ agreement)."))
    out = (_text(sentence) + _row(left, right)
           + display.certificate_html(cert, ds, coefficients=False))
    return View(out, numbers)


# -- the bracket closing -------------------------------------------------------------------------

def bracket(expl, methods=TRACE_METHODS, points: int = TRACE_POINTS) -> View:
    """The certified bracket ``[lower_t, upper_t]`` at the iterates of each dual solver
    (:func:`dualmaxent.trace.trace_bracket`) and its gap against the iteration.

    ``points`` iterates are certified per solver (the first, the last, and the rest spread in
    ``log(1 + t)``). The solver that produced ``expl``'s theta is not run again: its recorded
    iterates are certified (:attr:`~dualmaxent.explore.model.Exploration.iterates`). Traces are
    kept per data set and problem (:func:`_traces`), so that coming back to a lambda, or moving
    it with no penalty, certifies nothing again.
    """
    bad = _guard(expl)
    if bad is not None:
        return bad
    traces = _traces(expl, methods, points)
    if not traces:
        return _error("dualmaxent: error: no dual solver takes this problem")
    numbers, gaps = {}, []
    for method, tr in traces.items():
        gap = np.maximum(tr.duality_gap, tr.roundoff)  # below its round-off it is round-off
        gaps.append(svg.Series(tr.iteration + 1, gap, METHOD_COLORS.get(method, "#333"),
                               method, "both"))
        numbers[method] = {"iteration": tr.iteration, "gap": tr.duality_gap,
                           "upper": tr.upper_bound, "lower": tr.lower_bound,
                           "roundoff": tr.roundoff, "converged": bool(tr.dual.converged)}
    tr = traces.get(expl.dual.method) or traces[next(iter(traces))]  # the solve shown above
    opt = expl.cert.upper_bound
    # both bounds relative to the certified optimum, the lower one mirrored: a log scale
    # shows both closing
    above = svg.Series(tr.iteration + 1, np.maximum(tr.upper_bound - opt, tr.roundoff),
                       "#d62728", "upper_t − OPT", "both")
    below = svg.Series(tr.iteration + 1, np.maximum(opt - tr.lower_bound, tr.roundoff),
                       "#2ca02c", "OPT − lower_t", "both", dash="5 3")
    left = svg.chart(gaps, xlog=True, ylog=True, title="the certified gap, per solver",
                     xlabel="iteration t + 1", ylabel="upper_t − lower_t (nats)",
                     legend="outside")
    right = svg.chart([above, below], xlog=True, ylog=True,
                      title=f"both bounds close on OPT ({tr.method})",
                      xlabel="iteration t + 1", ylabel="distance to OPT (nats)",
                      legend="outside")

    def gap(t, i):
        # a gap below its round-off budget is zero to the checker's accuracy (it may print < 0)
        g, r = t.duality_gap[i], t.roundoff[i]
        return f"{g:.2e}" if g > r else f"≤ {r:.0e} (round-off)"

    # the solver's ending in words (its status code, "not_attained", read as a sentence)
    ended = {"converged": "yes", "max_iter": "no: iteration cap", "stalled": "no: stalled",
             "not_attained": "supremum only (θ runs off)", "diverged": "no: θ may run off"}
    rows = [[html.escape(m), str(int(t.iteration[-1])), gap(t, 0), gap(t, -1),
             html.escape(ended.get(str(t.dual.status), str(t.dual.status)))]
            for m, t in traces.items()]
    refused = _refusals(expl)
    untraced = "".join(f"<div style='font-size:12px;color:#666'>not traced: "
                       f"{html.escape(refused.get(m, m))}</div>"
                       for m in methods if m not in traces)
    sentence = ("At every iterate θ_t the checker proves lower_t ≤ OPT ≤ upper_t, far from the "
                "optimum too: the gap is a guaranteed distance to the optimum, and it closes as "
                "the solver converges (Newton in a few steps, gradient descent slowly). This is "
                "weak duality made visible.")
    out = (_text(sentence) + _row(left, right)
           + display.table_html(["solver", "last iterate", "first gap", "last gap",
                                 "converged?"], rows) + untraced)
    return View(out, numbers)


#: Traces kept per data set (:func:`_traces`), keyed by the problem and the solver.
_TRACED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
#: ... at most this many per data set.
TRACES_KEPT = 256


def _traces(expl, methods, points: int) -> dict:
    """``{method: BracketTrace}`` for the solvers in ``methods`` that take ``expl``'s problem."""
    from ..trace import trace_bracket

    ds, st, cert = expl.dataset, expl.settings, expl.cert
    kept = _TRACED.setdefault(ds, OrderedDict())
    traces = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DualMaxentWarning)
        for method in methods:
            key = (cert.penalty, method, st.tol, st.dual_tol, points)
            if key not in kept:
                try:
                    if expl.iterates and method == expl.dual.method:
                        kept[key] = _trace_of_iterates(expl, points)
                    else:
                        kept[key] = trace_bracket(
                            ds, method=method, penalty=cert.penalty, tol=cert.tol,
                            dual_tol=st.dual_tol, max_points=points,
                            max_iter=TRACE_MAX_ITER if method == "gradient" else None,
                            separation=cert.separation)
                except DualMaxentError as exc:
                    kept[key] = exc  # a method that does not take this problem (its own message)
                while len(kept) > TRACES_KEPT:
                    kept.popitem(last=False)
            kept.move_to_end(key)
            if not isinstance(kept[key], DualMaxentError):
                traces[method] = kept[key]
    return traces


def _refusals(expl) -> dict:
    """``{method: reason}`` for the solvers that did not take ``expl``'s problem (their own
    one-line messages, kept by :func:`_traces`)."""
    kept = _TRACED.get(expl.dataset, {})
    st, pen = expl.settings, expl.cert.penalty
    return {key[1]: str(value).splitlines()[0] for key, value in kept.items()
            if isinstance(value, DualMaxentError) and key[0] == pen and key[2:4] == (st.tol,
                                                                                      st.dual_tol)}


def _trace_of_iterates(expl, points: int):
    """:func:`dualmaxent.trace.trace_bracket` of the solve that ``expl`` already ran: the same
    certificate at the same chosen iterates, without solving again."""
    from ..certify import certify
    from ..trace import BracketTrace, _chosen

    ds, dual, cert = expl.dataset, expl.dual, expl.cert
    chosen = _chosen(len(expl.iterates), points)
    certs = [certify(ds, expl.iterates[t], penalty=cert.penalty, tol=cert.tol,
                     source=f"iterate {t} of {dual.method}", separation=cert.separation)
             for t in chosen]
    return BracketTrace(method=dual.method, iteration=np.asarray(chosen, dtype=int),
                        lower_bound=np.array([c.lower_bound for c in certs]),
                        upper_bound=np.array([c.upper_bound for c in certs]),
                        roundoff=np.array([c.roundoff for c in certs]),
                        relative_gap=np.array([c.relative_gap for c in certs]),
                        theta=[expl.iterates[t] for t in chosen], dual=dual,
                        penalty=cert.penalty)


# -- the max-entropy map -------------------------------------------------------------------------

#: Grid points per side of the map.
MAP_GRID = 90


def maxent_map(expl, features=None) -> View:
    """P* over the plane of two features: class colours mixed by P*, contours of the entropy
    of ``P*(.|x)``. With more than two features the model is refitted on the two chosen ones
    (the same penalty), so that the plane is its whole input."""
    bad = _guard(expl)
    if bad is not None:
        return bad
    from ..data import Dataset

    ds, cert = expl.dataset, expl.cert
    if not ds.family.is_probability:
        return View(_text("The map colours the plane by class probabilities: it needs a "
                          "categorical or Bernoulli target."), {})
    names = [f for f in ds.feature_names if f != "intercept"]
    chosen = list(features or names[:2])
    if len(chosen) != 2 or any(f not in names for f in chosen) or chosen[0] == chosen[1]:
        return _error("dualmaxent: error: choose two different features for the map")
    cols = [ds.feature_names.index(f) for f in chosen]
    X2 = np.asarray(ds.X[:, cols], dtype=np.float64)
    converged = True
    if len(names) == 2 and ds.intercept:
        theta = cert.theta  # the fit itself
        fitted = ds
    else:
        fitted, theta, converged = _refit(ds, chosen, cert.penalty)
    pad = 0.1 * (X2.max(axis=0) - X2.min(axis=0)) + 1e-9
    (x0, y0), (x1, y1) = X2.min(axis=0) - pad, X2.max(axis=0) + pad
    g = MAP_GRID
    gx, gy = np.meshgrid(np.linspace(x0, x1, g), np.linspace(y0, y1, g))
    labels = np.resize(np.array(fitted.classes, dtype=object), g * g)
    grid = Dataset.from_arrays(np.column_stack([gx.ravel(), gy.ravel()]), labels,
                               feature_names=chosen, family=fitted.family.name, name="grid")
    P = _table(grid, recover_primal(grid, theta))
    if P.shape[1] == 1:  # Bernoulli: the probability of the second class
        P = np.column_stack([1.0 - P[:, 0], P[:, 0]])
    # the entropy of each point's distribution: minus the family's conjugate A*(mu)
    H = -grid.family.conjugate(recover_primal(grid, theta)).reshape(g, g)
    from matplotlib.colors import to_rgb

    colors = np.array([to_rgb(_color(i)) for i in range(P.shape[1])])
    rgb = 0.55 * np.clip(P @ colors, 0, 1).reshape(g, g, 3) + 0.45
    layers = []
    import contourpy

    lines = contourpy.contour_generator(gx, gy, H)
    # (the levels an entropy of P(. | x) can reach: at most log k nats, 0.69 for two classes)
    levels = [v for v in (0.1, 0.3, 0.6, 0.9) if v < np.log(max(len(fitted.classes), 2))]
    for level in levels:
        for seg in lines.lines(level):
            layers.append(svg.Series(seg[:, 0], seg[:, 1], "#222", "", "line", dash="3 2"))
    Yc = _table(fitted, fitted.Y)
    idx = Yc.argmax(axis=1) if Yc.shape[1] > 1 else (Yc[:, 0] > 0.5).astype(int)
    for i, c in enumerate(fitted.classes):
        sel = idx == i
        layers.append(svg.Series(X2[sel, 0], X2[sel, 1], _color(i), f"class {label_text(c)}", "points",
                                 size=3))
    picture = svg.chart(layers, xlim=(x0, x1), ylim=(y0, y1), width=520, height=400,
                        underlay=svg.png_data_uri(rgb), xlabel=chosen[0], ylabel=chosen[1],
                        title="P*(class | x) over the plane; dashed: entropy "
                              + ", ".join(f"{v:g}" for v in levels) + " nats",
                        legend="upper left")
    k = P.shape[1]
    if not converged:
        warn = ("<b>The refit on these two features did not converge: the map shows its last "
                "iterate.</b> ")
    else:
        warn = ""
    sentence = warn + (f"Colour mixes the class colours by P*(class | x); contours are the entropy of "
                f"P*(·|x) in nats (at most log {k} = {np.log(k):.2f}). Deep inside a class the "
                "model is sure; between classes it spreads its probability as much as the "
                "balance equations allow."
                + ("" if fitted is ds else " The model here is refitted on these two features "
                   "alone, with the same penalty."))
    return View(_text(sentence) + picture, {"max_point_entropy": float(H.max()),
                                              "min_point_entropy": float(H.min())})


#: The map's two-feature refits, per data set: ``{(features, kind, l1_ratio): (Dataset,
#: {lam: theta*})}``.
_REFITS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _refit(ds, chosen, penalty):
    """``(data, theta, converged)``: the model refitted on the features ``chosen`` alone, with
    ``penalty``. The solve starts from the refit at the nearest lambda already solved (path
    following, as :func:`dualmaxent.explore.model.explore` does for the full model): on iris's
    sepal features with a small L1 penalty a cold proximal Newton solve takes a second and stops
    at its iteration cap, a warm one a few milliseconds."""
    from ..data import Dataset
    from ..dual import solve_dual

    per = _REFITS.setdefault(ds, {})
    key = (tuple(chosen), penalty.kind, penalty.l1_ratio)
    if key not in per:
        cols = [ds.feature_names.index(f) for f in chosen]
        fitted = Dataset.from_arrays(np.asarray(ds.X[:, cols], dtype=np.float64), ds.y,
                                     feature_names=list(chosen), family=ds.family.name,
                                     weights=ds.weights, name=f"{ds.name} ({', '.join(chosen)})")
        per[key] = (fitted, {})
    fitted, solved = per[key]
    lam = float(penalty.lam)
    if lam in solved:
        return fitted, solved[lam], True
    near = (min(solved, key=lambda other: abs(np.log(other / lam)), default=None)
            if penalty.active else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DualMaxentWarning)
        dual = solve_dual(fitted, penalty=penalty,
                          theta0=solved[near] if near is not None else None)
    if dual.converged and len(solved) < 256:
        solved[lam] = dual.theta
    return fitted, dual.theta, bool(dual.converged)


# -- separation ----------------------------------------------------------------------------------

def separation(loaded, lambdas=None) -> View:
    """The L2 path: ``||theta*_lambda||`` against ``-l(theta*_lambda)`` and ``H(P*)`` as lambda
    falls; on separated data the norm grows without bound while ``-l`` settles on the entropy.
    Depends on the data only (the default solvers), not on the controls."""
    if loaded.dataset is None:
        return _error(loaded.error)
    from ..dual import solve_dual
    from ..verify import verify
    from .model import lambda_scale

    ds = loaded.dataset
    if lambdas is None and ds in _SEPARATION:
        return _SEPARATION[ds]  # it depends on the data alone: a lambda move reuses it
    lams = (lambda_scale(ds) * np.logspace(-4, 0.5, 12)) if lambdas is None else lambdas
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DualMaxentWarning)
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        try:
            base = verify(ds, primal="projected")
            duals = [solve_dual(ds, l2=float(lam)) for lam in lams]
        except DualMaxentError as exc:
            from .model import error_line

            return _error(error_line(exc))
    norms = np.array([float(np.linalg.norm(d.theta)) for d in duals])
    neg = np.array([-d.canonical_loglik for d in duals])
    left = svg.chart([svg.Series(lams, norms, "#9467bd", "", "both")], xlog=True,
                     title="the coefficients' norm", xlabel="L2 penalty λ", ylabel="‖θ*_λ‖")
    right = svg.chart([svg.Series(lams, neg, "#d62728", "−l(θ*_λ)", "both")], xlog=True,
                      hlines=[(base.entropy, "#000", "2 2", f"H(P*) = {base.entropy:.4f}")],
                      title="−l settles on H(P*)", xlabel="L2 penalty λ", ylabel="nats")
    check = base.separation_check
    if check is not None:
        sentence = (f"These data are separated: as λ → 0 the norm of θ*_λ grows without bound "
                    f"(from {norms[-1]:.3g} to {norms[0]:.3g}) while −l(θ*_λ) settles on the "
                    f"finite entropy H(P*) = {base.entropy:.4f}. {check.forced_entries} entries "
                    "of P* are forced to 0 or 1; the certificate is about the reduced problem: "
                    f"<b>{html.escape(base.verdict)}</b>")
    else:
        sentence = (("The Gaussian likelihood always has a maximiser: there is no separation. "
                     "As" if ds.family.name == "gaussian" else "These data are not separated: as")
                    + f" λ → 0, ‖θ*_λ‖ levels off at "
                    f"{norms[0]:.3g} and −l(θ*_λ) reaches H(P*) = {base.entropy:.4f}, attained "
                    "at a finite θ*. (Try iris: setosa is separated from the rest.)")
    sentence += (" <span style='color:#666'>(This view solves its own L2 path on the data; "
                 "the penalty controls do not change it.)</span>")
    view = View(_text(sentence) + _row(left, right),
                {"lambdas": np.asarray(lams), "norms": norms, "neg_loglik": neg,
                 "entropy": base.entropy, "separated": check is not None})
    if lambdas is None:
        _SEPARATION[ds] = view
    return view


#: The separation view of each data set (it does not depend on the controls).
_SEPARATION: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


# -- coefficients --------------------------------------------------------------------------------

def coefficients(expl) -> View:
    """The certified theta as the CLI reports it (:func:`dualmaxent.report.report_coefficients`):
    each class against the first, statsmodels' columns, the contrasts' standard errors."""
    bad = _guard(expl)
    if bad is not None:
        return bad
    from ..report import report_coefficients

    cert, ds = expl.cert, expl.dataset
    rep = report_coefficients(ds, cert.theta, cov=cert.covariance, penalty=cert.penalty)
    if rep.reference is not None and rep.classes and rep.classes[0] is None:  # two classes
        what = f"the {html.escape(rep.title)}, as statsmodels' Logit reports it"
    elif ds.family.multiclass and rep.reference is not None and cert.penalty.active:
        what = (f"the intercept of each class against the reference class "
                f"{html.escape(label_text(rep.reference))} (the first): softmax(Xθ) does not "
                "change when one class's intercept is subtracted from every class's; the "
                "penalised rows are free in every class (the penalty, not a reference class, "
                "pins them) and listed as they are")
    elif ds.family.multiclass and rep.reference is not None:
        what = (f"each class against the reference class {html.escape(label_text(rep.reference))}"
                " (the first), as statsmodels' MNLogit and R's multinom report them: "
                "softmax(Xθ) does not change when one class's coefficients are subtracted from "
                "every class's, so only these differences are estimated")
    elif ds.family.multiclass:
        what = ("every class's coefficients as they are: every row is penalised, and the "
                "penalty, not a reference class, pins them")
    else:
        what = f"one coefficient per feature ({html.escape(ds.family.name)} family)"
    inference = ("Standard errors come from the observed Fisher information; a difference's "
                 "from the covariance of both classes' coefficients." if rep.std_err is not None
                 else html.escape(cert.std_err_note[:1].upper() + cert.std_err_note[1:]) + ".")
    sentence = f"The certified θ*: {what}. {inference}"
    out = _text(sentence) + display.coefficients_html(
        cert.theta, ds, cov=cert.covariance, penalty=cert.penalty,
        note=cert.std_err_note if rep.std_err is not None else "")
    return View(out, {"names": rep.names, "coef": rep.coef, "std_err": rep.std_err,
                      "reference": rep.reference, "theta": np.asarray(cert.theta)})


#: The views, by the label of the view picker (the first is shown on start).
VIEWS = {
    "Balance equations": "balance",
    "Primal = dual": "primal_dual",
    "The bracket closing": "bracket",
    "Max-entropy map": "maxent_map",
    "Separation": "separation",
    "Coefficients": "coefficients",
}


def show(label: str, expl, loaded, methods=TRACE_METHODS, features=None) -> View:
    """The view named ``label`` (a key of :data:`VIEWS`), computed alone.

    Its HTML is wrapped in ``<div data-dm='view' data-view=... data-lam=...>``, the lambda
    it was drawn for: a page (and the browser test) can tell a redrawn view from a stale one.
    Where the solve (or the load) stopped with an error the view is empty: the summary shows
    that error, once (its ``numbers`` keep it).
    """
    name = VIEWS.get(label)
    if expl is not None and expl.error and name != "separation" or (
            name == "separation" and loaded.dataset is None):
        # the summary above shows the error that stopped the solve (or the load): once
        return View(f"<div data-dm='view' data-view='{name}'></div>", {"error": expl.error
                                                                     or loaded.error})
    if name == "separation":
        view = separation(loaded)
    elif name == "bracket":
        view = bracket(expl, methods=methods)
    elif name == "maxent_map":
        view = maxent_map(expl, features=features)
    elif name is None:
        return _error(f"dualmaxent: error: unknown view {label!r}")
    else:
        view = globals()[name](expl)
    lam = f"{expl.settings.lam:.6g}" if expl is not None else ""
    return View(f"<div data-dm='view' data-view='{name}' data-lam='{lam}'>{view.html}</div>",
                view.numbers)
