"""Comparison figures that show the duality happen: ``dualmaxent figures [--out DIR] [--only ...]``.

Every number drawn comes from the library's result objects (:class:`~dualmaxent.PrimalResult`,
:class:`~dualmaxent.DualResult`, :class:`~dualmaxent.Certificate`) or from the library's own
functions (:func:`~dualmaxent.recover_primal`, :mod:`dualmaxent._numerics`, the family objects of
:mod:`dualmaxent.families`); no formula of the theory is re-derived here. Plotting code only
subtracts, sums rows, takes norms and picks extremes of arrays the library returned.

Conventions
-----------
* matplotlib is imported lazily inside the functions, and only through
  :class:`matplotlib.figure.Figure` (the Agg canvas), so no global backend is switched and no
  window is opened.
* Determinism: seeded data, fixed size and dpi, a fixed style (``_STYLE``), and PNG metadata
  without the software version, so the same inputs give the same bytes. The exception is
  ``convergence.png``, whose seconds axis is measured wall-clock time.
* Each ``fig_<name>(out)`` writes ``<out>/<name>.png`` and returns a :class:`FigureOutput`: a
  path-like object (``os.fspath`` gives the file) that also carries ``numbers``, the values the
  figure shows or annotates, so tests can check them against :func:`dualmaxent.verify`.
* Units: entropies and log-likelihoods are sums over observations, in nats.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _numerics as nx
from . import progress
from .data import Dataset, load_dataset
from .dual import solve_dual
from .exceptions import DualMaxentError, DualMaxentWarning
from .families import get_family
from .verify import recover_primal, verify

__all__ = ["FigureOutput", "FIGURES", "main_figures", "render"]

#: Pixel density of every PNG: 8 inch wide figures come out 960 px wide, which stay readable
#: when the README scales them to ~800 px.
DPI = 120
WIDTH = 8.0

_STYLE = {
    "font.size": 10.5,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "legend.fontsize": 9,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.family": "DejaVu Sans",
    "mathtext.fontset": "dejavusans",
    "svg.hashsalt": "dualmaxent",
    "image.interpolation": "nearest",
}

#: Class colours (tab10) used by every figure with classes.
CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")
METHOD_COLORS = {"newton": "#1f77b4", "newton-cg": "#9467bd", "lbfgs": "#ff7f0e",
                 "gradient": "#2ca02c", "qr": "#8c564b"}
_EXTRA_COLORS = ("#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


@dataclass(frozen=True)
class FigureOutput(os.PathLike):
    """The file a figure function wrote, and the numbers it shows.

    Behaves as a path (``os.fspath(out)``, ``Path(out)``, ``open(out)``).
    """

    path: Path
    numbers: dict = field(default_factory=dict)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __str__(self) -> str:
        return os.fspath(self.path)


# -- helpers ------------------------------------------------------------------------------------

def _new_figure(height: float, width: float = WIDTH):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(fig, out, name: str) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    # No "Software" entry: the bytes must not change with the matplotlib version string.
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return path


def _styled(func):
    """Run a figure function inside the fixed style, with dualmaxent's warnings silenced.

    The warnings (e.g. a ConvergenceWarning from the deliberately capped gradient method) are
    part of what the figures show; they are recorded in the results' ``status`` fields.
    """
    import functools

    @functools.wraps(func)
    def wrapper(out="figures"):
        import matplotlib

        with matplotlib.rc_context(_STYLE), warnings.catch_warnings():
            warnings.simplefilter("ignore", DualMaxentWarning)
            # CVXPY's own "Solution may be inaccurate" duplicates the primal's status, which the
            # certificates carry (and the figures mark).
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            return func(out)

    return wrapper


def _identity(ax, lo, hi, label="identity"):
    ax.plot([lo, hi], [lo, hi], color="0.35", lw=1, ls="--", zorder=0, label=label)


def _fmt(x: float) -> str:
    return f"{x:.1e}"


def _caption(fig, text: str):
    fig.text(0.5, 0.012, text, ha="center", va="bottom", fontsize=8.5, color="0.2",
             linespacing=1.4,
             bbox={"boxstyle": "round,pad=0.4", "fc": "#f4f4f4", "ec": "0.75"})


def _positive(values):
    """Entries <= 0 become NaN (not drawn on a log axis)."""
    v = np.asarray(values, dtype=np.float64)
    return np.where(v > 0, v, np.nan)


def _ten_points() -> Dataset:
    """The note's Figure 2 data: k = 3 classes, n = 10 points, one feature (seeded, overlapping)."""
    rng = np.random.default_rng(0)
    y = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    x = y + rng.normal(0.0, 0.9, size=10)
    order = np.argsort(x)
    labels = np.array(["1", "2", "3"])[y[order]]
    return Dataset.from_arrays(x[order, None], labels, feature_names=["x"], name="ten points")


def _bernoulli_response(Z, rng):
    return np.where(rng.random(len(Z)) < nx.sigmoid(0.3 + 1.5 * Z[:, 0] - 1.0 * Z[:, 1]),
                    "yes", "no")


def _poisson_response(Z, rng):
    return rng.poisson(nx.exp(0.5 + 0.6 * Z[:, 0] - 0.4 * Z[:, 1])).astype(float)


