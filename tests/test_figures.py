"""The figures: each test renders one figure and checks what it draws, not only that a PNG exists.

The figure functions take no data (each shows fixed, seeded data), so every figure is rendered
exactly once here, by the test of that figure. The drawn matplotlib objects are caught at
``Figure.savefig`` and compared with the results they come from: the plotted lines' and points'
data, the number of lines and points, the axis labels, the annotated numbers. The PNG itself is
checked for its size and, for two figures, for deterministic bytes.
"""

import struct
from pathlib import Path

import matplotlib.figure
import numpy as np
import pytest
from _kkt import kkt_figures
from scipy.special import expit, logsumexp

from dualmaxent import load_dataset, solve_dual
from dualmaxent.cli import main
from dualmaxent.figures import FIGURES, METHOD_COLORS

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

    def _render(name, out=tmp_path):
        output = FIGURES[name](out)
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
    assert [t.get_text() for t in softmax.get_legend().get_texts()][1] == "class 2 (score 1)"
    assert out.numbers["softmax_row_sums_max_error"] == float(np.abs(P.sum(1) - 1).max()) < 1e-15
    # the same inputs give the same bytes
    again, _ = render("logit_sigmoid", tmp_path / "again")
    assert Path(again).read_bytes() == Path(out).read_bytes()


def test_balance_equations_draws_y_and_p_with_equal_row_sums(render, tmp_path):
    out, fig = render("balance_equations")
    left, right = fig.axes
    Y = np.asarray(left.images[0].get_array()).T  # imshow(T.T): rows are classes
    P = np.asarray(right.images[0].get_array()).T
    assert Y.shape == P.shape == (10, 3)
    assert set(np.unique(Y)) == {0.0, 1.0} and np.all(Y.sum(axis=1) == 1)  # one-hot
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert P.min() > 0  # softmax: no point is certain
    # the balance equations, read off the two drawn tables, and as the figure reports them
    np.testing.assert_allclose(P.sum(axis=0), Y.sum(axis=0), atol=1e-8)
    np.testing.assert_array_equal(out.numbers["train_row_sums"], Y.sum(axis=0))
    np.testing.assert_allclose(out.numbers["model_row_sums"], P.sum(axis=0), rtol=1e-15)
    shown = [t.get_text() for t in right.texts if t.get_text().startswith("Σ")]
    assert shown == [f"Σ = {v:.3f}" for v in P.sum(axis=0)]
    cells = [t.get_text() for t in right.texts if not t.get_text().startswith("Σ")]
    assert cells == [f"{P[j, i]:.2f}" for i in range(3) for j in range(10)]
    assert out.numbers["relative_gap"] < 1e-6
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


def _by_method(ax, linestyle):
    """The method curves of one problem: {method: Line2D}, matched by colour and line style."""
    colors = {c: m for m, c in METHOD_COLORS.items()}
    return {colors[ln.get_color()]: ln for ln in ax.lines
            if ln.get_linestyle() == linestyle and ln.get_color() in colors}


