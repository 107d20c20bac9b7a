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
from dataclasses import dataclass, field

import numpy as np

from .. import display
from ..exceptions import DualMaxentError, DualMaxentWarning
from ..figures import CLASS_COLORS, METHOD_COLORS
from ..verify import recover_primal
from . import svg

__all__ = ["View", "VIEWS", "show", "summary", "balance", "primal_dual", "bracket", "maxent_map", "separation",
           "coefficients", "TRACE_METHODS"]

#: The dual solvers whose brackets the bracket view traces.
TRACE_METHODS = ("newton", "newton-cg", "lbfgs", "gradient")
#: Iterates certified per solver (the first, the last and some between, log-spaced).
TRACE_POINTS = 12
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
        return [str(c) for c in ds.classes]
    if ds.family.is_probability:
        return [f"Pr({ds.classes[-1]})"]
    return ["mean"]


# -- the summary line ----------------------------------------------------------------------------

def summary(expl) -> View:
    """The verdict, the entropy, the gap and the timings, in one block."""
    bad = _guard(expl)
    if bad is not None:
        return bad
    cert, s = expl.cert, expl.seconds
    color = "#1a7f37" if cert.ok else "#b42318"
    cvxpy = ("" if expl.primal is None else
             f"; CVXPY compile <span data-dm='compile'>{s['primal_compile'] * 1e3:.0f}</span> ms,"
             f" solve <span data-dm='solve'>{s['primal_solve'] * 1e3:.0f}</span> ms")
    block = (
        f"<div style='border:1px solid #ccc;border-radius:6px;padding:6px 10px'>"
        f"<div data-dm='verdict' style='font-weight:bold;color:{color}'>"
        f"{html.escape(cert.verdict)}</div>"
        f"<div style='font-size:15px'>entropy H = <b data-dm='entropy'>{cert.entropy:.8f}</b>"
        f" nats &nbsp; −l(θ*) + penalty = <b data-dm='upper'>{cert.upper_bound:.8f}</b> &nbsp;"
        f" gap <b data-dm='gap'>{cert.duality_gap:.2e}</b> (θ is within <span "
        f"data-dm='within'>{cert.within:.2e}</span> nats of the optimum)</div>"
        f"<div style='font-size:12px;color:#555'>{html.escape(expl.dataset.name)}: n = "
        f"{expl.dataset.n}, m = {expl.dataset.m}, {expl.dataset.family.name}; dual "
        f"{html.escape(expl.dual.method)} {expl.dual.iterations} iterations "
        f"{s['dual'] * 1e3:.0f} ms; checker {s['certify'] * 1e3:.0f} ms{cvxpy} (the solver's own "
        f"clock); wall time of the solve "
        f"<span data-dm='total'>{s['total'] * 1e3:.0f}</span> ms</div></div>")
    return View(block, {"ok": bool(cert.ok), "entropy": cert.entropy,
                        "gap": cert.duality_gap, "seconds": dict(s)})


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
    w = np.asarray(ds.weights, dtype=np.float64)[:, None]
    Y = _table(ds, ds.Y)
    mu = _table(ds, recover_primal(ds, cert.theta))
    xty, xtm = ds.X.T @ (w * Y), ds.X.T @ (w * mu)  # (m, q)
    diff = xtm - xty
    scale = 1.0 + float(np.abs(xty).max())
    pen = Parameterization.from_dataset(ds, penalty).penalized_rows
    theta = np.asarray(cert.theta, dtype=np.float64).reshape(ds.m, -1)
    kind = penalty.kind if penalty.active else "none"
    box = (penalty.lam if kind == "l1" else
           penalty.lam * penalty.l1_ratio if kind == "elasticnet" else None)
    header = ["feature", "class", "Xᵀ W Y (data)", "Xᵀ W μ* (model)", "difference"]
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
                    if box is not None:
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