def _gaussian_response(Z, rng):
    return 1.0 + 2.0 * Z[:, 0] - 1.0 * Z[:, 1] + rng.normal(0.0, 1.0, size=len(Z))


#: Seeded responses of the one-parameter families for ``_synthetic``: family -> (Z, rng) -> y.
_SYNTHETIC_RESPONSES = {"bernoulli": _bernoulli_response, "poisson": _poisson_response,
                        "gaussian": _gaussian_response}


def _synthetic(family: str, n: int = 200, seed: int = 1) -> Dataset:
    """Small seeded data sets for the one-parameter families (2 features + intercept)."""
    if family not in _SYNTHETIC_RESPONSES:
        raise DualMaxentError(f"no synthetic data for family {family!r}")
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 2))
    y = _SYNTHETIC_RESPONSES[family](Z, rng)
    return Dataset.from_arrays(Z, y, feature_names=["z1", "z2"], family=family,
                               name=f"synthetic {family}")


def _gauge_data() -> Dataset:
    """Five seeded classes in four features, n = 500: where the redundant block costs most."""
    rng = np.random.default_rng(0)
    n = 500
    y = rng.integers(0, 5, n)
    Z = rng.normal(size=(n, 4)) + 0.7 * np.eye(5, 4)[y]
    return Dataset.from_arrays(Z, y, name="5 classes, n=500")


# -- 1 -------------------------------------------------------------------------------------------

@_styled
def fig_logit_sigmoid(out="figures") -> FigureOutput:
    """The note's Figure 1: (a) logit, (b) sigmoid, (c) softmax of a 3-class score vector."""
    eta = np.linspace(-6.0, 6.0, 401)
    p = nx.sigmoid(eta)  # the logit is the same curve with the axes swapped
    fig = _new_figure(3.1)
    axes = fig.subplots(1, 3)
    ax = axes[0]
    ax.plot(p, eta, color=CLASS_COLORS[0], lw=2)
    ax.set(title="(a) logit = log-odds", xlabel="probability p",
           ylabel=r"$\log\,\frac{p}{1-p}$ (nats)", xlim=(0, 1), ylim=(-6, 6))
    ax = axes[1]
    ax.plot(eta, p, color=CLASS_COLORS[1], lw=2)
    ax.set(title=r"(b) sigmoid $\sigma(\eta)$", xlabel=r"score $\eta = x^\top\theta$ (nats)",
           ylabel="probability", ylim=(-0.02, 1.02))
    ax = axes[2]
    # softmax of the score vector (s, 1, 0): the first score varies, the others are fixed
    s = np.linspace(-5.0, 5.0, 401)
    scores = np.column_stack([s, np.full_like(s, 1.0), np.zeros_like(s)])
    P = nx.softmax(scores)
    names = [r"class 1 (score $s$)", "class 2 (score 1)", "class 3 (score 0)"]
    for i in range(3):
        ax.plot(s, P[:, i], color=CLASS_COLORS[i], lw=2, label=names[i])
    ax.set(title="(c) softmax of 3 scores", xlabel="score s of class 1 (nats)",
           ylabel="probability", ylim=(-0.02, 1.02))
    ax.legend(loc="center left", frameon=False, fontsize=8.5)
    fig.suptitle("Logit, sigmoid and softmax: scores in nats become probabilities")
    path = _save(fig, out, "logit_sigmoid")
    return FigureOutput(path, {"softmax_row_sums_max_error": float(np.abs(P.sum(1) - 1).max())})


# -- 2 -------------------------------------------------------------------------------------------

