"""The figures: each test renders one figure and checks what it draws, not only that a PNG exists.

The figure functions take no data (each shows fixed, seeded data), so every figure is rendered
exactly once here, by the test of that figure. The drawn matplotlib objects are caught at
``Figure.savefig`` and compared with the results they come from: the plotted lines' and points'
data, the number of lines and points, the axis labels, the annotated numbers. The PNG itself is
checked for its size and, for two figures, for deterministic bytes.

Claims: every figure's caption is built from ``FigureOutput.facts`` when it is drawn. Each test
checks the drawn caption is ``out.caption``, recomputes every fact from the plotted arrays (or,
for the certificate's own figures, from their definitions in ``tests/_kkt.py``), and checks that
the caption states it. ``_readme_numbers_are_the_captions`` holds the README's paragraph about
the figure to the same standard: every number in it must be one the caption states, so the text
cannot contradict the figure beside it on another machine.
"""

import re
import struct
from pathlib import Path

import matplotlib.figure
import numpy as np
import pytest
from _kkt import kkt_figures
from scipy.special import expit, logsumexp

from dualmaxent import Dataset, load_dataset, solve_dual, verify
from dualmaxent.cli import main
from dualmaxent.families import get_family
from dualmaxent.figures import DATA_FIGURES, FIGURES, GRADIENT_CAP, METHOD_STYLES

EPS = np.finfo(np.float64).eps
README = Path(__file__).resolve().parents[1] / "README.md"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature."""
    head = Path(path).read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def _softmax(eta):
    return np.exp(eta - logsumexp(eta, axis=1, keepdims=True))


@pytest.fixture
def render(tmp_path, monkeypatch):
    """``render(name) -> (output, figure)``: write one figure, return what it drew."""
    drawn = []
    savefig = matplotlib.figure.Figure.savefig

    def catching(self, *args, **kwargs):
        drawn.append(self)
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", catching)

    def _render(name, out=tmp_path, **kwargs):
        output = FIGURES[name](out, **kwargs)
        assert Path(output) == Path(out) / f"{name}.png"
        width, height = png_size(output)
        # readable at README width: about 800-1000 px wide, not a sliver, not a poster
        assert 700 <= width <= 1400 and 250 <= height <= 1200, (name, width, height)
        assert len(drawn) == 1, f"{name} saved {len(drawn)} figures"
        return output, drawn.pop()

    return _render


def _offsets(collection):
    xy = np.asarray(collection.get_offsets(), dtype=np.float64)
    return xy[:, 0], xy[:, 1]


def _flat(text: str) -> str:
    """Whitespace collapsed: the caption is wrapped to the figure's width."""
    return " ".join(text.split())


def _drawn_caption(fig, out) -> str:
    """The caption drawn under the figure; it must be the one the figure returns."""
    (caption,) = [t for t in fig.texts if t.get_gid() == "caption"]
    assert caption.get_text() == out.caption
    return _flat(out.caption)


def _sum_bound(a, b) -> float:
    """Round-off bound of the entries of ``a.T @ b`` summed in float64: n eps max |a|^T |b|."""
    return a.shape[0] * EPS * float((np.abs(a).T @ np.abs(b)).max())


def _readme_paragraph(name: str) -> str:
    """The README's text about ``figures/<name>.png``: its paragraph, which starts with the
    figure's bold number (``**3. ...**``), up to the image."""
    text = README.read_text(encoding="utf-8")
    end = text.index(f"](figures/{name}.png)")
    start = text.rfind("\n**", 0, end)
    assert start > text.rfind("](figures/", 0, end), f"no paragraph about {name}.png"
    return text[start:text.rfind("\n", 0, end)]


#: References that are not claims about data: the note's figure, footnote and equation numbers,
#: the paragraph's own number.
_REFERENCES = re.compile(r"(?:Figure|footnote|equation|eq\.|section|\*\*)\s*\(?\d+\)?\.?")
_NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:[.,]\d+)?(?:e[-+]?\d+)?")


def _readme_numbers_are_the_captions(name: str, out) -> None:
    """Every number in the README's paragraph about the figure (outside formulas in backticks
    and references such as "Figure 1") is one its caption states, so the text states nothing
    the figure could contradict."""
    # formulas (in backticks) and references are not claims about the data
    paragraph = _REFERENCES.sub(" ", re.sub(r"`[^`]*`", " ", _readme_paragraph(name)))
    stated = {v.replace("−", "-") for v in _NUMBER.findall(_flat(out.caption))}
    for number in _NUMBER.findall(paragraph):
        assert number.replace("−", "-") in stated, (name, number, paragraph)