def bracket(expl, methods=TRACE_METHODS) -> View:
    """The certified bracket ``[lower_t, upper_t]`` at the iterates of each dual solver
    (:func:`dualmaxent.trace.trace_bracket`) and its gap against the iteration."""
    bad = _guard(expl)
    if bad is not None:
        return bad
    from ..trace import trace_bracket

    ds, st = expl.dataset, expl.settings
    traces = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DualMaxentWarning)
        for method in methods:
            try:
                traces[method] = trace_bracket(
                    ds, method=method, penalty=expl.cert.penalty, tol=st.tol,
                    dual_tol=st.dual_tol, max_points=TRACE_POINTS,
                    max_iter=TRACE_MAX_ITER if method == "gradient" else None,
                    separation=expl.cert.separation)
            except DualMaxentError:
                continue  # a method that does not take this problem (its own message)
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
    tr = traces[st.method] if st.method in traces else traces[next(iter(traces))]
    opt = expl.cert.upper_bound
    # both bounds relative to the certified optimum, the lower one mirrored: a log scale
    # shows both closing
    above = svg.Series(tr.iteration + 1, np.maximum(tr.upper_bound - opt, tr.roundoff),
                       "#d62728", "upper_t − OPT", "both")
    below = svg.Series(tr.iteration + 1, np.maximum(opt - tr.lower_bound, tr.roundoff),
                       "#2ca02c", "OPT − lower_t", "both", dash="5 3")
    left = svg.chart(gaps, xlog=True, ylog=True, title="the certified gap, per solver",
                     xlabel="iteration t + 1", ylabel="upper_t − lower_t (nats)")
    right = svg.chart([above, below], xlog=True, ylog=True,
                      title=f"both bounds close on OPT ({tr.method})",
                      xlabel="iteration t + 1", ylabel="distance to OPT (nats)")
    rows = [[html.escape(m), str(int(t.iteration[-1])), f"{t.duality_gap[0]:.2e}",
             f"{t.duality_gap[-1]:.2e}", "yes" if t.dual.converged else str(t.dual.status)]
            for m, t in traces.items()]
    sentence = ("At every iterate θ_t the checker proves lower_t ≤ OPT ≤ upper_t, far from the "
                "optimum too: the gap is a guaranteed distance to the optimum, and it closes as "
                "the solver converges (Newton in a few steps, gradient descent slowly). This is "
                "weak duality made visible.")
    out = (_text(sentence) + _row(left, right)
           + display.table_html(["solver", "last iterate", "first gap", "last gap",
                                 "converged"], rows))
    return View(out, numbers)


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
    from ..dual import solve_dual

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
    if len(names) == 2 and ds.intercept:
        theta = cert.theta  # the fit itself
        fitted = ds
    else:
        fitted = Dataset.from_arrays(X2, ds.y, feature_names=chosen, family=ds.family.name,
                                     weights=ds.weights, name=f"{ds.name} ({', '.join(chosen)})")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DualMaxentWarning)
            theta = solve_dual(fitted, penalty=cert.penalty).theta
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
    for level in (0.1, 0.3, 0.6, 0.9):
        for seg in lines.lines(level):
            layers.append(svg.Series(seg[:, 0], seg[:, 1], "#222", "", "line", dash="3 2"))
    Yc = _table(fitted, fitted.Y)
    idx = Yc.argmax(axis=1) if Yc.shape[1] > 1 else (Yc[:, 0] > 0.5).astype(int)
    for i, c in enumerate(fitted.classes):
        sel = idx == i
        layers.append(svg.Series(X2[sel, 0], X2[sel, 1], _color(i), f"class {c}", "points",
                                 size=3))
    picture = svg.chart(layers, xlim=(x0, x1), ylim=(y0, y1), width=520, height=400,
                        underlay=svg.png_data_uri(rgb), xlabel=chosen[0], ylabel=chosen[1],
                        title="P*(class | x) over the plane; dashed: entropy 0.1, 0.3, 0.6, "
                              "0.9 nats", legend="upper left")
    k = P.shape[1]
    sentence = (f"Colour mixes the class colours by P*(class | x); contours are the entropy of "
                f"P*(·|x) in nats (at most log {k} = {np.log(k):.2f}). Deep inside a class the "
                "model is sure; between classes it spreads its probability as much as the "
                "balance equations allow."
                + ("" if fitted is ds else " The model here is refitted on these two features "
                   "alone, with the same penalty."))
    return View(_text(sentence) + picture, {"max_point_entropy": float(H.max()),
                                              "min_point_entropy": float(H.min())})


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
        sentence = (f"These data are not separated: as λ → 0, ‖θ*_λ‖ levels off at "
                    f"{norms[0]:.3g} and −l(θ*_λ) reaches H(P*) = {base.entropy:.4f}, attained "
                    "at a finite θ*. (Try iris: setosa is separated from the rest.)")
    return View(_text(sentence) + _row(left, right),
                {"lambdas": np.asarray(lams), "norms": norms, "neg_loglik": neg,
                 "entropy": base.entropy, "separated": check is not None})


# -- coefficients --------------------------------------------------------------------------------

def coefficients(expl) -> View:
    """The certified theta with standard errors (statsmodels' layout: one column per class)."""
    bad = _guard(expl)
    if bad is not None:
        return bad
    cert, ds = expl.cert, expl.dataset
    se = cert.std_err
    sentence = ("The certified θ*, one column per class (the last class is the reference where "
                "the gauge pins it at 0), with standard errors from the observed Fisher "
                "information when the fit has them.")
    out = _text(sentence) + display.coefficients_html(cert.theta, se, ds, cert.std_err_note)
    return View(out, {"theta": np.asarray(cert.theta), "std_err": se})


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
    """The view named ``label`` (a key of :data:`VIEWS`), computed alone."""
    name = VIEWS.get(label)
    if name == "separation":
        return separation(loaded)
    if name == "bracket":
        return bracket(expl, methods=methods)
    if name == "maxent_map":
        return maxent_map(expl, features=features)
    if name is None:
        return _error(f"dualmaxent: error: unknown view {label!r}")
    return globals()[name](expl)
