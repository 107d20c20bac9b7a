"""Rich display: the HTML and one-line summaries of the result objects and of a data set.

Jupyter and marimo call ``_repr_html_`` on the last value of a cell; the thin methods of
:class:`~dualmaxent.Certificate`, :class:`~dualmaxent.DualResult`,
:class:`~dualmaxent.PrimalResult` and :class:`~dualmaxent.Dataset` call the functions here, so
that the layout lives in one place. Nothing here computes a figure of the theory: every number
is an attribute of the object shown. The coefficients are reported as the CLI prints them
(:func:`dualmaxent.report.report_coefficients`: each class against the first, with the
contrasts' standard errors), which needs the data set (a solver's result keeps it). The
covariance costs a Hessian pass: it is computed for the display only when that is cheap
(:data:`CHEAP_HESSIAN`), else read when already computed.

Conventions: numbers in nats (sums over observations), as the objects hold them; HTML is plain
tables with inline styles (no CSS file, so it renders the same in Jupyter, marimo and a browser).
"""

from __future__ import annotations

import html

import numpy as np

from .report import label_text, labels_text

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


def _raw_names(theta: np.ndarray, dataset=None):
    """Row and column labels of a theta laid out as (m, q), in the solver's own gauge."""
    m, q = theta.shape
    rows = list(dataset.feature_names) if dataset is not None and dataset.m == m else \
        [f"x{r}" for r in range(m)]
    if dataset is not None and dataset.family.multiclass and len(dataset.classes) == q:
        cols = [f"class {label_text(c)}" for c in dataset.classes]
    elif q == 1:
        cols = ["coef"]
    else:
        cols = [f"column {i}" for i in range(q)]
    return rows, cols


def coefficients_html(theta, dataset=None, cov=None, penalty=None, note: str = "",
                      reference=None) -> str:
    """The coefficient table.

    With ``dataset``, the report of :func:`dualmaxent.report.report_coefficients`, as the CLI
    prints it: each class against the reference class (the first by default), statsmodels'
    columns (coef, std err, z, P>|z| and the normal 95% interval) when ``cov`` is given, the
    contrasts' standard errors from the covariance ``D Cov D^T``. Without it (a CVXPY result
    alone), theta as it is laid out: one column per class in the solver's gauge.

    Parameters
    ----------
    theta : ndarray of shape (m, k) or (m,)
    dataset : Dataset, optional
        For the family, the classes and the feature names.
    cov : ndarray of shape (theta.size, theta.size), optional
        The covariance of theta's entries (:attr:`dualmaxent.Certificate.covariance`).
    penalty : Penalty, optional
        The fit's penalty: its penalised rows are listed for every class.
    note : str
        Printed under the table (why there are no standard errors, for instance).
    reference : label, optional
        The reference class (default: the first).
    """
    if theta is None:
        return "<p><i>no coefficients</i></p>"
    m = np.asarray(theta).shape[0]
    th = np.asarray(theta, dtype=np.float64).reshape(m, -1)
    if dataset is None or getattr(dataset, "m", None) != m:
        rows, cols = _raw_names(th, dataset)
        body = [[_e(name)] + [_num(th[r, i], ".4f") for i in range(th.shape[1])]
                for r, name in enumerate(rows)]
        out = table_html(["feature"] + cols, body)
    else:
        from .report import report_coefficients

        rep = report_coefficients(dataset, th.reshape(np.shape(theta)), cov=cov,
                                  reference=reference, penalty=penalty)
        header = ["", "coef"]
        stats = rep.inference()
        if stats is not None:
            header += ["std err", "z", "P>|z|", "[0.025", "0.975]"]
        body = []
        for i, name in enumerate(rep.names):
            line = [_e(name), _num(rep.coef[i], ".4f")]
            if stats is not None:
                line += [f"<span style='color:#666'>{_num(rep.std_err[i], '.4f')}</span>",
                         _num(stats["z"][i], ".3f"), _num(stats["p"][i], ".3f"),
                         _num(stats["lower"][i], ".4f"), _num(stats["upper"][i], ".4f")]
            body.append(line)
        title = (f"<div data-dm='coefficients-title' style='font-size:12px;color:#333'>"
                 f"coefficients ({_e(rep.title)})</div>" if rep.title else "")
        out = title + table_html(header, body)
    if note:
        out += f"<div style='font-size:12px;color:#666'>note: {_e(note)}</div>"
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
        cov, note = _covariance(cert, dataset)
        parts.append(coefficients_html(cert.theta, dataset, cov=cov, penalty=cert.penalty,
                                       note=note))
    return "<div>" + "".join(parts) + "</div>"


#: The rich display computes the covariance itself when its Hessian pass costs at most this
#: many multiply-adds (``n m^2 q^2``, a few milliseconds); above, only when already computed.
CHEAP_HESSIAN = 1e8


def _cheap(dataset) -> bool:
    if hasattr(dataset, "engine"):  # (a Dask data set: its Hessian pass is never cheap)
        return False
    q = len(dataset.classes) if dataset.family.multiclass else 1
    return dataset.n * dataset.m ** 2 * q ** 2 <= CHEAP_HESSIAN


def _covariance(obj, dataset) -> tuple:
    """``(cov, note)`` for the table: the covariance of theta's entries and why it is missing,
    computed only when cheap (already computed, or a small Hessian pass: :data:`CHEAP_HESSIAN`).
    """
    dual = obj.dual if hasattr(obj, "verdict") else obj
    if dual is not None and "_inference" not in getattr(dual, "__dict__", {}) \
            and not _cheap(dataset):
        return None, ("standard errors not computed for the display (a Hessian pass over a "
                      "large design): read .std_err")
    return obj.covariance, obj.std_err_note


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
    dataset = _dataset_of(result)
    cov, note = _covariance(result, dataset)
    return ("<div>" + _pairs(rows)
            + coefficients_html(result.theta, dataset, cov=cov, penalty=result.penalty,
                                note=note) + "</div>")


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
    classes = f", classes ({labels_text(ds.classes)})" if ds.classes else ""
    names = ", ".join(ds.feature_names[:8]) + (", ..." if ds.m > 8 else "")
    return (f"Dataset({ds.name!r}, {ds.family.name}, n={ds.n}, m={ds.m}{classes};\n"
            f"  features: {names})")


def dataset_html(ds, rows: int = 5) -> str:
    """Sizes, classes and the first rows of ``X`` beside the response."""
    facts = [("family", _e(ds.family.name)), ("n observations", str(ds.n)),
             ("m columns of X", str(ds.m) + (" (intercept last)" if ds.intercept else ""))]
    if ds.classes:
        facts.append(("classes", _e(labels_text(ds.classes))))
    if not np.all(np.asarray(ds.weights) == 1):
        facts.append(("total weight", _num(np.sum(ds.weights), ".6g")))
    from . import design

    head = ds.X[:rows]
    head = head.toarray() if design.is_sparse(head) else np.asarray(head)
    y = [_e(label_text(v)) if ds.classes else _num(v, ".4g") for v in ds.y[:head.shape[0]]]
    body = [[_num(v, ".4g") for v in head[j]] + [y[j]] for j in range(head.shape[0])]
    return (f"<div><b>{_e(ds.name)}</b>" + _pairs(facts)
            + table_html(list(ds.feature_names) + ["y"], body, first_left=False) + "</div>")