def test_logit_sigmoid_draws_the_three_functions(render, tmp_path):
    out, fig = render("logit_sigmoid")
    logit, sigmoid, softmax = fig.axes
    (line,) = logit.lines  # the logit: the sigmoid with the axes swapped
    np.testing.assert_allclose(line.get_xdata(), expit(line.get_ydata()), rtol=1e-14)
    assert logit.get_xlabel() == "probability p"
    (line,) = sigmoid.lines
    np.testing.assert_allclose(line.get_ydata(), expit(line.get_xdata()), rtol=1e-14)
    # softmax of the scores (s, 1, 0): three curves that sum to one at every s
    assert len(softmax.lines) == 3
    s = softmax.lines[0].get_xdata()
    P = np.column_stack([ln.get_ydata() for ln in softmax.lines])
    np.testing.assert_allclose(P, _softmax(np.column_stack([s, np.ones_like(s), 0 * s])),
                               rtol=1e-13)
    assert [t.get_text() for t in softmax.get_legend().get_texts()][1] == "class 2: 1"
    _assert_legend_clear(softmax)
    # the caption's claims, from the drawn curves
    caption = _drawn_caption(fig, out)
    error = float(np.abs(P.sum(1) - 1).max())
    assert out.facts["softmax_row_sums_max_error"] == error <= 3 * EPS
    assert f"largest error {error:.0e}" in caption
    x, y = logit.lines[0].get_xdata(), logit.lines[0].get_ydata()
    assert out.facts["logit_at_half"] == float(np.interp(0.5, x, y))
    assert f"the logit is {out.facts['logit_at_half']:.2g} at p = 1/2" in caption
    _readme_numbers_are_the_captions("logit_sigmoid", out)
    # the same inputs give the same bytes
    again, _ = render("logit_sigmoid", tmp_path / "again")
    assert Path(again).read_bytes() == Path(out).read_bytes()


def _table(ax, key, shape):
    """The numbers written in the balance table, by their gid ``key[r,i]``."""
    texts = {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid()}
    return np.array([[float(texts[f"{key}[{r},{i}]"]) for i in range(shape[1])]
                     for r in range(shape[0])]), texts


def test_balance_equations_draws_the_full_table_of_x_t_p_against_x_t_y(render, tmp_path):
    """Y and P* cell by cell, and every entry of X^T P* beside X^T Y (feature x class)."""
    from dualmaxent.figures import _ten_points

    out, fig = render("balance_equations")
    left, right, table = fig.axes
    Y = np.asarray(left.images[0].get_array()).T  # imshow(T.T): rows are classes
    P = np.asarray(right.images[0].get_array()).T
    assert Y.shape == P.shape == (10, 3)
    assert set(np.unique(Y)) == {0.0, 1.0} and np.all(Y.sum(axis=1) == 1)  # one-hot
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert P.min() > 0  # softmax: no point is certain
    # the x value of each point labels its column, so each weighted sum can be read off
    X = _ten_points().X
    assert [t.get_text() for t in left.get_xticklabels()] == [f"{v:.1f}" for v in X[:, 0]]
    # the table: both sides of every balance equation, recomputed from the drawn Y and P
    xty, xtp = X.T @ Y, X.T @ P
    shown_y, texts = _table(table, "xty", (2, 3))
    shown_p, _ = _table(table, "xtp", (2, 3))
    assert [texts[f"xty[{r},{i}]"] for r in range(2) for i in range(3)] == \
        [f"{v:.4f}" for v in xty.ravel()]
    assert [texts[f"xtp[{r},{i}]"] for r in range(2) for i in range(3)] == \
        [f"{v:.4f}" for v in xtp.ravel()]
    np.testing.assert_array_equal(shown_y[1], [3, 4, 3])  # the intercept row: class totals
    np.testing.assert_array_equal(shown_p, shown_y)  # equal to the four decimals shown
    # the caption's claims, from the drawn arrays
    caption = _drawn_caption(fig, out)
    facts = out.facts
    bound = _sum_bound(X, Y) + _sum_bound(X, P)
    assert facts["max_difference"] == pytest.approx(np.abs(xtp - xty).max(), abs=bound)
    assert facts["max_difference"] <= 1e-6 * (1 + np.abs(xty).max())  # the equations hold
    assert facts["largest_entry"] == np.abs(xty).max()
    H = -float(np.sum(P * np.log(P)))
    assert facts["entropy"] == pytest.approx(H, abs=4 * EPS * P.size * (1 + np.abs(np.log(P)).max()))
    negl = -float(np.sum(Y * np.log(P)))  # -l(theta*) = -sum log P*_{j, y_j}
    assert facts["neg_loglik"] == pytest.approx(negl, rel=1e-8)
    assert (facts["m"], facts["q"], facts["n"]) == (2, 3, 10)
    for claim in (f"all 2 × 3 balance equations hold", f"{facts['max_difference']:.1e}",
                  f"H(P*) = {facts['entropy']:.4f} nats", f"−l(θ*) = {facts['neg_loglik']:.4f}",
                  f"relative gap {facts['relative_gap']:.1e}",
                  f"entries up to {facts['largest_entry']:.4g}"):
        assert claim in caption, claim
    assert facts["relative_gap"] < 1e-6
    _readme_numbers_are_the_captions("balance_equations", out)
    again, _ = render("balance_equations", tmp_path / "again")
    assert Path(again).read_bytes() == Path(out).read_bytes()