@_styled
def fig_balance_equations(out="figures") -> FigureOutput:
    """The note's Figure 2 made real: one-hot Y beside the fitted P*, row sums equal."""
    from matplotlib.patches import Rectangle

    ds = _ten_points()
    cert = verify(ds)
    P = recover_primal(ds, cert.dual.theta)
    Y = np.asarray(ds.Y)
    sums_y, sums_p = Y.sum(axis=0), P.sum(axis=0)
    fig = _new_figure(3.5)
    axes = fig.subplots(1, 2)
    for ax, T, title, sums in ((axes[0], Y, "training distribution (one-hot Y)", sums_y),
                               (axes[1], P, r"model distribution $P^* = $ softmax$(X\theta^*)$",
                                sums_p)):
        ax.imshow(T.T, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for i in range(ds.k):
            for j in range(ds.n):
                v = T[j, i]
                ax.text(j, i, f"{v:.2f}" if T is P else f"{v:.0f}", ha="center", va="center",
                        fontsize=7.5, color="white" if v > 0.6 else "black")
            ax.text(ds.n - 0.35, i, f"Σ = {sums[i]:.3f}", ha="left", va="center", fontsize=9.5,
                    color="#b00000" if i == 1 else "black",
                    fontweight="bold" if i == 1 else "normal")
        ax.add_patch(Rectangle((-0.5, 0.5), ds.n, 1.0, fill=False, ec="#d00000", lw=2.2,
                               clip_on=False))
        ax.set_xticks(range(ds.n), [str(j + 1) for j in range(ds.n)])
        ax.set_yticks(range(ds.k), [f"class {c}" for c in ds.classes])
        ax.set_xlabel("training point j (sorted by x)")
        ax.set_title(title)
        ax.grid(False)
        ax.tick_params(length=0)
        ax.set_xlim(-0.5, ds.n + 1.9)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
    fig.suptitle(r"Balance equations: $\sum_j Y_{ji} = \sum_j P^*_{ji}$ for every class i "
                 "(k = 3, n = 10)")
    _caption(fig, f"Class 2 is outlined as in the note.  Certificate: H(P*) = {cert.entropy:.4f} "
             f"nats = −l(θ*), relative gap {_fmt(cert.relative_gap)}, balance residual "
             f"{_fmt(cert.balance_residual)}")
    fig.get_layout_engine().set(rect=(0, 0.08, 1, 0.92))
    path = _save(fig, out, "balance_equations")
    return FigureOutput(path, {"train_row_sums": sums_y, "model_row_sums": sums_p,
                               "relative_gap": cert.relative_gap,
                               "balance_residual": cert.balance_residual,
                               "entropy": cert.entropy})


# -- 3 -------------------------------------------------------------------------------------------

def _raw_cvxpy_duals(ds: Dataset) -> np.ndarray:
    """CVXPY's own ``dual_value`` of the balance constraint, all k blocks (gauge "full").

    This reaches past :func:`solve_primal`, which converts the duals before returning them, so
    the figure can show what the conversion undoes.
    """
    from .primal import DEFAULT_SOLVER_OPTIONS, build_primal

    problem, _, handles = build_primal(ds, gauge="full")
    problem.solve(solver="CLARABEL", **DEFAULT_SOLVER_OPTIONS["CLARABEL"])
    return np.asarray(handles["balance"].dual_value, dtype=np.float64)


@_styled
def fig_primal_dual_agreement(out="figures") -> FigureOutput:
    """CVXPY's P against softmax(X theta*), and CVXPY's converted duals against theta*."""
    ds = load_dataset("blobs")
    cert = verify(ds)
    P_dual = recover_primal(ds, cert.dual.theta)
    P_primal = cert.primal.P
    raw = _raw_cvxpy_duals(ds)
    fig = _new_figure(3.6)
    axes = fig.subplots(1, 3)
    ax = axes[0]
    for i, c in enumerate(ds.classes):
        ax.scatter(P_dual[:, i], P_primal[:, i], s=9, color=CLASS_COLORS[i], alpha=0.7,
                   label=f"class {c}")
    _identity(ax, 0, 1)
    ax.set(title=r"(a) P from the primal", xlabel=r"dual: softmax$(X\theta^*)_{ji}$",
           ylabel=r"primal (CVXPY): $P_{ji}$")
    ax.legend(loc="upper left", frameon=False, markerscale=1.5)
    ax = axes[1]
    d = np.abs(P_primal - P_dual)
    for i in range(ds.k):
        ax.scatter(P_dual[:, i], _positive(d[:, i]), s=9, color=CLASS_COLORS[i], alpha=0.7)
    ax.axhline(cert.tol, color="#d00000", lw=1, ls=":", label=f"tolerance {cert.tol:g}")
    ax.set_yscale("log")
    ax.set(title="(b) entrywise disagreement", xlabel=r"softmax$(X\theta^*)_{ji}$",
           ylabel=r"$|P_{ji} - $softmax$(X\theta^*)_{ji}|$")
    ax.legend(loc="upper right", frameon=False)
    ax = axes[2]
    theta_d = np.asarray(cert.dual.theta)
    theta_p = np.asarray(cert.primal.theta)
    lo = float(min(theta_d.min(), theta_p.min(), raw.min())) - 0.5
    hi = float(max(theta_d.max(), theta_p.max(), raw.max())) + 0.5
    _identity(ax, lo, hi)
    ax.scatter(theta_d.ravel(), raw.ravel(), s=40, marker="x", color="0.5",
               label="raw dual_value (gauge full)")
    ax.scatter(theta_d.ravel(), theta_p.ravel(), s=36, color="#d00000", zorder=3,
               label="converted: −dual, last class 0")
    ax.set(title=r"(c) balance duals vs $\theta^*$", xlabel=r"$\theta^*$ from the dual solver",
           ylabel="CVXPY balance-constraint dual")
    ax.set_ylim(lo, hi + 0.55 * (hi - lo))  # room for the legend above the points
    ax.legend(loc="upper left", fontsize=7.5, frameon=False)
    fig.suptitle("The primal's P is softmax(Xθ*); its multipliers are θ*")
    numbers = {"primal_gap": cert.primal_gap,
               "p_agreement": cert.p_agreement, "theta_agreement": cert.theta_agreement,
               "balance_residual": cert.balance_residual, "entropy": cert.entropy,
               "neg_loglik": cert.neg_loglik, "ok": cert.ok}
    _caption(fig, f"blobs (n = {ds.n}, k = {ds.k}):  H(P*) = {cert.entropy:.6f} nats,  "
             f"−l(θ*) = {cert.neg_loglik:.6f} nats,  CVXPY's relative gap "
             f"{_fmt(cert.primal_gap)}\n"
             f"max |ΔP| {_fmt(cert.p_agreement)},  θ agreement {_fmt(cert.theta_agreement)},  "
             f"balance residual {_fmt(cert.balance_residual)}  →  certificate "
             f"{'OK' if cert.ok else 'NOT OK'}")
    fig.get_layout_engine().set(rect=(0, 0.12, 1, 0.88))
    path = _save(fig, out, "primal_dual_agreement")
    return FigureOutput(path, numbers)


# -- 4 -------------------------------------------------------------------------------------------

#: The hard problem of the convergence figure: iris, nearly separated, held finite by a small L2.
HARD_L2 = 1e-3
#: Iteration cap of the teaching gradient method on the hard problem (it would need ~10^5).
GRADIENT_CAP = 4000


@_styled
def fig_convergence(out="figures") -> FigureOutput:
    """Dual solvers on a well-posed and a hard problem: suboptimality and balance residual."""
    problems = [("blobs (well-posed)", load_dataset("blobs"), {}, "-"),
                (f"iris + L2 λ={HARD_L2:g} (nearly separated)", load_dataset("iris"),
                 {"l2": HARD_L2}, "--")]
    from .dual import METHODS

    # every iterative method the library has ("auto" only dispatches; "qr" is gaussian-only)
    methods = [m for m in METHODS if m not in ("auto", "qr")]
    colors = dict(METHOD_COLORS)
    for extra, color in zip([m for m in methods if m not in colors], _EXTRA_COLORS):
        colors[extra] = color
    fig = _new_figure(6.6)
    axes = fig.subplots(2, 2, sharey="row")
    numbers = {}
    for label, ds, kw, ls in problems:
        runs = {}
        for method in methods:
            cap = GRADIENT_CAP if (method == "gradient" and kw) else None
            try:
                runs[method] = solve_dual(ds, method=method, max_iter=cap, **kw)
            except DualMaxentError:  # a method that does not handle this problem
                continue
        best = max(r.objective for r in runs.values())
        cert = verify(ds, dual=runs["newton"], primal="cvxpy", **kw)
        numbers[label] = {"primal_relative_gap": cert.primal_gap,
                          "primal_balance_residual": cert.balance_residual,
                          "iterations": {m: r.iterations for m, r in runs.items()},
                          "converged": {m: r.converged for m, r in runs.items()},
                          "certificate_ok": cert.ok}
        for method, r in runs.items():
            h = r.history
            sub = _positive(best - h["objective"])
            for col, x in ((0, h["iteration"] + 1), (1, h["seconds"])):
                axes[0, col].plot(x, sub, ls=ls, color=colors[method], lw=1.6)
                axes[1, col].plot(x, h["kkt_residual"], ls=ls, color=colors[method], lw=1.6)
        # the primal (CVXPY) solver's final figures, for scale: its distance to the dual's
        # optimum in nats, and its balance residual
        cvxpy_gap = cert.primal_gap * max(1.0, abs(cert.upper_bound))
        for col in (0, 1):
            axes[0, col].axhline(cvxpy_gap, color="0.3", ls=ls, lw=0.9)
            axes[1, col].axhline(cert.balance_residual, color="0.3", ls=ls, lw=0.9)
        axes[0, 1].plot([cert.primal.solve_seconds], [cvxpy_gap], marker="*",
                        ms=12, color="0.2", ls="none")
        axes[1, 1].plot([cert.primal.solve_seconds], [cert.balance_residual], marker="*",
                        ms=12, color="0.2", ls="none")
    for ax in axes.ravel():
        ax.set_xscale("log")
        ax.set_yscale("log")
    axes[0, 0].set(title="against iterations",
                   ylabel="suboptimality $l^* - l(\\theta_t)$ (nats)\n(l includes the L2 penalty)")
    axes[0, 1].set(title="against wall-clock time")
    axes[1, 0].set(xlabel="iteration + 1", ylabel="relative balance residual\n"
                   r"$\max|X^\top(Y-P_t)|\,/\,(1+\max|X^\top Y|)$")
    axes[1, 1].set(xlabel="seconds")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[m], lw=2, label=m) for m in methods]
    handles += [Line2D([], [], color="0.2", ls=ls, label=label) for label, _, _, ls in problems]
    handles += [Line2D([], [], color="0.3", lw=0.9, marker="*", ms=9,
                       label="CVXPY primal's final value (★ its time)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8.5, frameon=False)
    fig.suptitle("Dual solvers: Newton converges quadratically, gradient ascent crawls")
    path = _save(fig, out, "convergence")
    return FigureOutput(path, numbers)


# -- 5 -------------------------------------------------------------------------------------------

SEPARATION_LAMBDAS = np.logspace(2, -6, 17)


@_styled
def fig_separation(out="figures") -> FigureOutput:
    """The iris story: along an L2 path, ||theta|| diverges while the primal stays finite."""
    iris, blobs = load_dataset("iris"), load_dataset("blobs")
    iris_cert, blobs_cert = verify(iris), verify(blobs)
    sep = iris_cert.separation
    H_iris = float(iris_cert.entropy)  # verify solves the reduced primal of separated data
    lams = SEPARATION_LAMBDAS
    path_iris = [solve_dual(iris, l2=lam) for lam in lams]
    path_blobs = [solve_dual(blobs, l2=lam) for lam in lams]
    norm_iris = np.array([np.linalg.norm(r.theta) for r in path_iris])
    norm_blobs = np.array([np.linalg.norm(r.theta) for r in path_blobs])
    negl_iris = np.array([-r.canonical_loglik for r in path_iris])
    forced = np.asarray(sep.forced, dtype=bool)
    max_forced, mean_forced = [], []
    for r in path_iris:
        P = recover_primal(iris, r.theta)
        max_forced.append(P[forced].max())
        mean_forced.append(P[forced].mean())
    fig = _new_figure(3.7)
    axes = fig.subplots(1, 3)
    ax = axes[0]
    ax.plot(lams, norm_iris, "o-", color="#d62728", ms=4, label="iris (separated)")
    ax.plot(lams, norm_blobs, "s-", color="#1f77b4", ms=4, label="blobs (not separated)")
    ax.axhline(np.linalg.norm(blobs_cert.dual.theta), color="#1f77b4", ls=":", lw=1,
               label=r"blobs $\|\theta^*\|$, λ = 0")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set(title=r"(a) $\|\theta^*_\lambda\|$ as λ → 0", xlabel="L2 penalty λ",
           ylabel=r"$\|\theta^*_\lambda\|_F$")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax = axes[1]
    ax.plot(lams, negl_iris, "o-", color="#d62728", ms=4, label=r"$-l(\theta^*_\lambda)$")
    ax.axhline(H_iris, color="k", ls="--", lw=1, label=r"max entropy $H(P^*)$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set(title=r"(b) iris: $-l(\theta^*_\lambda) \to H(P^*)$", xlabel="L2 penalty λ",
           ylabel="nats")
    ax.legend(loc="upper right", frameon=False, fontsize=8)
    ax = axes[2]
    ax.plot(lams, max_forced, "o-", color="#d62728", ms=4, label="largest forced entry")
    ax.plot(lams, mean_forced, "s-", color="#8c1515", ms=4, label="mean forced entry")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set(title="(c) iris: forced $P_{ji}$ → 0", xlabel="L2 penalty λ",
           ylabel=r"$P_{ji}$ = softmax$(X\theta^*_\lambda)_{ji}$")
    ax.legend(loc="lower left", frameon=False, fontsize=8)
    fig.suptitle("Separated data: θ* runs off to infinity, the max-entropy P* stays put")
    _caption(fig, f"iris: {sep.kind} separation found by LP; {int(forced.sum())} entries of P are "
             f"forced to 0 (setosa is predicted with probability 1).\nThe dual has no maximiser, "
             f"but the primal keeps its maximum H(P*) = {H_iris:.4f} nats.")
    fig.get_layout_engine().set(rect=(0, 0.12, 1, 0.88))
    path = _save(fig, out, "separation")
    return FigureOutput(path, {"lambdas": lams, "norm_iris": norm_iris, "norm_blobs": norm_blobs,
                               "neg_loglik_iris": negl_iris, "H_iris": H_iris,
                               "max_forced": np.array(max_forced),
                               "iris_attained": iris_cert.attained,
                               "iris_ok": iris_cert.ok, "separation": sep.kind})


# -- 6 -------------------------------------------------------------------------------------------

L2_LAMBDAS = np.logspace(-1, 3, 13)
L1_LAMBDAS = np.logspace(-1, np.log10(150.0), 15)


@_styled
def fig_regularization_path(out="figures") -> FigureOutput:
    """H(P*_lambda) and -l(theta*_lambda) for L2 and L1, and the L1 coefficient paths."""
    ds = load_dataset("blobs")
    base = verify(ds)
    l2 = [verify(ds, l2=lam) for lam in L2_LAMBDAS]
    l1 = [verify(ds, l1=lam) for lam in L1_LAMBDAS]
    fig = _new_figure(3.9)
    axes = fig.subplots(1, 2, width_ratios=[1, 1.25])
    ax = axes[0]
    for certs, lams, color, name in ((l2, L2_LAMBDAS, "#1f77b4", "L2"),
                                     (l1, L1_LAMBDAS, "#d62728", "L1")):
        ax.plot(lams, [c.entropy for c in certs], "o-", color=color, ms=3.5,
                label=rf"$H(P^*_\lambda)$, {name}")
        ax.plot(lams, [c.neg_loglik for c in certs], "s--", color=color, ms=3.5,
                label=rf"$-l(\theta^*_\lambda)$, {name}")
    ax.axhline(base.entropy, color="k", lw=1, ls=":",
               label=rf"λ = 0: $H(P^*) = -l(\theta^*)$ = {base.entropy:.1f}")
    uniform = nx.entropy(np.full((ds.n, ds.k), 1.0 / ds.k))
    ax.axhline(uniform, color="0.5", lw=1, ls="-.", label=f"uniform P: {uniform:.1f}")
    bad = [(lam, c) for certs, lams in ((l2, L2_LAMBDAS), (l1, L1_LAMBDAS))
           for lam, c in zip(lams, certs) if not c.ok]
    if bad:
        ax.plot([lam for lam, _ in bad], [c.entropy for _, c in bad], "x", color="k", ms=8,
                mew=1.5, label="certificate not ok", zorder=5)
    ax.set_xscale("log")
    ax.set(title="(a) entropy and likelihood along the paths", xlabel="penalty λ",
           ylabel="nats (sum over n = 300)")
    ax.legend(loc="center left", bbox_to_anchor=(0.0, 0.62), frameon=False, fontsize=7.5)
    ax = axes[1]
    rows = [r for r, f in enumerate(ds.feature_names) if f != "intercept"]
    thetas = np.array([np.asarray(c.dual.theta) for c in l1])  # (L, m, k)
    multipliers = np.array([np.asarray(c.primal.theta) for c in l1])
    styles = ("-", "--")
    n_tight = np.zeros(len(L1_LAMBDAS), dtype=int)
    for a, r in enumerate(rows):
        for i, c in enumerate(ds.classes):
            ax.plot(L1_LAMBDAS, thetas[:, r, i], styles[a % 2], color=CLASS_COLORS[i], lw=1.6,
                    label=rf"$\theta$[{ds.feature_names[r]}, {c}]")
            # a box |X_r^T (P - Y)_i| <= lambda is tight exactly where CVXPY's multiplier of
            # that box is nonzero (complementary slackness); the multiplier is the primal's theta
            tight = np.abs(multipliers[:, r, i]) > 1e-6 * (1 + np.abs(multipliers).max())
            n_tight += tight
            ax.plot(L1_LAMBDAS[tight], thetas[tight, r, i], "o", color=CLASS_COLORS[i], ms=5,
                    mec="k", mew=0.6)
            ax.plot(L1_LAMBDAS[~tight], thetas[~tight, r, i], "o", mfc="white",
                    mec=CLASS_COLORS[i], ms=4.5, mew=1)
    ax.set_xscale("log")
    ax.set(title="(b) L1 coefficient paths", xlabel="L1 penalty λ",
           ylabel=r"$\theta^*_\lambda$ (nats per unit of feature)")
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], marker="o", color="0.5", mec="k", ls="none", label="box tight"),
                Line2D([], [], marker="o", mfc="white", mec="0.5", ls="none",
                       label="box slack")]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
              fontsize=8)
    fig.suptitle("Regularisation relaxes the balance equations; L1 turns them into boxes")
    path = _save(fig, out, "regularization_path")
    return FigureOutput(path, {
        "l2_entropy": np.array([c.entropy for c in l2]),
        "l2_neg_loglik": np.array([c.neg_loglik for c in l2]),
        "l1_entropy": np.array([c.entropy for c in l1]),
        "l1_neg_loglik": np.array([c.neg_loglik for c in l1]),
        "l1_tight_boxes": n_tight, "all_ok": all(c.ok for c in l1 + l2),
        "not_ok_lambdas": [float(lam) for lam, _ in bad]})