def test_convergence_figure_plots_each_solver_history(render):
    out, fig = render("convergence")
    sub_it, _, res_it, res_s = fig.axes
    assert res_it.get_xlabel() == "iteration + 1" and res_s.get_xlabel() == "seconds"
    (blobs, blobs_nums), (iris, iris_nums) = [(ls, nums) for ls, nums in
                                              zip(("-", "--"), out.numbers.values())]
    newton = solve_dual(load_dataset("blobs"), method="newton")
    for ls, nums in ((blobs, blobs_nums), (iris, iris_nums)):
        curves = _by_method(res_it, ls)
        assert set(curves) == set(nums["iterations"]) == {"newton", "newton-cg", "lbfgs",
                                                          "gradient"}
        for method, line in curves.items():
            # one point per iteration and one for the start, against iteration + 1
            np.testing.assert_array_equal(line.get_xdata(),
                                          np.arange(1, nums["iterations"][method] + 2))
            # the same run against seconds, and its suboptimality in the panel above
            np.testing.assert_array_equal(_by_method(res_s, ls)[method].get_ydata(),
                                          line.get_ydata())
            assert len(_by_method(sub_it, ls)[method].get_xdata()) == len(line.get_xdata())
            if nums["converged"][method]:
                assert line.get_ydata()[-1] <= 1e-6, method
        # the primal's own balance residual as a horizontal line
        assert any(ln.get_linestyle() == ls and ln.get_ydata()[0] == nums[
            "primal_balance_residual"] for ln in res_it.lines)
        assert nums["certificate_ok"] is True
    # newton on blobs: exactly the history the solver records
    np.testing.assert_allclose(_by_method(res_it, blobs)["newton"].get_ydata(),
                               newton.history["kkt_residual"], rtol=1e-6, atol=1e-15)
    # the teaching method is capped on the hard problem and is shown not to have converged
    assert iris_nums["converged"]["gradient"] is False
    assert _by_method(res_it, iris)["gradient"].get_ydata()[-1] > 1e-6


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
    # (the penalised rows' gauge sums over classes, so the limit need not be the pinned norm)
    assert out.numbers["norm_blobs"][-1] == pytest.approx(out.numbers["norm_blobs"][-2],
                                                          rel=1e-3)
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


def test_regularization_figure_plots_entropy_and_l1_paths(render):
    out, fig = render("regularization_path")
    a, b = fig.axes
    H2, L2, H1, L1, base, uniform = a.lines
    for line, key in ((H2, "l2_entropy"), (L2, "l2_neg_loglik"), (H1, "l1_entropy"),
                      (L1, "l1_neg_loglik")):
        np.testing.assert_array_equal(line.get_ydata(), out.numbers[key])
    # relaxing the balance equations can only raise the maximum entropy, up to the uniform P
    for line in (H1, H2):
        assert np.all(line.get_ydata() >= base.get_ydata()[0] * (1 - 1e-9))
        assert np.all(line.get_ydata() <= uniform.get_ydata()[0])
    assert uniform.get_ydata()[0] == pytest.approx(300 * np.log(3), rel=1e-12)
    # (b): one labelled path per (feature, class), 2 features x 3 classes, at the L1 lambdas
    paths = [ln for ln in b.lines if not ln.get_label().startswith("_")]
    assert len(paths) == 6
    lam = H1.get_xdata()[4]
    theta = solve_dual(load_dataset("blobs"), l1=lam).theta
    np.testing.assert_allclose([ln.get_ydata()[4] for ln in paths], theta[:-1].ravel(),
                               atol=1e-7)
    # a strong enough L1 penalty zeroes every slope: no box is tight at the largest lambda
    assert np.all([ln.get_ydata()[-1] == 0 for ln in paths])
    assert out.numbers["l1_tight_boxes"][-1] == 0 < out.numbers["l1_tight_boxes"][0]
    assert out.numbers["all_ok"] is True and out.numbers["not_ok_lambdas"] == []


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
        assert f"gap {shown['duality_gap']:+.1e}" in ax.texts[0].get_text()
        assert shown["relative_gap"] < 1e-8 and shown["ok"] is True
        assert ax.get_ylabel() == r"primal optimum $\mu^*$ (CVXPY)"


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


def test_every_figure_has_a_test():
    tested = {"logit_sigmoid", "balance_equations", "primal_dual_agreement", "convergence",
              "separation", "regularization_path", "glm_families", "maxent_map", "gauge"}
    assert set(FIGURES) == tested


def test_figures_command_only_option_and_unknown_name(tmp_path, capsys):
    assert main(["figures", "--out", str(tmp_path), "--only", "logit_sigmoid"]) == 0
    assert f"wrote {tmp_path / 'logit_sigmoid.png'}" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["logit_sigmoid.png"]
    assert main(["figures", "--out", str(tmp_path), "--only", "nonsense"]) == 2
    assert "unknown figure 'nonsense'" in capsys.readouterr().err