def test_agreement_figure_plots_the_certificate_it_annotates(render):
    out, fig = render("primal_dual_agreement")
    ds = load_dataset("blobs")
    a, b, c = fig.axes
    # (c): theta* against the primal's converted multipliers, m * k points
    theta_d, theta_p = (v.reshape(ds.m, ds.k) for v in _offsets(c.collections[1]))
    assert np.all(theta_d[:-1, -1] == 0) and theta_d[-1, -1] == 0  # the pinned last class
    # (a): per class, (softmax(X theta*), the primal's P) at the theta* drawn in (c)
    assert len(a.collections) == ds.k
    P = np.column_stack([_offsets(points)[1] for points in a.collections])
    for i, points in enumerate(a.collections):
        np.testing.assert_allclose(_offsets(points)[0], _softmax(ds.X @ theta_d)[:, i],
                                   rtol=1e-9, atol=1e-12)
    legend = [t.get_text() for t in a.get_legend().get_texts()]
    assert legend == [f"class {k}" for k in ds.classes] + ["identity"]
    # the annotated numbers are the certificate of the drawn points, recomputed from definitions
    fig_kkt = kkt_figures(ds, P, theta_d, theta_p=theta_p)
    for key in ("primal_gap", "p_agreement", "theta_agreement",
                "balance_residual", "entropy", "neg_loglik"):
        assert out.numbers[key] == pytest.approx(fig_kkt[key], rel=1e-6, abs=1e-12), key
        if key not in ("entropy", "neg_loglik"):
            assert fig_kkt[key] <= 1e-6, key
    assert out.numbers["ok"] is True
    # (b): the largest drawn disagreement is p_agreement, below the tolerance line
    drawn = max(np.nanmax(_offsets(points)[1]) for points in b.collections)
    assert drawn == pytest.approx(out.numbers["p_agreement"], rel=1e-12)
    assert b.lines[0].get_ydata()[0] == 1e-6 > drawn
    for ax in (a, b, c):
        _assert_legend_clear(ax)
    # the caption's claims: the drawn points and the certificate's figures just recomputed
    caption = _drawn_caption(fig, out)
    facts = out.facts
    assert facts["entries"] == sum(len(_offsets(points)[0]) for points in a.collections) == 900
    assert facts["max_difference"] == drawn
    assert facts["tol"] == b.lines[0].get_ydata()[0]
    for key in ("primal_gap", "theta_agreement", "balance_residual", "entropy"):
        assert facts[key] == pytest.approx(fig_kkt[key], rel=1e-6, abs=1e-12), key
    assert facts["neg_loglik"] == pytest.approx(fig_kkt["neg_loglik"], rel=1e-9)
    for claim in (f"all 900 entries agree to {drawn:.1e} (tolerance 1e-06)",
                  f"H(P*) = {facts['entropy']:.6f} nats", f"−l(θ*) = {facts['neg_loglik']:.6f}",
                  f"relative gap {facts['primal_gap']:.1e}",
                  f"θ agreement {facts['theta_agreement']:.1e}",
                  f"balance residual {facts['balance_residual']:.1e}", "certificate OK"):
        assert claim in caption, claim
    _readme_numbers_are_the_captions("primal_dual_agreement", out)


def _curves(ax, label, kind):
    """The lines of one problem in one panel: {method: Line2D}, by their gid."""
    out = {}
    for ln in ax.lines:
        gid = ln.get_gid() or ""
        parts = gid.split("|")
        if len(parts) == 3 and parts[0] == label and parts[2] == kind:
            out[parts[1]] = ln
    return out

def test_convergence_figure_plots_each_solver_history(render):
    out, fig = render("convergence")
    sub_it, sub_s, res_it, res_s = fig.axes[:4]
    assert res_it.get_xlabel() == "iteration + 1" and res_s.get_xlabel() == "seconds"
    caption = _drawn_caption(fig, out)
    labels = list(out.numbers)
    assert len(labels) == 2
    newton = solve_dual(load_dataset("blobs"), method="newton")
    for label, nums in out.numbers.items():
        curves = _curves(res_it, label, "residual")
        primal = curves.pop("primal")  # the primal's own balance residual, a horizontal line
        assert primal.get_ydata()[0] == nums["primal_balance_residual"]
        assert set(curves) == set(nums["iterations"]) == {"newton", "newton-cg", "lbfgs",
                                                          "gradient"}
        for method, line in curves.items():
            # one point per iteration and one for the start, against iteration + 1
            iterations = len(line.get_xdata()) - 1
            np.testing.assert_array_equal(line.get_xdata(), np.arange(1, iterations + 2))
            # the caption's count is the drawn count, and "not converged" where it is said
            assert out.facts[label]["iterations"][method] == iterations
            converged = out.facts[label]["converged"][method]
            assert (f"{method} {iterations} (not converged)" in caption) is (not converged)
            assert f"{method} {iterations}" in caption
            # the same run against seconds, and its suboptimality in the panel above
            np.testing.assert_array_equal(_curves(res_s, label, "residual")[method].get_ydata(),
                                          line.get_ydata())
            assert len(_curves(sub_it, label, "suboptimality")[method].get_xdata()) == \
                iterations + 1
            if converged:
                assert line.get_ydata()[-1] <= 1e-6, method
        # gradient ascent: every iterate drawn thin and pale, its running minimum solid on top
        raw, best = curves["gradient"], _curves(res_it, label, "running-min")["gradient"]
        np.testing.assert_array_equal(best.get_ydata(), np.minimum.accumulate(raw.get_ydata()))
        assert raw.get_linewidth() < best.get_linewidth() and raw.get_alpha() < 0.5
        # Newton is drawn above Newton-CG, with markers Newton-CG's band does not cover
        assert curves["newton"].get_zorder() > curves["newton-cg"].get_zorder()
        assert curves["newton-cg"].get_linewidth() > 2 * curves["newton"].get_linewidth()
        assert curves["newton"].get_marker() != curves["newton-cg"].get_marker()
        assert curves["newton-cg"].get_markerfacecolor() == "none"
        assert nums["certificate_ok"] is True
    blobs, iris = labels
    # newton on blobs: exactly the history the solver records
    np.testing.assert_allclose(_curves(res_it, blobs, "residual")["newton"].get_ydata(),
                               newton.history["kkt_residual"], rtol=1e-6, atol=1e-15)
    # the teaching method is capped on the hard problem and is shown not to have converged
    assert out.facts[iris]["converged"]["gradient"] is False
    assert out.facts[iris]["iterations"]["gradient"] == GRADIENT_CAP
    assert _curves(res_it, iris, "residual")["gradient"].get_ydata()[-1] > 1e-6
    # the title's claim: Newton converged in fewer iterations than gradient ascent, both problems
    assert out.facts["newton_fewer_than_gradient"] is True
    for label in labels:
        its = out.facts[label]["iterations"]
        assert out.facts[label]["converged"]["newton"] and its["newton"] < its["gradient"]
    assert "Newton converges quadratically" in fig.get_suptitle()
    _readme_numbers_are_the_captions("convergence", out)