# -- 7 -------------------------------------------------------------------------------------------

FAMILY_DATA = {
    "categorical": lambda: load_dataset("blobs"),
    "bernoulli": lambda: _synthetic("bernoulli"),
    "poisson": lambda: _synthetic("poisson"),
    "gaussian": lambda: _synthetic("gaussian"),
}
FAMILY_MEAN = {"categorical": r"softmax$(X\theta^*)$", "bernoulli": r"$\sigma(x^\top\theta^*)$",
               "poisson": r"$\exp(x^\top\theta^*)$", "gaussian": r"$x^\top\theta^*$"}


@_styled
def fig_glm_families(out="figures") -> FigureOutput:
    """Each canonical family: primal optimum mu* against the dual mean A'(x^T theta*)."""
    fig = _new_figure(6.6)
    axes = fig.subplots(2, 2)
    numbers = {}
    for ax, (fam, make) in zip(axes.ravel(), FAMILY_DATA.items()):
        ds = make()
        cert = verify(ds)
        mu_d = recover_primal(ds, cert.dual.theta)
        mu_p = cert.primal.mu
        numbers[fam] = {"duality_gap": cert.duality_gap, "relative_gap": cert.relative_gap,
                        "p_agreement": cert.p_agreement, "ok": cert.ok}
        if mu_d.ndim == 2:
            for i in range(ds.k):
                ax.scatter(mu_d[:, i], mu_p[:, i], s=8, color=CLASS_COLORS[i], alpha=0.6)
        else:
            ax.scatter(mu_d, mu_p, s=8, color=CLASS_COLORS[0], alpha=0.6)
        lo = float(min(mu_d.min(), mu_p.min()))
        hi = float(max(mu_d.max(), mu_p.max()))
        _identity(ax, lo, hi)
        ax.set(title=f"{fam}: {ds.name.replace(' ' + fam, '')}, n = {ds.n}",
               xlabel=f"dual mean A'(η) = {FAMILY_MEAN[fam]}",
               ylabel=r"primal optimum $\mu^*$ (CVXPY)")
        ax.text(0.03, 0.97, f"H(μ*) = {cert.entropy:.3f} nats\n"
                f"gap {cert.duality_gap:+.1e} (rel. {cert.relative_gap:.1e})\n"
                f"max |Δμ| {cert.p_agreement:.1e}",
                transform=ax.transAxes, ha="left", va="top", fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.7", "alpha": 0.9})
    fig.suptitle("Four canonical GLMs, one duality: primal μ* = A'(Xθ*), H(μ*) = −l(θ*)")
    path = _save(fig, out, "glm_families")
    return FigureOutput(path, numbers)


# -- 8 -------------------------------------------------------------------------------------------

@_styled
def fig_maxent_map(out="figures") -> FigureOutput:
    """Blobs: P* as a colour field over the plane, the data, and contour lines of entropy."""
    from matplotlib.lines import Line2D
    from matplotlib.colors import to_rgb

    ds = load_dataset("blobs")
    cert = verify(ds)
    theta = cert.dual.theta
    feats = ds.X[:, :2]
    pad = 0.8
    (x0, y0), (x1, y1) = feats.min(axis=0) - pad, feats.max(axis=0) + pad
    g = 240
    gx, gy = np.meshgrid(np.linspace(x0, x1, g), np.linspace(y0, y1, g))
    grid = Dataset.from_arrays(np.column_stack([gx.ravel(), gy.ravel()]),
                               np.resize(np.array(ds.classes, dtype=object), g * g),
                               feature_names=ds.feature_names[:2], name="grid")
    Pg = recover_primal(grid, theta)  # the model's distribution at every grid point
    # entropy of each point's distribution: minus the categorical conjugate A*(p) = sum p log p
    Hg = -get_family("categorical").conjugate(Pg).reshape(g, g)
    colors = np.array([to_rgb(c) for c in CLASS_COLORS[:ds.k]])
    rgb = np.clip(Pg @ colors, 0, 1).reshape(g, g, 3)
    rgb = 0.55 * rgb + 0.45  # lighten, so the points stand out
    fig = _new_figure(5.6, width=7.2)
    ax = fig.subplots()
    ax.imshow(rgb, origin="lower", extent=(x0, x1, y0, y1), aspect="auto",
              interpolation="bilinear")
    levels = [0.1, 0.3, 0.6, 0.9]
    cs = ax.contour(gx, gy, Hg, levels=levels, colors="k", linewidths=0.9, alpha=0.75)
    ax.clabel(cs, fmt=lambda v: f"{v:.1f} nats", fontsize=8)
    labels = np.asarray(ds.Y).argmax(axis=1)
    for i, c in enumerate(ds.classes):
        sel = labels == i
        ax.scatter(feats[sel, 0], feats[sel, 1], s=16, color=CLASS_COLORS[i], ec="k",
                   lw=0.4, label=f"class {c}")
    ax.grid(False)
    ax.set(xlabel=ds.feature_names[0], ylabel=ds.feature_names[1], xlim=(x0, x1), ylim=(y0, y1))
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="k", lw=0.9,
                          label="entropy of P*(·|x) (nats; max log 3 = 1.10)"))
    ax.legend(handles=handles, loc="upper left", fontsize=8.5, framealpha=0.9)
    ax.set_title(f"blobs: colour mixes class colours by P*(class | x);  H(P*) = "
                 f"{cert.entropy:.2f} nats over n = {ds.n}", fontsize=10)
    fig.suptitle("The maximum-entropy distribution over the plane")
    path = _save(fig, out, "maxent_map")
    return FigureOutput(path, {"entropy": cert.entropy, "max_point_entropy": float(Hg.max()),
                               "relative_gap": cert.relative_gap})


