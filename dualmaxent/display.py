"""Rich display: the HTML and one-line summaries of the result objects and of a data set.

Jupyter and marimo call ``_repr_html_`` on the last value of a cell; the thin methods of
:class:`~dualmaxent.Certificate`, :class:`~dualmaxent.DualResult`,
:class:`~dualmaxent.PrimalResult` and :class:`~dualmaxent.Dataset` call the functions here, so
that the layout lives in one place. Nothing here computes a figure of the theory: every number
is an attribute of the object shown (the standard errors only when already computed, or when a
caller passes them, since they cost a Hessian pass).

Conventions: numbers in nats (sums over observations), as the objects hold them; HTML is plain
tables with inline styles (no CSS file, so it renders the same in Jupyter, marimo and a browser).
"""

from __future__ import annotations

import html

import numpy as np

__all__ = ["certificate_html", "certificate_repr", "dual_html", "dual_repr", "primal_html",
           "primal_repr", "dataset_html", "dataset_repr", "coefficients_html", "table_html"]

_OK, _BAD = "#1a7f37", "#b42318"
_TABLE = "width:auto;border-collapse:collapse;font-size:13px;margin:4px 0"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:right"
_HEAD = "padding:2px 8px;border-bottom:2px solid #999;text-align:right"


def _e(value) -> str:
    return html.escape(str(value))


def _num(value, fmt: str = ".6g") -> str:
    if value is None:
        return "–"
    value = float(value)
    return "–" if np.isnan(value) else format(value, fmt)


def table_html(header, rows, first_left: bool = True, row_styles=None) -> str:
    """An HTML table: ``header`` a list of str, ``rows`` lists of cells (str, already escaped
    where they carry markup; numbers formatted by the caller); ``row_styles`` an optional
    style per row."""
    def cell(tag, style, j, text):
        align = ";text-align:left" if first_left and j == 0 else ""
        return f"<{tag} style='{style}{align}'>{text}</{tag}>"

    head = "".join(cell("th", _HEAD, j, _e(h)) for j, h in enumerate(header))
    body = []
    for i, row in enumerate(rows):
        style = f" style='{row_styles[i]}'" if row_styles and row_styles[i] else ""
        body.append(f"<tr{style}>" + "".join(cell("td", _CELL, j, c) for j, c in enumerate(row))
                    + "</tr>")
    return f"<table style='{_TABLE}'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}" \
           "</tbody></table>"


def _pairs(rows) -> str:
    """A two-column table of (label, value) pairs, values already formatted."""
    cells = "".join(f"<tr><td style='{_CELL};text-align:left;color:#555'>{_e(k)}</td>"
                    f"<td style='{_CELL}'>{v}</td></tr>" for k, v in rows)
    return f"<table style='{_TABLE}'>{cells}</table>"


def _names(theta: np.ndarray, dataset=None):
    """Row and column labels of a theta laid out as (m, q)."""
    m, q = theta.shape
    rows = list(dataset.feature_names) if dataset is not None and dataset.m == m else \
        [f"x{r}" for r in range(m)]
    if dataset is not None and dataset.family.multiclass and len(dataset.classes) == q:
        cols = [f"class {c}" for c in dataset.classes]
    elif q == 1:
        cols = ["coef"]
    else:
        cols = [f"column {i}" for i in range(q)]
    return rows, cols


def coefficients_html(theta, std_err=None, dataset=None, note: str = "") -> str:
    """theta as a feature x class table, each entry with its standard error when given.

    Parameters
    ----------
    theta : ndarray of shape (m, k) or (m,)
    std_err : ndarray like theta, optional
    dataset : Dataset, optional
        For the feature and class names.
    note : str
        Printed under the table (why there are no standard errors, for instance).
    """
    if theta is None:
        return "<p><i>no coefficients</i></p>"
    m = np.asarray(theta).shape[0]
    th = np.asarray(theta, dtype=np.float64).reshape(m, -1)
    se = None if std_err is None else np.asarray(std_err, dtype=np.float64).reshape(m, -1)
    rows, cols = _names(th, dataset)
    header = ["feature"] + [c for c in cols for c in ((c, "std err") if se is not None else (c,))]
    body = []
    for r, name in enumerate(rows):
        line = [_e(name)]
        for i in range(th.shape[1]):
            line.append(_num(th[r, i], ".4f"))
            if se is not None:
                line.append(f"<span style='color:#666'>{_num(se[r, i], '.4f')}</span>")
        body.append(line)
    out = table_html(header, body)
    if note:
        out += f"<div style='font-size:12px;color:#666'>{_e(note)}</div>"
    return out


def _verdict_html(cert) -> str:
    color = _OK if cert.ok else _BAD
    return (f"<div data-dm='verdict' style='font-weight:bold;color:{color}'>"
            f"{_e(cert.verdict)}</div>")


def _dataset_of(result):
    """The data set a solver's result was solved on, when it keeps its objective."""
    obj = getattr(result, "_objective", None)
    return getattr(obj, "dataset", None)


def certificate_repr(cert) -> str:
    """Two lines: the verdict, and the bracket."""
    return (f"Certificate({cert.verdict};\n  bracket {cert.lower_bound:.10g} <= OPT <= "
            f"{cert.upper_bound:.10g} nats, within {cert.within:.1e}, primal {cert.primal_solver})")