def test_separation_figure_shows_theta_diverge_and_entropy_stay(render):
    out, fig = render("separation")
    a, b, c = fig.axes
    lams = out.numbers["lambdas"]
    iris_norm, blobs_norm, blobs_ref = a.lines
    for line, key in ((iris_norm, "norm_iris"), (blobs_norm, "norm_blobs")):
        np.testing.assert_array_equal(line.get_xdata(), lams)
        np.testing.assert_array_equal(line.get_ydata(), out.numbers[key])
    # one point of each path, solved again
    iris, blobs = load_dataset("iris"), load_dataset("blobs")
    assert iris_norm.get_ydata()[-1] == pytest.approx(
        np.linalg.norm(solve_dual(iris, l2=lams[-1]).theta), rel=1e-6)
    assert blobs_norm.get_ydata()[0] == pytest.approx(
        np.linalg.norm(solve_dual(blobs, l2=lams[0]).theta), rel=1e-6)
    # as lambda -> 0 (lambdas decrease) iris's norm grows without bound, blobs' settles
    assert np.all(np.diff(out.numbers["norm_iris"]) > 0)
    assert out.numbers["norm_iris"][-1] > 10 * blobs_ref.get_ydata()[0]
    # (the penalised rows' gauge sums over classes, so the limit need not be the pinned norm:
    # the lambda = 0 line is theta* in that gauge, each penalised row centred, which the path
    # reaches)
    assert out.numbers["norm_blobs"][-1] == pytest.approx(out.numbers["norm_blobs"][-2],
                                                          rel=1e-3)
    assert out.numbers["norm_blobs"][-1] == pytest.approx(blobs_ref.get_ydata()[0], rel=1e-3)
    # -l(theta*_lambda) falls to the max entropy, drawn as a line, and never below it
    negl, H = b.lines
    np.testing.assert_array_equal(negl.get_ydata(), out.numbers["neg_loglik_iris"])
    assert H.get_ydata()[0] == out.numbers["H_iris"]
    assert np.all(out.numbers["neg_loglik_iris"] >= out.numbers["H_iris"] * (1 - 1e-9))
    assert out.numbers["neg_loglik_iris"][-1] == pytest.approx(out.numbers["H_iris"], rel=1e-3)
    largest, mean = c.lines
    np.testing.assert_array_equal(largest.get_ydata(), out.numbers["max_forced"])
    assert np.all(mean.get_ydata() <= largest.get_ydata())
    assert out.numbers["max_forced"][-1] < 1e-3 * out.numbers["max_forced"][0]
    assert out.numbers["separation"] == "quasi-complete" and not out.numbers["iris_attained"]
    # (b) is legible: the H(P*) line well inside the frame, more than two labelled ticks, and
    # its value written beside it
    H_value = H.get_ydata()[0]
    lo, hi = b.get_ylim()
    assert lo * 1.2 < H_value < hi / 1.2
    assert len(_labelled_ticks(b.yaxis, (lo, hi))) >= 3
    assert any(f"H(P*) = {H_value:.4f} nats" == t.get_text() for t in b.texts)
    for ax in (a, b, c):
        _assert_legend_clear(ax)
    # the caption's claims, from the separation the figure found and the drawn path
    caption = _drawn_caption(fig, out)
    facts = out.facts
    sep = verify(iris).separation
    forced = np.asarray(sep.forced, dtype=bool)
    labels = iris.Y.argmax(axis=1)
    certain = forced.sum(axis=1) == iris.k - 1  # every other class forced to 0
    assert facts["forced_entries"] == int(forced.sum()) > 0
    assert facts["certain_rows"] == int(certain.sum())
    assert facts["certain_classes"] == sorted({str(iris.classes[i]) for i in labels[certain]})
    assert facts["norm_growth"] == iris_norm.get_ydata()[-1] / iris_norm.get_ydata()[0]
    assert facts["H"] == H_value and facts["kind"] == "quasi-complete"
    for claim in (f"{facts['forced_entries']} entries of P are forced to 0",
                  f"the {facts['certain_rows']} observations of setosa get probability 1",
                  f"grows {facts['norm_growth']:.0f}-fold", f"H(P*) = {H_value:.4f} nats",
                  "quasi-complete separation"):
        assert claim in caption, claim
    _readme_numbers_are_the_captions("separation", out)


def _labelled_ticks(axis, limits) -> list:
    """The major tick labels of ``axis`` that are drawn (inside the limits, not empty)."""
    lo, hi = sorted(limits)
    return [t.get_text() for t, v in zip(axis.get_majorticklabels(), axis.get_majorticklocs())
            if t.get_text() and lo <= v <= hi]