# -- 9 -------------------------------------------------------------------------------------------

def _two_class_data() -> Dataset:
    rng = np.random.default_rng(3)
    n = 60
    y = rng.integers(0, 2, n)
    x = 1.2 * y + rng.normal(0.0, 1.0, n)
    return Dataset.from_arrays(x[:, None], np.array(["A", "B"])[y], feature_names=["x"],
                               name="two classes")


@_styled
def fig_gauge(out="figures") -> FigureOutput:
    """Footnote 2: theta and theta + c give the same P; the pinned gauge; the redundant block."""
    fam = get_family("categorical")
    fig = _new_figure(3.9)
    axes = fig.subplots(1, 3, width_ratios=[1.05, 1, 1])
    # (a) two classes: l depends on the intercepts only through their difference
    ds2 = _two_class_data()
    r2 = solve_dual(ds2, method="newton")
    th = np.asarray(r2.theta)
    a = np.linspace(-4, 4, 161)
    A0, A1 = np.meshgrid(a, a)
    L = np.empty_like(A0)
    for idx in np.ndindex(A0.shape):
        t = th.copy()
        t[-1] = (A0[idx], A1[idx])
        L[idx] = fam.canonical_loglik(ds2.Y, ds2.X @ t, ds2.weights)
    ax = axes[0]
    cf = ax.contourf(A0, A1, -L, levels=14, cmap="viridis_r")
    cbar = fig.colorbar(cf, ax=ax, shrink=0.9)
    cbar.set_label(r"$-l$ (nats)")
    c0 = th[-1, 0]
    ax.plot(a, a - c0, color="w", lw=2, ls="--", label=r"orbit $\theta + c$: same P")
    ax.axhline(0.0, color="#ff7f0e", lw=2, label="pinned gauge: last class 0")
    ax.plot([c0], [0.0], "*", color="#d62728", ms=14, mec="w", label=r"$\theta^*$ reported")
    ax.set(xlim=(-4, 4), ylim=(-4, 4), xlabel="intercept of class A",
           ylabel="intercept of class B", title="(a) a valley, not a point")
    ax.grid(False)
    ax.legend(loc="lower right", fontsize=7.5, framealpha=0.85)
    # (b) blobs: l along a gauge direction (flat) and along an ordinary direction
    ds = load_dataset("blobs")
    cert = verify(ds)
    theta = np.asarray(cert.dual.theta)
    rng = np.random.default_rng(7)
    c = rng.normal(size=(ds.m, 1)) * np.ones((1, ds.k))  # the same vector in every class column
    D = rng.normal(size=theta.shape)
    D -= D.mean(axis=1, keepdims=True)  # no gauge component
    ts = np.linspace(-2, 2, 81)
    along_c = [-fam.canonical_loglik(ds.Y, ds.X @ (theta + t * c), ds.weights) for t in ts]
    along_d = [-fam.canonical_loglik(ds.Y, ds.X @ (theta + t * D), ds.weights) for t in ts]
    P0 = recover_primal(ds, theta)
    dP = max(float(np.abs(recover_primal(ds, theta + t * c) - P0).max()) for t in ts)
    ax = axes[1]
    ax.plot(ts, along_c, color="#ff7f0e", lw=2.2, label=r"$\theta^* + t\,c\,\mathbf{1}^\top$")
    ax.plot(ts, along_d, color="#1f77b4", lw=2, label=r"$\theta^* + t\,D$")
    ax.set(title="(b) blobs: a flat direction", xlabel="step t",
           ylabel=r"$-l(\theta)$ (nats)")
    ax.legend(loc="upper center", fontsize=8, frameon=False)
    ax.text(0.97, 0.08, f"max |ΔP| = {dP:.0e}", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=8, color="#c05000")
    # (c) the redundant balance block and the conic solver
    sets = [("blobs\nk=3, n=300", ds), ("synthetic\nk=5, n=500", _gauge_data())]
    iters, agree = {}, {}
    for name, d in sets:
        for gauge in ("full", "pivot"):
            cg = verify(d, gauge=gauge)
            iters[name, gauge] = cg.primal.iterations
            agree[name, gauge] = cg.theta_agreement
    ax = axes[2]
    x = np.arange(len(sets))
    for off, gauge, color in ((-0.2, "full", "0.6"), (0.2, "pivot", "#ff7f0e")):
        vals = [iters[name, gauge] for name, _ in sets]
        bars = ax.bar(x + off, vals, width=0.38, color=color,
                      label="all k blocks" if gauge == "full" else "last block dropped")
        for b, (name, _) in zip(bars, sets):
            x_mid = b.get_x() + b.get_width() / 2
            ax.text(x_mid, b.get_height() + 0.6, f"{b.get_height():.0f}", ha="center",
                    va="bottom", fontsize=8.5)
            ax.text(x_mid, b.get_height() / 2, f"θ agreement {agree[name, gauge]:.0e}",
                    rotation=90, ha="center", va="center", fontsize=7.5, color="k")
    ax.set_xticks(x, [name for name, _ in sets])
    ax.set_ylim(0, 1.4 * max(iters.values()))
    ax.set(title="(c) the redundant block", ylabel="Clarabel iterations")
    ax.legend(loc="upper left", fontsize=7.5, frameon=False)
    ax.grid(axis="x", visible=False)
    fig.suptitle("Gauge freedom: θ and θ + c1ᵀ give the same P")
    path = _save(fig, out, "gauge")
    return FigureOutput(path, {"max_dP_gauge": dP,
                               "iterations": {f"{n.splitlines()[0]}/{g}": v
                                              for (n, g), v in iters.items()},
                               "theta_agreement": {f"{n.splitlines()[0]}/{g}": v
                                                   for (n, g), v in agree.items()}})