def certificate_html(cert, dataset=None, coefficients: bool = True) -> str:
    """The certificate: verdict, bracket, key residuals, CVXPY's agreement, notes and the
    coefficients (with standard errors where the certificate has them)."""
    if dataset is None and cert.dual is not None:
        dataset = _dataset_of(cert.dual)
    bracket = [
        ("lower bound (primal, a feasible point)", _num(cert.lower_bound, ".10g")),
        ("upper bound (dual, −l(θ) + penalty)", _num(cert.upper_bound, ".10g")),
        ("duality gap", f"{_num(cert.duality_gap, '.2e')} (relative "
                        f"{_num(cert.relative_gap, '.1e')}, round-off {_num(cert.roundoff, '.0e')})"),
        ("θ is within", f"{_num(cert.within, '.1e')} nats of the optimum"),
        ("entropy of the point", _num(cert.entropy, ".10g")),
        ("balance residual (relative)", _num(cert.balance_residual, ".1e")),
        ("dual gradient (relative KKT)", _num(cert.dual_gradient, ".1e")),
        ("primal", _e(cert.primal_solver) + (f" ({_e(cert.primal_reason)})"
                                             if cert.primal_reason else "")),
    ]
    if cert.primal is not None:
        bracket += [("max |μ_CVXPY − μ(θ)|", _num(cert.p_agreement, ".1e")),
                    ("θ agreement (CVXPY's multipliers)", _num(cert.theta_agreement, ".1e"))]
    bracket.append(("source of θ", _e(cert.source)))
    parts = [_verdict_html(cert), _pairs(bracket)]
    for note in cert.notes:
        parts.append(f"<div style='font-size:12px;color:#666'>note: {_e(note)}</div>")
    if coefficients and cert.theta is not None:
        parts.append(coefficients_html(cert.theta, _cached_std_err(cert), dataset,
                                       cert.std_err_note if _cached_std_err(cert) is None else ""))
    return "<div>" + "".join(parts) + "</div>"


def _cached_std_err(obj):
    """The standard errors when they cost nothing more (already computed), else None."""
    dual = obj.dual if hasattr(obj, "verdict") else obj
    if dual is None or "_inference" not in getattr(dual, "__dict__", {}):
        return None
    return obj.std_err


def dual_repr(result) -> str:
    """One line: method, status, iterations, log-likelihood, KKT residual."""
    return (f"DualResult({result.method}, {result.status} after {result.iterations} iterations, "
            f"loglik {result.loglik:.10g}, kkt_residual {result.kkt_residual:.1e}, "
            f"{result.solve_seconds:.3g} s)")


def dual_html(result) -> str:
    """The dual solve: status, objective, residual, time and the coefficients."""
    color = _OK if result.converged else _BAD
    rows = [("status", f"<span style='color:{color};font-weight:bold'>{_e(result.status)}"
                       f"</span>: {_e(result.message)}"),
            ("method", f"{_e(result.method)}, {result.iterations} iterations, "
                       f"{_num(result.solve_seconds, '.3g')} s"),
            ("log-likelihood", _num(result.loglik, ".10g")),
            ("canonical l(θ)", _num(result.canonical_loglik, ".10g")),
            ("penalised objective", _num(result.objective, ".10g")),
            ("relative KKT residual", _num(result.kkt_residual, ".1e"))]
    se = _cached_std_err(result)
    return ("<div>" + _pairs(rows) + coefficients_html(result.theta, se, _dataset_of(result))
            + "</div>")


def primal_repr(result) -> str:
    """One line: solver, status, entropy, times."""
    return (f"PrimalResult({result.solver} {result.status}, entropy {result.entropy:.10g} nats, "
            f"compile {result.compile_seconds:.3g} s + solve {result.solve_seconds:.3g} s)")


def primal_html(result) -> str:
    """The CVXPY primal: status, entropy, objective, times, the multipliers as theta."""
    color = _OK if result.converged else _BAD
    rows = [("status", f"<span style='color:{color};font-weight:bold'>{_e(result.status)}"
                       f"</span> ({_e(result.solver)}, {result.iterations} iterations)"
                       + (f": {_e(result.message)}" if result.message else "")),
            ("entropy H(μ)", _num(result.entropy, ".10g")),
            ("objective", _num(result.objective, ".10g")),
            ("compile / solve", f"{_num(result.compile_seconds, '.3g')} s / "
                                f"{_num(result.solve_seconds, '.3g')} s"),
            ("μ", f"shape {tuple(np.shape(result.mu))}, gauge {_e(result.gauge)}")]
    return ("<div>" + _pairs(rows) + "<div style='font-size:12px'>multipliers converted to θ"
            "</div>" + coefficients_html(result.theta) + "</div>")


def dataset_repr(ds) -> str:
    """Two lines: name, family, sizes; the columns."""
    classes = f", classes {tuple(ds.classes)}" if ds.classes else ""
    names = ", ".join(ds.feature_names[:8]) + (", ..." if ds.m > 8 else "")
    return (f"Dataset({ds.name!r}, {ds.family.name}, n={ds.n}, m={ds.m}{classes};\n"
            f"  features: {names})")


def dataset_html(ds, rows: int = 5) -> str:
    """Sizes, classes and the first rows of ``X`` beside the response."""
    facts = [("family", _e(ds.family.name)), ("n observations", str(ds.n)),
             ("m columns of X", str(ds.m) + (" (intercept last)" if ds.intercept else ""))]
    if ds.classes:
        facts.append(("classes", _e(", ".join(str(c) for c in ds.classes))))
    if not np.all(np.asarray(ds.weights) == 1):
        facts.append(("total weight", _num(np.sum(ds.weights), ".6g")))
    from . import design

    head = ds.X[:rows]
    head = head.toarray() if design.is_sparse(head) else np.asarray(head)
    body = [[_num(v, ".4g") for v in head[j]] + [_e(ds.y[j])] for j in range(head.shape[0])]
    return (f"<div><b>{_e(ds.name)}</b>" + _pairs(facts)
            + table_html(list(ds.feature_names) + ["y"], body, first_left=False) + "</div>")