def _assert_legend_clear(ax) -> None:
    """No drawn point of any curve lies under the axes' legend (display coordinates)."""
    legend = ax.get_legend()
    if legend is None:
        return
    box = legend.get_window_extent().padded(-2)
    frame = ax.get_window_extent()
    for line in ax.lines:
        xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float),
                              np.asarray(line.get_ydata(), dtype=float)])
        pts = line.get_transform().transform(xy[np.all(np.isfinite(xy), axis=1)])
        inside = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0)
                  & (pts[:, 1] < box.y1) & (pts[:, 0] >= frame.x0) & (pts[:, 0] <= frame.x1)
                  & (pts[:, 1] >= frame.y0) & (pts[:, 1] <= frame.y1))
        assert not inside.any(), (ax.get_title(), line.get_label())
    for points in ax.collections:
        if not hasattr(points, "get_offsets") or hasattr(points, "levels"):
            continue
        offsets = np.asarray(points.get_offsets(), dtype=float)
        if offsets.size == 0 or points.get_offset_transform() is None:
            continue
        pts = points.get_offset_transform().transform(offsets)
        inside = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0)
                  & (pts[:, 1] < box.y1))
        assert not inside.any(), (ax.get_title(), points.get_label())


def test_regularization_figure_plots_equal_primal_and_dual_objectives(render):
    out, fig = render("regularization_path")
    a, b = fig.axes

    def line(start, end=""):
        (found,) = [ln for ln in a.lines if ln.get_label().startswith(start)
                    and ln.get_label().endswith(end)]
        return found

    P2, D2, P1, D1 = (line(kind, name) for name in ("L2", "L1") for kind in ("primal", "dual"))
    base, uniform = line("λ = 0"), line("uniform P")
    for line, key in ((P2, "l2_primal_objective"), (D2, "l2_dual_objective"),
                      (P1, "l1_primal_objective"), (D1, "l1_dual_objective")):
        np.testing.assert_array_equal(line.get_ydata(), out.numbers[key])
    # (a) draws the quantities that are equal: the primal objective at P* (relaxed under L2)
    # and the dual -l(theta*) + penalty, within the certificate's tolerance (CVXPY's relative
    # gap, which every certified point of the path meets)
    assert out.numbers["all_ok"] is True
    for primal, dual in ((P2, D2), (P1, D1)):
        np.testing.assert_array_less(np.abs(primal.get_ydata() - dual.get_ydata()),
                                     out.numbers["tol"] * np.maximum(1, np.abs(dual.get_ydata())))
    # the dual objective from its definition at theta*_lambda (L2): -l + lam/2 |theta_R|^2
    ds = load_dataset("blobs")
    rows = np.array([f != "intercept" for f in ds.feature_names])
    for i, lam in enumerate(D2.get_xdata()):
        theta = out.numbers["l2_theta"][i]
        eta = ds.X @ theta
        value = (-float(np.sum(ds.Y * eta) - np.sum(logsumexp(eta, axis=1)))
                 + lam / 2 * float(np.sum(theta[rows] ** 2)))
        assert abs(D2.get_ydata()[i] - value) <= 2 * out.numbers["l2_roundoff"][i]
    # relaxing the balance equations can only raise the optimum, up to the uniform P's entropy
    # (each drawn value within the certificate's relative tolerance of the optimum)
    tol = out.numbers["tol"]
    for line in (P1, P2, D1, D2):
        assert np.all(line.get_ydata() >= base.get_ydata()[0] * (1 - tol))
        assert np.all(line.get_ydata() <= uniform.get_ydata()[0] * (1 + tol))
    assert uniform.get_ydata()[0] == pytest.approx(300 * np.log(3), rel=1e-12)
    # (b): one labelled path per (feature, class), 2 features x 3 classes, at the L1 lambdas
    paths = [ln for ln in b.lines if not ln.get_label().startswith("_")
             and ln.get_gid() != "lambda_max"]
    assert len(paths) == 6
    lam = P1.get_xdata()[4]
    theta = solve_dual(load_dataset("blobs"), l1=lam).theta
    np.testing.assert_allclose([ln.get_ydata()[4] for ln in paths], theta[:-1].ravel(),
                               atol=1e-7)
    # a strong enough L1 penalty zeroes every slope: no box is tight at the largest lambda
    assert np.all([ln.get_ydata()[-1] == 0 for ln in paths])
    assert out.numbers["l1_tight_boxes"][-1] == 0 < out.numbers["l1_tight_boxes"][0]
    assert out.numbers["all_ok"] is True and out.numbers["not_ok_lambdas"] == []