# -- the command ---------------------------------------------------------------------------------

FIGURES = {
    "logit_sigmoid": fig_logit_sigmoid,
    "balance_equations": fig_balance_equations,
    "primal_dual_agreement": fig_primal_dual_agreement,
    "convergence": fig_convergence,
    "separation": fig_separation,
    "regularization_path": fig_regularization_path,
    "glm_families": fig_glm_families,
    "maxent_map": fig_maxent_map,
    "gauge": fig_gauge,
}


def render(names=None, out="figures") -> dict:
    """Render the named figures (all by default) into ``out``; return ``{name: FigureOutput}``."""
    names = list(FIGURES) if names is None else list(names)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise DualMaxentError(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    return {name: FIGURES[name](out) for name in names}


def main_figures(args) -> int:
    """``dualmaxent figures``: write every figure (or ``--only`` some) and print each file."""
    out = getattr(args, "out", None) or "figures"
    only = getattr(args, "only", None)
    names = None
    if only:
        names = [n.strip() for n in only.split(",") if n.strip()]
        if not names:
            raise DualMaxentError("--only needs at least one figure name")
    unknown = [n for n in (names or []) if n not in FIGURES]
    if unknown:
        raise DualMaxentError(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    total = time.perf_counter()
    chosen = names or list(FIGURES)
    with progress.bar("figures", total=len(chosen), unit="figure") as bar:
        for name in chosen:
            t0 = time.perf_counter()
            result = FIGURES[name](out)
            print(f"wrote {os.fspath(result)}  ({time.perf_counter() - t0:.1f} s)", flush=True)
            bar.update()
    print(f"{len(names or FIGURES)} figures in {time.perf_counter() - total:.1f} s")
    return 0