def test_regularization_figure_marks_lambda_max_and_keeps_legends_clear(render):
    """lambda_max from its definition, the paths' zeros beyond it, the caption's claims, and
    legends that cover no curve."""
    out, fig = render("regularization_path")
    a, b = fig.axes
    ds = load_dataset("blobs")
    # lambda_max = max |X_R^T (P_0 - Y)|, P_0 the intercept-only fit: the class frequencies
    freq = ds.Y.mean(axis=0)
    lam_max = float(np.abs(ds.X[:, :-1].T @ (freq - ds.Y)).max())
    for ax in (a, b):
        (line,) = [ln for ln in ax.lines if ln.get_gid() == "lambda_max"]
        assert line.get_xdata()[0] == pytest.approx(lam_max, abs=_sum_bound(ds.X, ds.Y))
    assert out.facts["lambda_max"] == line.get_xdata()[0]
    # every drawn slope is exactly 0 from lambda_max on, and not every one is below it
    paths = [ln for ln in b.lines if not ln.get_label().startswith("_")
             and ln.get_gid() != "lambda_max"]
    lams = paths[0].get_xdata()
    slopes = np.array([ln.get_ydata() for ln in paths])
    assert np.all(slopes[:, lams >= lam_max] == 0) and np.any(lams >= lam_max)
    assert np.all(np.any(slopes[:, lams < lam_max] != 0, axis=0))
    assert out.facts["zero_beyond_lambda_max"] and out.facts["nonzero_below_lambda_max"]
    # the tight boxes at the smallest lambda: the filled markers drawn there
    filled = [ln for ln in b.lines if ln.get_linestyle() in ("None", "")
              and ln.get_markerfacecolor() != "white" and len(ln.get_xdata())
              and ln.get_xdata()[0] == lams[0]]
    assert out.facts["tight_boxes_smallest_lambda"] == len(filled)
    assert out.facts["boxes"] == len(paths) == 6
    caption = _drawn_caption(fig, out)
    base = next(ln for ln in a.lines if ln.get_linestyle() == ":")
    for claim in (f"H(P*) = −l(θ*) = {base.get_ydata()[0]:.1f} nats",
                  f"{len(filled)} of the 6 boxes are tight",
                  f"every slope is exactly 0 from λ_max = {lam_max:.4g} on",
                  "Every certificate is ok"):
        assert claim in caption, claim
    assert f"λ_max = {lam_max:.4g}" in [t.get_text() for t in a.get_legend().get_texts()][-1]
    for ax in (a, b):
        _assert_legend_clear(ax)
    _readme_numbers_are_the_captions("regularization_path", out)

def test_family_figure_plots_primal_against_dual_means(render):
    out, fig = render("glm_families")
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == list(out.numbers)
    for ax, (family, shown) in zip(fig.axes, out.numbers.items()):
        x = np.concatenate([_offsets(p)[0] for p in ax.collections])
        y = np.concatenate([_offsets(p)[1] for p in ax.collections])
        assert len(ax.collections) == (3 if family == "categorical" else 1)
        assert x.size == {"categorical": 900}.get(family, 200)
        # the drawn distance from the identity is the certificate's p_agreement
        diff = np.abs(x - y).max()
        if family in ("poisson", "gaussian"):
            diff /= 1 + np.abs(x).max()
        assert diff == pytest.approx(shown["p_agreement"], rel=1e-9, abs=1e-15), family
        (box,) = [t for t in ax.texts if t.get_gid() == "claims"]
        assert f"gap {shown['duality_gap']:+.1e}" in box.get_text()
        assert f"max |Δμ| {shown['p_agreement']:.1e}" in box.get_text()
        # H(mu*) in the box is the entropy of the drawn primal points, -sum A*(mu)
        mu = (np.column_stack([_offsets(p)[1] for p in ax.collections])
              if family == "categorical" else y)
        H = -float(np.sum(get_family(family).conjugate(mu)))
        assert f"H(μ*) = {H:.3f} nats" in box.get_text()
        assert out.facts[family] == shown
        assert shown["relative_gap"] < 1e-8 and shown["ok"] is True
        assert ax.get_ylabel() == r"primal optimum $\mu^*$ (CVXPY)"
    # the class colours have a legend, and it covers no point
    categorical = fig.axes[0]
    legend = [t.get_text() for t in categorical.get_legend().get_texts()]
    assert legend == [f"class {c}" for c in load_dataset("blobs").classes] + ["identity"]
    _assert_legend_clear(categorical)
    _readme_numbers_are_the_captions("glm_families", out)


def test_maxent_map_draws_the_data_over_p(render):
    out, fig = render("maxent_map")
    (ax,) = fig.axes
    ds = load_dataset("blobs")
    labels = ds.Y.argmax(axis=1)
    points = ax.collections[1:]
    assert len(points) == ds.k
    for i, p in enumerate(points):
        np.testing.assert_array_equal(np.column_stack(_offsets(p)), ds.X[labels == i, :2])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ds.feature_names[:2]
    rgb = np.asarray(ax.images[0].get_array())
    assert rgb.shape == (240, 240, 3) and rgb.min() >= 0.45 and rgb.max() <= 1.0
    assert np.log(3) * (1 - 1e-3) < out.numbers["max_point_entropy"] <= np.log(3)
    assert f"H(P*) = {out.numbers['entropy']:.2f} nats" in ax.get_title()
    _assert_legend_clear(ax)
    # the caption's claims: the contour levels drawn, the extremes, log k
    caption = _drawn_caption(fig, out)
    (contours,) = [c for c in ax.collections if hasattr(c, "levels")]
    assert out.facts["levels"] == list(contours.levels)
    assert "contours at " + ", ".join(f"{v:g}" for v in contours.levels) + " nats" in caption
    assert out.facts["log_k"] == np.log(3)
    assert out.facts["min_point_entropy"] < min(contours.levels)
    assert out.facts["max_point_entropy"] > max(contours.levels)
    assert f"at most log 3 = {np.log(3):.3f}" in caption
    assert f"to {out.facts['max_point_entropy']:.3f} nats" in caption
    _readme_numbers_are_the_captions("maxent_map", out)


def test_gauge_figure_shows_a_flat_direction(render):
    out, fig = render("gauge")
    a, b, c = fig.axes[:3]
    orbit, pinned, star = a.lines
    # the orbit theta + c has slope one; the reported theta* sits on it, in the pinned gauge
    x, y = orbit.get_xdata(), orbit.get_ydata()
    np.testing.assert_allclose(np.diff(y), np.diff(x), atol=1e-12)
    assert star.get_ydata()[0] == 0.0 == pinned.get_ydata()[0]
    assert np.interp(star.get_xdata()[0], x, y) == pytest.approx(0.0, abs=1e-12)
    along_c, along_d = b.lines
    flat, curved = np.asarray(along_c.get_ydata()), np.asarray(along_d.get_ydata())
    assert flat.max() - flat.min() <= 1e-9 * abs(flat).max()  # -l does not change at all
    assert curved.argmin() == len(curved) // 2  # t = 0 is theta*, the minimum of -l
    assert curved.max() - curved.min() > 1.0
    assert out.numbers["max_dP_gauge"] < 1e-12
    heights = sorted(p.get_height() for p in c.patches)
    assert heights == sorted(out.numbers["iterations"].values())
    assert c.get_ylabel() == "Clarabel iterations"
    # the caption's claims, read off the drawn bars and curves
    caption = _drawn_caption(fig, out)
    full, pivot = c.containers  # bar groups: every block kept, the last dropped
    names = [t.get_text().splitlines()[0] for t in c.get_xticklabels()]
    for name, kept, dropped in zip(names, full.patches, pivot.patches):
        assert out.facts["iterations"][f"{name}/full"] == kept.get_height()
        assert out.facts["iterations"][f"{name}/pivot"] == dropped.get_height()
        assert f"{name} {kept.get_height():.0f} vs {dropped.get_height():.0f}" in caption
    assert out.facts["flat_change"] == flat.max() - flat.min()
    assert f"−l changes by {out.facts['flat_change']:.0e} nats" in caption
    assert out.facts["all_ok"] is True and "both gauges certify" in caption
    assert out.facts["max_theta_agreement"] == max(out.numbers["theta_agreement"].values())
    for ax in (a, b, c):
        _assert_legend_clear(ax)
    _readme_numbers_are_the_captions("gauge", out)


def test_bracket_figure_draws_sound_bounds_closing_for_each_solver(render):
    """Every drawn iterate is recomputed: upper_t is -l(theta_t) from its definition, and no
    lower bound exceeds the optimum of a tight solve, each within its round-off budget."""
    from dualmaxent import certify
    from dualmaxent.dual import METHODS

    out, fig = render("bracket")
    a, b = fig.axes[:2]
    ds = load_dataset("blobs")
    tight = certify(ds, solve_dual(ds, method="newton", tol=1e-12).theta)
    opt_hi = tight.upper_bound + tight.roundoff  # OPT <= this, and OPT >= lower - roundoff
    opt_lo = tight.lower_bound - tight.roundoff
    methods = out.numbers["methods"]
    assert set(methods) == {m for m in METHODS if m not in ("auto", "qr")}
    for method, tr in methods.items():
        gap, upper, lower = (next(ln for ln in ax.lines if ln.get_gid() == f"{method}|{kind}")
                             for ax, kind in ((a, "gap"), (b, "upper"), (b, "lower")))
        np.testing.assert_array_equal(gap.get_xdata(), tr["iteration"] + 1)
        np.testing.assert_array_equal(gap.get_ydata(),
                                      np.maximum(tr["upper_bound"] - tr["lower_bound"],
                                                 tr["roundoff"]))
        np.testing.assert_array_equal(upper.get_ydata(), tr["upper_bound"] - out.numbers["opt"])
        np.testing.assert_array_equal(lower.get_ydata(), tr["lower_bound"] - out.numbers["opt"])
        # sound at every iterate, far from the optimum too
        assert np.all(tr["lower_bound"] - tr["roundoff"] <= opt_hi), method
        assert np.all(tr["upper_bound"] + tr["roundoff"] >= opt_lo), method
        # and it closes: the last iterate's gap is within the solver's tolerance of zero
        assert tr["gap"][-1] <= 1e-6 * max(1.0, abs(tr["upper_bound"][-1])), method
        assert tr["gap"][0] > 1.0, method  # ... from a start far from the optimum
    # upper_t at the iterates of Newton is the dual objective -l(theta_t), recomputed here
    seen = []
    solve_dual(ds, method="newton", callback=seen.append)
    for t, theta in enumerate(seen):
        eta = ds.X @ theta
        value = -float(np.sum(ds.Y * eta) - np.sum(logsumexp(eta, axis=1)))
        assert abs(methods["newton"]["upper_bound"][t] - value) \
            <= 2 * methods["newton"]["roundoff"][t]
    assert out.facts["lower_never_above_opt"] is True
    assert "no lower bound is above the optimum" in out.caption


def test_every_figure_has_a_test():
    tested = {"logit_sigmoid", "balance_equations", "primal_dual_agreement", "convergence",
              "separation", "regularization_path", "glm_families", "maxent_map", "gauge",
              "bracket"}
    assert set(FIGURES) == tested


def test_figures_command_only_option_and_unknown_name(tmp_path, capsys):
    assert main(["figures", "--out", str(tmp_path), "--only", "logit_sigmoid"]) == 0
    assert f"wrote {tmp_path / 'logit_sigmoid.png'}" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["logit_sigmoid.png"]
    assert main(["figures", "--out", str(tmp_path), "--only", "nonsense"]) == 2
    assert "unknown figure 'nonsense'" in capsys.readouterr().err


# -- your own data, formats, bad input -----------------------------------------------------------

def _two_feature_csv(path: Path, n: int = 90, seed: int = 4) -> Dataset:
    """Three overlapping classes in two features, as a CSV with a target column ``kind``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    Z = rng.normal(size=(n, 2)) + 1.2 * np.eye(3, 2)[y]
    labels = np.array(["red", "green", "blue"])[y]
    lines = ["width,height,kind"] + [f"{a:.17g},{b:.17g},{c}" for (a, b), c in zip(Z, labels)]
    path.write_text("\n".join(lines) + "\n")
    return Dataset.from_arrays(Z, labels, feature_names=["width", "height"], name=path.stem)


def test_balance_table_from_your_data(render, tmp_path):
    """With data: no cell-by-cell Y and P* (n is large), the full X^T P* | X^T Y table."""
    from dualmaxent import recover_primal

    ds = _two_feature_csv(tmp_path / "shapes.csv")
    out, fig = render("balance_equations", out=tmp_path / "figs", data=ds)
    (table,) = fig.axes
    cert = verify(ds)
    P = recover_primal(ds, cert.dual.theta)
    xty, xtp = ds.X.T @ ds.Y, ds.X.T @ P
    shown_y, texts = _table(table, "xty", xty.shape)
    shown_p, _ = _table(table, "xtp", xtp.shape)
    np.testing.assert_array_equal(shown_y, np.round(xty, 4))
    np.testing.assert_allclose(shown_p, xty, atol=5e-5 + _sum_bound(ds.X, P))
    caption = _drawn_caption(fig, out)
    assert out.facts["max_difference"] == pytest.approx(np.abs(xtp - xty).max(),
                                                        abs=_sum_bound(ds.X, P))
    assert out.facts["max_difference"] <= 1e-6 * (1 + np.abs(xty).max())
    assert f"shapes (n = 90): all 3 × 3 balance equations hold" in caption
    assert f"{out.facts['max_difference']:.1e}" in caption


def test_regularization_path_from_your_data_scales_its_grid_to_lambda_max(render, tmp_path):
    ds = _two_feature_csv(tmp_path / "shapes.csv", n=60)
    out, fig = render("regularization_path", out=tmp_path / "figs", data=ds)
    freq = ds.Y.mean(axis=0)
    lam_max = float(np.abs(ds.X[:, :-1].T @ (freq - ds.Y)).max())
    assert out.facts["lambda_max"] == pytest.approx(lam_max, abs=_sum_bound(ds.X, ds.Y))
    lams = out.numbers["l1_lambdas"]
    assert lams[0] < 0.01 * lam_max and lams[-1] > lam_max  # the grid spans lambda_max
    a, b = fig.axes
    paths = [ln for ln in b.lines if not ln.get_label().startswith("_")
             and ln.get_gid() != "lambda_max"]
    slopes = np.array([ln.get_ydata() for ln in paths])
    assert np.all(slopes[:, lams >= lam_max] == 0)
    assert np.all(np.any(slopes[:, lams < lam_max] != 0, axis=0))
    assert "every slope is exactly 0 from λ_max" in _drawn_caption(fig, out)


def test_figures_command_draws_your_data_in_the_format_asked(tmp_path, capsys):
    csv = tmp_path / "shapes.csv"
    _two_feature_csv(csv)
    out = tmp_path / "mine"
    assert main(["figures", "--data", str(csv), "--target", "kind", "--out", str(out),
                 "--only", "balance_equations,primal_dual_agreement", "--format", "svg"]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["balance_equations.svg",
                                                      "primal_dual_agreement.svg"]
    assert f"wrote {out / 'balance_equations.svg'}" in printed
    svg = (out / "balance_equations.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "shapes (n = 90)" in svg
    # deterministic: no date, no version in the file
    first = svg
    assert main(["figures", "--data", str(csv), "--target", "kind", "--out", str(out),
                 "--only", "balance_equations", "--format", "svg"]) == 0
    assert (out / "balance_equations.svg").read_text() == first
    # pdf, and a png at another pixel density
    assert main(["figures", "--out", str(tmp_path / "pdf"), "--only", "logit_sigmoid",
                 "--format", "pdf"]) == 0
    assert (tmp_path / "pdf" / "logit_sigmoid.pdf").read_bytes()[:5] == b"%PDF-"
    assert main(["figures", "--out", str(tmp_path / "low"), "--only", "logit_sigmoid",
                 "--dpi", "60"]) == 0
    width, _ = png_size(tmp_path / "low" / "logit_sigmoid.png")
    assert width == 8 * 60  # 8 inches at 60 dpi
    # every figure that makes sense for any data set by default, and only those
    assert set(DATA_FIGURES) == {"balance_equations", "primal_dual_agreement", "convergence",
                                 "regularization_path"}


@pytest.mark.parametrize("argv, message", [
    (["--data", "no-such-file.csv"], "no such file"),
    (["--data", "{csv}", "--target", "nope"], "unknown target column 'nope'"),
    (["--data", "{csv}", "--target", "kind", "--only", "gauge"],
     "figure 'gauge' draws a fixed example, not your data"),
    (["--target", "kind"], "--target needs --data"),
    (["--format", "gif"], "invalid choice: 'gif'"),
    (["--dpi", "0"], "expected a positive number"),
])
def test_figures_command_bad_input_is_one_line_exit_2(argv, message, tmp_path, capsys):
    csv = tmp_path / "shapes.csv"
    _two_feature_csv(csv)
    argv = ["figures", "--out", str(tmp_path / "out")] + [a.replace("{csv}", str(csv))
                                                          for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors (cli._Parser: one line too)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("dualmaxent")
    assert not (tmp_path / "out").exists()
