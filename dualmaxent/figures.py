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
* Determinism: seeded data, fixed size and dpi, a fixed style (``_STYLE``), and file metadata
  without the software version or a date, so the same inputs give the same bytes. The exception
  is ``convergence.png``, whose seconds axis is measured wall-clock time.
* Each ``fig_<name>(out)`` writes ``<out>/<name>.png`` (``fmt="svg"`` or ``"pdf"`` and ``dpi=``
  change the file) and returns a :class:`FigureOutput`: a path-like object (``os.fspath`` gives
  the file) that also carries ``numbers``, the values the figure shows or annotates, so tests
  can check them against :func:`dualmaxent.verify`.
* Claims: every sentence a figure states about its data (the caption drawn under it, a title's
  claim) is built when the figure is drawn from ``FigureOutput.facts``, values computed from the
  very arrays the figure plots; ``FigureOutput.caption`` is that text. Nothing about the data is
  typed by hand, so a figure cannot contradict its caption on another machine. The README's
  text about a figure states its claims qualitatively, or points to the caption.
* Your data: the figures of ``DATA_FIGURES`` take ``data=`` (a :class:`~dualmaxent.Dataset`) and
  draw the same picture from it (``dualmaxent figures --data FILE.csv --target COL``); the others
  illustrate one fixed, seeded example.
* Units: entropies and log-likelihoods are sums over observations, in nats.
"""

from __future__ import annotations

import contextvars
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _numerics as nx
from . import progress
from .data import Dataset, counted, load_dataset
from .dual import solve_dual
from .exceptions import DualMaxentError, DualMaxentWarning
from .families import get_family
from .report import label_text
from .verify import feature_totals, recover_primal, verify

__all__ = ["DATA_FIGURES", "FigureOutput", "FIGURES", "FORMATS", "main_figures", "render"]

#: Pixel density of every PNG: 8 inch wide figures come out 960 px wide, which stay readable
#: when the README scales them to ~800 px.
DPI = 120
WIDTH = 8.0
#: The file formats ``--format`` offers.
FORMATS = ("png", "svg", "pdf")

# Sizes for a slide as much as for the README: the smallest text (legends, captions) is 9.5 pt
# on an 8 inch figure, about 1/70 of its width.
_STYLE = {
    "font.size": 11.5,
    "axes.titlesize": 12,
    "axes.labelsize": 11.5,
    "legend.fontsize": 9.5,
    "xtick.labelsize": 10.5,
    "ytick.labelsize": 10.5,
    "figure.titlesize": 14,
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
    #: The values the caption (and any claim of a title) states, computed from the plotted data.
    facts: dict = field(default_factory=dict)
    #: The caption drawn under the figure, built from ``facts``.
    caption: str = ""

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __str__(self) -> str:
        return os.fspath(self.path)


# -- helpers ------------------------------------------------------------------------------------

def _new_figure(height: float, width: float = WIDTH):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


#: The file format and pixel density of the figure being drawn, set by ``_styled``.
_OUTPUT = contextvars.ContextVar("dualmaxent_figure_output", default=("png", DPI))

#: Metadata that would change the bytes from one run or matplotlib version to the next.
_NO_METADATA = {"png": {"Software": None},
                "svg": {"Creator": None, "Date": None},
                "pdf": {"Creator": None, "Producer": None, "CreationDate": None}}


def _save(fig, out, name: str) -> Path:
    """Write ``<out>/<name>.<fmt>`` in the format and dpi of the current call (``_styled``)."""
    fmt, dpi = _OUTPUT.get()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.{fmt}"
    fig.savefig(path, dpi=dpi, format=fmt, metadata=_NO_METADATA[fmt])
    return path


def _styled(func):
    """Run a figure function inside the fixed style, with dualmaxent's warnings silenced.

    The wrapped function is called as ``func(out)``, or ``func(out, data=data)`` when data are
    given; ``fmt`` (one of ``FORMATS``) and ``dpi`` choose the file written by ``_save``.

    The warnings (e.g. a ConvergenceWarning from the deliberately capped gradient method) are
    part of what the figures show; they are recorded in the results' ``status`` fields.
    """
    import functools

    @functools.wraps(func)
    def wrapper(out="figures", *, data=None, fmt="png", dpi=None):
        import matplotlib

        if fmt not in FORMATS:
            raise DualMaxentError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        if dpi is not None and not (np.isfinite(dpi) and 10 <= dpi <= 1200):
            raise DualMaxentError(f"--dpi must be between 10 and 1200; got {dpi:g}")
        token = _OUTPUT.set((fmt, DPI if dpi is None else float(dpi)))
        try:
            with matplotlib.rc_context(_STYLE), warnings.catch_warnings():
                warnings.simplefilter("ignore", DualMaxentWarning)
                # CVXPY's own "Solution may be inaccurate" duplicates the primal's status, which
                # the certificates carry (and the figures mark).
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                return func(out) if data is None else func(out, data=data)
        finally:
            _OUTPUT.reset(token)

    return wrapper


def _identity(ax, lo, hi, label="identity"):
    ax.plot([lo, hi], [lo, hi], color="0.35", lw=1, ls="--", zorder=0, label=label)


def _fmt(x: float) -> str:
    return f"{x:.1e}"


def _caption(fig, text: str) -> str:
    """Draw ``text`` (built from the figure's facts) in a box under the panels; return it.

    Lines longer than the figure is wide are wrapped (the text returned is the text drawn). The
    panels are kept clear of it: the layout's bottom edge is raised by the caption's height.
    """
    import textwrap

    # wrap each line to the figure's width (about 0.55 em per character)
    chars = int(fig.get_figwidth() * 72 / (0.55 * 9.5)) - 4
    text = "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))
    lines = text.count("\n") + 1
    fig.text(0.5, 0.012, text, ha="center", va="bottom", fontsize=9.5, color="0.15",
             linespacing=1.35, gid="caption",
             bbox={"boxstyle": "round,pad=0.4", "fc": "#f4f4f4", "ec": "0.75"})
    height = fig.get_figheight()
    bottom = (0.012 * height + 0.16 + lines * 9.5 * 1.35 / 72) / height
    fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom))
    return text


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
    fig = _new_figure(3.7)
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
    names = [r"class 1: $s$", "class 2: 1", "class 3: 0"]
    for i in range(3):
        ax.plot(s, P[:, i], color=CLASS_COLORS[i], lw=2, label=names[i])
    ax.set(title="(c) softmax of 3 scores", xlabel="score s of class 1 (nats)",
           ylabel="probability", ylim=(-0.02, 1.32), yticks=np.linspace(0, 1, 6))
    # above the curves, in the headroom the y limits leave (no probability exceeds 1)
    ax.legend(loc="upper center", frameon=False, fontsize=9, ncol=3, handlelength=1.2,
              columnspacing=0.8, handletextpad=0.4)
    fig.suptitle("Logit, sigmoid and softmax: scores in nats become probabilities")
    facts = {"softmax_row_sums_max_error": float(np.abs(P.sum(1) - 1).max()),
             "logit_at_half": float(np.interp(0.5, p, eta))}
    caption = _caption(fig, "(a) is (b) with its axes swapped: the logit is "
                       f"{facts['logit_at_half']:.2g} at p = 1/2, and each is the other's inverse."
                       "  (c) The three probabilities sum to one at every s (largest error "
                       f"{facts['softmax_row_sums_max_error']:.0e}).")
    path = _save(fig, out, "logit_sigmoid")
    return FigureOutput(path, dict(facts), facts, caption)


# -- 2 -------------------------------------------------------------------------------------------

#: Data sets with at most this many observations show the tables Y and P* cell by cell.
CELLS_MAX_N = 12
#: The balance table X^T Y | X^T P* is written out for at most this many features and columns
#: of the response; larger tables are drawn as points against the identity.
TABLE_MAX_ROWS, TABLE_MAX_COLUMNS = 12, 5


def _as_table(ds: Dataset, values) -> np.ndarray:
    """A response or a mean as an (n, q) table: one column per class (categorical), else one."""
    return np.asarray(values, dtype=np.float64).reshape(ds.n, -1)


def _column_names(ds: Dataset) -> list:
    """The columns of ``_as_table``: the classes, or the one mean of the other families."""
    if ds.family.multiclass:
        return [f"class {label_text(c)}" for c in ds.classes]
    if ds.family.is_probability:
        return [f"Pr({label_text(ds.classes[-1])})"]
    return ["mean μ"]


def _optimum_point(ds: Dataset, cert) -> np.ndarray:
    """The primal optimum the figure shows: ``A'(X theta*)`` when the maximiser exists, else
    CVXPY's point (separated data: theta* is at infinity, the primal optimum is not)."""
    if cert.attained:
        return np.asarray(recover_primal(ds, cert.theta), dtype=np.float64)
    if cert.primal is not None:
        return np.asarray(cert.primal.mu, dtype=np.float64)
    raise DualMaxentError(f"{ds.name}: the likelihood has no maximiser and the problem is too "
                          "large for the CVXPY primal, so there is no optimum to draw")


def _entropy_name(ds: Dataset) -> str:
    return "H(P*)" if ds.family.multiclass else "H(μ*) = −Σ A*(μ*)"


def _constant_note(facts: dict) -> str:
    """Where the reported log-likelihood adds a constant (Poisson's ``-sum log y!``, the
    Gaussian's normalisation), say so: ``l`` in the captions is the canonical part."""
    c = facts.get("loglik_constant", 0.0)
    return "" if c == 0 else (f" (l without its constant: the reported log-likelihood adds "
                              f"{c:.4f})")


def _balance_table(ax, ds: Dataset, xty: np.ndarray, xtp: np.ndarray, names: list) -> None:
    """Write the table X^T W Y | X^T W P* (one row per feature, two columns per class)."""
    m, q = xty.shape
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    first = 0.2
    width = (1 - first) / (2 * q)
    rows = m + 2
    height = 1.0 / rows

    def y(row):
        return 1 - (row + 0.5) * height

    for i, name in enumerate(names):
        x0 = first + 2 * i * width
        ax.add_patch(_rectangle((x0 + 0.004, 0), 2 * width - 0.008, 1 - 0.2 * height,
                                fc=CLASS_COLORS[i % len(CLASS_COLORS)], alpha=0.10, ec="none"))
        ax.text(x0 + width, y(0), name, ha="center", va="center", fontweight="bold")
        ax.text(x0 + width / 2, y(1), "XᵀY (data)", ha="center", va="center", fontsize=10)
        ax.text(x0 + 1.5 * width, y(1), "XᵀP* (model)" if ds.family.multiclass
                else "Xᵀμ* (model)", ha="center", va="center", fontsize=10)
        for r in range(m):
            for col, table, key in ((0, xty, "xty"), (1, xtp, "xtp")):
                v = table[r, i]
                ax.text(x0 + (col + 0.5) * width, y(r + 2), _table_number(v), ha="center",
                        va="center", family="DejaVu Sans Mono", fontsize=10.5,
                        gid=f"{key}[{r},{i}]")
    ax.text(0.01, y(0.5), "entry (r, i):\n" + r"$\sum_j\, x_{jr}\, T_{ji}$, T = Y or "
            + ("P*" if ds.family.multiclass else "μ*"), ha="left", va="center", fontsize=10.5,
            linespacing=1.6)
    for r, feature in enumerate(ds.feature_names):
        ax.text(0.01, y(r + 2), f"r = {feature}", ha="left", va="center")
    ax.plot([0, 1], [1 - 2 * height] * 2, color="0.5", lw=0.8)


def _table_number(v: float) -> str:
    """A table entry: four decimals, or six significant digits for large entries."""
    return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.6g}"


def _rectangle(xy, w, h, **kw):
    from matplotlib.patches import Rectangle

    return Rectangle(xy, w, h, **kw)


@_styled
def fig_balance_equations(out="figures", data=None) -> FigureOutput:
    """The balance equations ``X^T W P* = X^T W Y``, every entry, beside ``Y`` and ``P*``.

    Without data: the note's Figure 2 made real, ten points in three classes with one feature
    ``x``: the one-hot ``Y``, the fitted ``P* = softmax(X theta*)``, and the full table of the
    balance equations, the ``x`` row (each point weighted by its ``x``) and the intercept row
    (the class totals). With ``data``: the same table for that data set (``Y`` and ``P*`` cell
    by cell only up to ``CELLS_MAX_N`` observations; a table larger than ``TABLE_MAX_ROWS`` x
    ``TABLE_MAX_COLUMNS`` is drawn as points against the identity).
    """
    ds = _ten_points() if data is None else data
    cert = verify(ds)
    fam = ds.family
    Y = _as_table(ds, ds.Y)
    P = _as_table(ds, _optimum_point(ds, cert))
    # (m, q): rows are features, columns classes
    xty, xtp = feature_totals(ds, Y), feature_totals(ds, P)
    names = _column_names(ds)
    m, q = xty.shape
    cells = ds.n <= CELLS_MAX_N
    as_table = m <= TABLE_MAX_ROWS and q <= TABLE_MAX_COLUMNS
    fig = _new_figure((2.9 if cells else 0.0) + (0.36 * (m + 2) + 0.5 if as_table else 3.6)
                      + 1.4)
    grid = fig.add_gridspec(2 if cells else 1, 2 if cells else 1,
                            height_ratios=[2.6, 0.36 * (m + 2) + 0.2] if cells else None)
    if cells:
        # the tables themselves, one column per observation
        vmax = 1.0 if fam.is_probability else max(float(Y.max()), float(P.max()), 1e-300)
        labels = (ds.X[:, 0] if m == 2 and ds.intercept else None)
        for col, (T, title) in enumerate(((Y, "training distribution Y (one-hot)"
                                           if fam.multiclass else "the responses y"),
                                          (P, r"model $P^* = $ softmax$(X\theta^*)$"
                                           if fam.multiclass else r"model $\mu^* = A'(X\theta^*)$"))):
            ax = fig.add_subplot(grid[0, col])
            ax.imshow(T.T, cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
            for i in range(q):
                for j in range(ds.n):
                    v = T[j, i]
                    ax.text(j, i, f"{v:.0f}" if T is Y and fam.is_probability else f"{v:.2f}",
                            ha="center", va="center", fontsize=8.5,
                            color="white" if v > 0.6 * vmax else "black")
            if data is None:  # the note's Figure 2 outlines class 2
                ax.add_patch(_rectangle((-0.5, 0.5), ds.n, 1.0, fill=False, ec="#d00000",
                                        lw=2.2, clip_on=False))
            if labels is not None:
                ax.set_xticks(range(ds.n), [f"{v:.1f}" for v in labels], fontsize=9)
                ax.set_xlabel(f"point j, labelled by its {ds.feature_names[0]}")
            else:
                ax.set_xticks(range(ds.n), [str(j + 1) for j in range(ds.n)])
                ax.set_xlabel("observation j")
            ax.set_yticks(range(q), names)
            ax.set_title(title)
            ax.grid(False)
            ax.tick_params(length=0)
            for side in ("left", "bottom"):
                ax.spines[side].set_visible(False)
        ax = fig.add_subplot(grid[1, :])
    else:
        ax = fig.add_subplot(grid[0, 0])
    if as_table:
        _balance_table(ax, ds, xty, xtp, names)
    else:
        for i in range(q):
            ax.scatter(xty[:, i], xtp[:, i], s=24, color=CLASS_COLORS[i % len(CLASS_COLORS)],
                       label=names[i], zorder=3)
        lo, hi = float(min(xty.min(), xtp.min())), float(max(xty.max(), xtp.max()))
        _identity(ax, lo, hi)
        ax.set(xlabel="XᵀY (data), one point per feature and column",
               ylabel="XᵀP* (model)" if fam.multiclass else "Xᵀμ* (model)")
        ax.legend(loc="upper left", frameon=False, ncol=2)
    facts = {"data": ds.name, "m": m, "q": q, "n": ds.n,
             "max_difference": float(np.abs(xtp - xty).max()),
             "largest_entry": float(np.abs(xty).max()),
             "entropy": float(-(ds.weights * fam.conjugate(P if fam.multiclass
                                                           else P[:, 0])).sum()),
             "neg_loglik": float(-cert.extra["canonical_loglik"]),
             "loglik_constant": float(cert.extra["loglik_constant"]),
             "relative_gap": float(cert.relative_gap)}
    what = ("x row weights each point by its x; the intercept row is the class totals"
            if data is None else "table has one row per column of X and "
            + ("one column per class" if q > 1 else "one column, the mean"))
    caption = _caption(fig, f"{facts['data']} (n = {facts['n']}): all {facts['m']} × "
                       f"{facts['q']} balance equations hold, largest "
                       f"|{'XᵀP* − XᵀY' if fam.multiclass else 'Xᵀμ* − Xᵀy'}| = "
                       f"{facts['max_difference']:.1e} (entries up to "
                       f"{facts['largest_entry']:.4g}); the {what}.\n"
                       f"{_entropy_name(ds)} = {facts['entropy']:.4f} nats,  −l(θ*) = "
                       f"{facts['neg_loglik']:.4f} nats,  relative gap "
                       f"{facts['relative_gap']:.1e}" + _constant_note(facts))
    fig.suptitle(r"Balance equations $X^\top P^* = X^\top Y$, entry by entry" if fam.multiclass
                 else r"Balance equations $X^\top \mu^* = X^\top y$, entry by entry")
    path = _save(fig, out, "balance_equations")
    numbers = {"xty": xty, "xtp": xtp, "train_row_sums": Y.sum(axis=0),
               "model_row_sums": P.sum(axis=0), "relative_gap": cert.relative_gap,
               "balance_residual": cert.balance_residual, "entropy": cert.entropy}
    return FigureOutput(path, numbers, facts, caption)


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
def fig_primal_dual_agreement(out="figures", data=None) -> FigureOutput:
    """CVXPY's P against softmax(X theta*), and CVXPY's converted duals against theta*.

    Without data: blobs. With ``data``: that data set, whose CVXPY primal must be small enough
    to solve (``verify``'s ``auto`` rule) and whose likelihood must have a maximiser.
    """
    ds = load_dataset("blobs") if data is None else data
    cert = verify(ds)
    if cert.primal is None:
        raise DualMaxentError(f"{ds.name}: the CVXPY primal is not solved for this problem "
                              f"({cert.primal_reason}), so there is nothing to compare")
    if not cert.attained:
        raise DualMaxentError(f"{ds.name}: the likelihood has no maximiser (separated data), "
                              "so there is no theta* to compare the primal with")
    fam = ds.family
    P_dual = _as_table(ds, recover_primal(ds, cert.dual.theta))
    P_primal = _as_table(ds, cert.primal.mu)
    raw = _raw_cvxpy_duals(ds)
    names = _column_names(ds)
    mean = r"softmax$(X\theta^*)_{ji}$" if fam.multiclass else r"$A'(x_j^\top\theta^*)$"
    fig = _new_figure(4.6)
    axes = fig.subplots(1, 3)
    ax = axes[0]
    for i, name in enumerate(names):
        ax.scatter(P_dual[:, i], P_primal[:, i], s=9, color=CLASS_COLORS[i % 5], alpha=0.7,
                   label=name)
    lo = float(min(P_dual.min(), P_primal.min()))
    hi = float(max(P_dual.max(), P_primal.max()))
    _identity(ax, lo, hi)
    ax.set(title="(a) P from the primal" if fam.multiclass else "(a) μ from the primal",
           xlabel=f"dual: {mean}",
           ylabel=r"primal (CVXPY): $P_{ji}$" if fam.multiclass else r"primal (CVXPY): $\mu_j$")
    ax.legend(loc="upper left", frameon=False, markerscale=1.5)
    ax = axes[1]
    d = np.abs(P_primal - P_dual)
    for i in range(P_dual.shape[1]):
        ax.scatter(P_dual[:, i], _positive(d[:, i]), s=9, color=CLASS_COLORS[i % 5], alpha=0.7)
    ax.axhline(cert.tol, color="#d00000", lw=1.2, ls=":", label=f"tolerance {cert.tol:g}")
    ax.set_yscale("log")
    top = max(cert.tol, float(np.nanmax(_positive(d)))) if np.any(d > 0) else cert.tol
    ax.set_ylim(None, top * 300)  # room above the tolerance line for its label
    ax.set(title="(b) entrywise disagreement", xlabel=mean,
           ylabel="|primal − dual|")
    ax.legend(loc="upper right", frameon=False)
    ax = axes[2]
    theta_d = np.asarray(cert.dual.theta)
    theta_p = np.asarray(cert.primal.theta)
    lo = float(min(theta_d.min(), theta_p.min(), raw.min())) - 0.5
    hi = float(max(theta_d.max(), theta_p.max(), raw.max())) + 0.5
    _identity(ax, lo, hi)
    ax.scatter(theta_d.ravel(), raw.ravel(), s=40, marker="x", color="0.5",
               label="raw dual_value" + (" (gauge full)" if fam.multiclass else ""))
    ax.scatter(theta_d.ravel(), theta_p.ravel(), s=36, color="#d00000", zorder=3,
               label="converted: −dual" + (", last class 0" if fam.multiclass else ""))
    ax.set(title=r"(c) balance duals vs $\theta^*$", xlabel=r"$\theta^*$ from the dual solver",
           ylabel="CVXPY balance-constraint dual")
    ax.set_ylim(lo, hi + 0.6 * (hi - lo))  # room for the legend above the points
    ax.legend(loc="upper left", fontsize=9, frameon=False)
    fig.suptitle("The primal's P is softmax(Xθ*); its multipliers are θ*" if fam.multiclass
                 else "The primal's μ is A'(Xθ*); its multipliers are θ*")
    numbers = {"primal_gap": cert.primal_gap,
               "p_agreement": cert.p_agreement, "theta_agreement": cert.theta_agreement,
               "balance_residual": cert.balance_residual, "entropy": cert.entropy,
               "neg_loglik": cert.neg_loglik, "ok": cert.ok}
    facts = {"data": ds.name, "n": ds.n, "entries": int(P_dual.size),
             "max_difference": float(d.max()), "tol": float(cert.tol),
             "entropy": float(cert.entropy), "neg_loglik": float(-cert.extra["canonical_loglik"]),
             "loglik_constant": float(cert.extra["loglik_constant"]),
             "primal_gap": float(cert.primal_gap), "theta_agreement": float(cert.theta_agreement),
             "balance_residual": float(cert.balance_residual), "ok": bool(cert.ok)}
    caption = _caption(fig, f"{facts['data']} (n = {facts['n']}): all {facts['entries']} "
                       f"entries agree to {facts['max_difference']:.1e} (tolerance "
                       f"{facts['tol']:g}).  {_entropy_name(ds)} = {facts['entropy']:.6f} nats "
                       f"(CVXPY),  −l(θ*) = {facts['neg_loglik']:.6f} nats,  CVXPY's relative gap "
                       f"{facts['primal_gap']:.1e}.\nθ agreement "
                       f"{facts['theta_agreement']:.1e},  balance residual "
                       f"{facts['balance_residual']:.1e}  →  certificate "
                       f"{'OK' if facts['ok'] else 'NOT OK'}" + _constant_note(facts))
    path = _save(fig, out, "primal_dual_agreement")
    return FigureOutput(path, numbers, facts, caption)


# -- 4 -------------------------------------------------------------------------------------------

#: The hard problem of the convergence figure: iris, nearly separated, held finite by a small L2.
HARD_L2 = 1e-3
#: Iteration cap of the teaching gradient method on the hard problem (it would need ~10^5).
GRADIENT_CAP = 4000


#: How each dual method is drawn, so that none hides another: Newton on top (thin line, filled
#: dots at every iterate), Newton-CG beneath it (a wide translucent band with hollow squares),
#: L-BFGS with triangles at a thinned set of iterates, gradient ascent thin.
METHOD_STYLES = {
    "newton": {"lw": 1.6, "marker": "o", "ms": 4.5, "zorder": 6},
    "newton-cg": {"lw": 5.5, "alpha": 0.4, "marker": "s", "ms": 8, "mfc": "none", "mew": 1.4,
                  "zorder": 4, "solid_capstyle": "butt"},
    "lbfgs": {"lw": 1.5, "marker": "^", "ms": 5, "zorder": 5},
    "gradient": {"lw": 1.2, "zorder": 3},
}
#: Markers are drawn at most at this many iterates of a run (every iterate of a short run).
MAX_MARKERS = 25


def _log_ticks(axis) -> None:
    """Readable ticks on a log axis: 1, 2 and 5 times the powers of ten when the data span
    less than two decades (too few powers of ten to read off), the powers of ten alone
    otherwise; minor ticks unlabelled either way, so that no labels collide."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    lo, hi = sorted(axis.get_view_interval())
    if lo > 0 and np.log10(hi / lo) < 2:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
    axis.set_minor_formatter(NullFormatter())


def _running_min(values) -> np.ndarray:
    """The smallest value so far at every iterate (NaN entries are skipped)."""
    v = np.asarray(values, dtype=np.float64)
    return np.fmin.accumulate(np.where(np.isfinite(v), v, np.inf))


@_styled
def fig_convergence(out="figures", data=None) -> FigureOutput:
    """Dual solvers on a well-posed and a hard problem: suboptimality and balance residual.

    Every iterate is drawn (nothing is averaged or skipped): Newton's dots sit on top of
    Newton-CG's band, so both stay visible where they coincide. Gradient ascent's balance
    residual zig-zags from one iterate to the next (the steps overshoot across a narrow valley):
    every iterate is a thin pale line, and its running minimum, the best residual reached so
    far, is the solid line. With ``data``: that data set alone.
    """
    if data is None:
        problems = [("blobs (well-posed)", load_dataset("blobs"), {}, "-"),
                    (f"iris + L2 λ={HARD_L2:g} (nearly separated)", load_dataset("iris"),
                     {"l2": HARD_L2}, "--")]
    else:
        problems = [(data.name, data, {}, "-")]
    from .dual import METHODS

    # every iterative method the library has ("auto" only dispatches; "qr" is gaussian-only)
    methods = [m for m in METHODS if m not in ("auto", "qr")]
    colors = dict(METHOD_COLORS)
    for extra, color in zip([m for m in methods if m not in colors], _EXTRA_COLORS):
        colors[extra] = color
    fig = _new_figure(8.2)
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 1, 0.26])
    axes = np.empty((2, 2), dtype=object)
    for r in range(2):
        for c in range(2):
            axes[r, c] = fig.add_subplot(grid[r, c], sharey=axes[r, 0] if c else None)
        axes[r, 1].tick_params(labelleft=False)
    numbers = {}
    for label, ds, kw, ls in problems:
        runs = {}
        for method in methods:
            cap = GRADIENT_CAP if method == "gradient" else None
            try:
                runs[method] = solve_dual(ds, method=method, max_iter=cap, **kw)
            except DualMaxentError:  # a method that does not handle this problem
                continue
        if not runs:
            raise DualMaxentError(f"{ds.name}: no dual method solves this problem")
        best = max(r.objective for r in runs.values())
        reference = runs.get("newton") or max(runs.values(), key=lambda r: r.objective)
        cert = verify(ds, dual=reference, **({"primal": "cvxpy"} if data is None else {}), **kw)
        numbers[label] = {"primal_relative_gap": cert.primal_gap,
                          "primal_balance_residual": cert.balance_residual,
                          "iterations": {m: r.iterations for m, r in runs.items()},
                          "converged": {m: r.converged for m, r in runs.items()},
                          "certificate_ok": cert.ok, "attained": bool(cert.attained)}
        for method, r in runs.items():
            h = r.history
            style = {k: v for k, v in METHOD_STYLES.get(method, {"lw": 1.5}).items()}
            every = max(1, int(np.ceil(len(h["iteration"]) / MAX_MARKERS)))
            style["markevery"] = every
            sub = _positive(best - h["objective"])
            for col, x in ((0, h["iteration"] + 1), (1, h["seconds"])):
                axes[0, col].plot(x, sub, ls=ls, color=colors[method],
                                  gid=f"{label}|{method}|suboptimality", **style)
                if method == "gradient":
                    axes[1, col].plot(x, h["kkt_residual"], ls="-", color=colors[method],
                                      lw=0.5, alpha=0.35, zorder=2,
                                      gid=f"{label}|{method}|residual")
                    axes[1, col].plot(x, _running_min(h["kkt_residual"]), ls=ls,
                                      color=colors[method], gid=f"{label}|{method}|running-min",
                                      **style)
                else:
                    axes[1, col].plot(x, h["kkt_residual"], ls=ls, color=colors[method],
                                      gid=f"{label}|{method}|residual", **style)
        # the primal's final figures, for scale: its distance to the dual's optimum in nats,
        # and its balance residual (CVXPY's when it ran, else the checker's projected point)
        cvxpy_gap = cert.primal_gap * max(1.0, abs(cert.upper_bound))
        seconds = cert.primal.solve_seconds if cert.primal is not None else None
        for col in (0, 1):
            if np.isfinite(cvxpy_gap) and cvxpy_gap > 0:
                axes[0, col].axhline(cvxpy_gap, color="0.3", ls=ls, lw=0.9,
                                     gid=f"{label}|primal|suboptimality")
            axes[1, col].axhline(cert.balance_residual, color="0.3", ls=ls, lw=0.9,
                                 gid=f"{label}|primal|residual")
        if seconds is not None:
            if np.isfinite(cvxpy_gap) and cvxpy_gap > 0:
                axes[0, 1].plot([seconds], [cvxpy_gap], marker="*", ms=12, color="0.2",
                                ls="none")
            axes[1, 1].plot([seconds], [cert.balance_residual], marker="*", ms=12, color="0.2",
                            ls="none")
    for ax in axes.ravel():
        ax.set_xscale("log")
        ax.set_yscale("log")
        _log_ticks(ax.xaxis)
    axes[0, 0].set(title="against iterations",
                   ylabel="suboptimality $l^* - l(\\theta_t)$ (nats)"
                   + ("\n(l includes the L2 penalty)" if data is None else ""))
    axes[0, 1].set(title="against wall-clock time")
    axes[1, 0].set(xlabel="iteration + 1", ylabel="relative balance residual\n"
                   r"$\max|X^\top(Y-P_t)|\,/\,(1+\max|X^\top Y|)$")
    axes[1, 1].set(xlabel="seconds")
    from matplotlib.lines import Line2D

    handles = []
    for m in methods:
        style = {k: v for k, v in METHOD_STYLES.get(m, {"lw": 1.5}).items()
                 if k not in ("zorder", "solid_capstyle")}
        handles.append(Line2D([], [], color=colors[m], label=m, **style))
    handles += [Line2D([], [], color="0.2", ls=ls, label=label) for label, _, _, ls in problems]
    handles += [Line2D([], [], color="0.3", lw=0.9, marker="*", ms=9,
                       label="primal's final value" + (" (★ CVXPY's time)" if data is None
                                                       else ""))]
    legend = fig.add_subplot(grid[2, :])
    legend.axis("off")
    legend.legend(handles=handles, loc="center", ncol=3, frameon=False)
    # the caption: each run's iteration count, read off the drawn histories
    facts = {label: {"iterations": dict(nums["iterations"]), "converged": dict(nums["converged"])}
             for label, nums in numbers.items()}
    facts["gradient_cap"] = GRADIENT_CAP
    parts = []
    for label, nums in numbers.items():
        runs_text = ", ".join(f"{m} {it}" + ("" if nums["converged"][m] else " (not converged)")
                              for m, it in nums["iterations"].items())
        if not nums["attained"]:  # (why none converges: there is nothing to converge to)
            runs_text += (", the data being separated: the likelihood has no maximiser, theta "
                          "runs off, and the certificate bounds its supremum")
        parts.append(f"{label}: {runs_text}")
    caption = _caption(fig, "Iterations to the solver's tolerance (gradient ascent capped at "
                       f"{GRADIENT_CAP}):\n" + ";\n".join(parts) + ".\nGradient ascent's "
                       "residual: pale, every iterate; solid, its running minimum.")
    newton_fast = all(nums["converged"].get("newton", False)
                      and nums["iterations"]["newton"] < nums["iterations"].get("gradient", 0)
                      for nums in numbers.values())
    facts["newton_fewer_than_gradient"] = newton_fast
    fig.suptitle("Dual solvers: Newton converges quadratically, gradient ascent crawls"
                 if newton_fast else f"Dual solvers on {problems[0][0]}")
    path = _save(fig, out, "convergence")
    return FigureOutput(path, numbers, facts, caption)


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
    fig = _new_figure(4.9)
    axes = fig.subplots(1, 3)
    ax = axes[0]
    ax.plot(lams, norm_iris, "o-", color="#d62728", ms=4, label="iris (separated)")
    ax.plot(lams, norm_blobs, "s-", color="#1f77b4", ms=4, label="blobs")
    # the L2 path's limit: theta* in the gauge the penalty picks as lambda -> 0, each penalised
    # row centred across the classes (its smallest norm), the intercept pinned as on the path
    limit = np.array(blobs_cert.dual.theta, dtype=float)
    limit[:-1] -= limit[:-1].mean(axis=1, keepdims=True)
    ax.axhline(np.linalg.norm(limit), color="#1f77b4", ls=":", lw=1,
               label="blobs, λ = 0")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set(title=r"(a) $\|\theta^*_\lambda\|$ as λ → 0", xlabel="L2 penalty λ",
           ylabel=r"$\|\theta^*_\lambda\|_F$")
    # lower right, under the iris curve and over the blobs lines (the x axis is inverted)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.08), frameon=False, fontsize=9)
    ax = axes[1]
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.plot(lams, negl_iris, "o-", color="#d62728", ms=4, label=r"$-l(\theta^*_\lambda)$")
    ax.axhline(H_iris, color="k", ls="--", lw=1.2, label=r"max entropy $H(P^*)$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    # the H(P*) line well inside the frame, with its value written on it
    ax.set_ylim(H_iris / 1.6, float(negl_iris.max()) * 1.6)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.text(0.97, H_iris * 0.93, f"H(P*) = {H_iris:.4f} nats", transform=ax.get_yaxis_transform(),
            ha="right", va="top", fontsize=10)
    ax.invert_xaxis()
    ax.set(title=r"(b) iris: $-l(\theta^*_\lambda) \to H(P^*)$", xlabel="L2 penalty λ",
           ylabel="nats")
    ax.legend(loc="upper right", frameon=False, fontsize=9.5)
    ax = axes[2]
    ax.plot(lams, max_forced, "o-", color="#d62728", ms=4, label="largest")
    ax.plot(lams, mean_forced, "s-", color="#8c1515", ms=4, label="mean")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set(title="(c) iris: forced $P_{ji}$ → 0", xlabel="L2 penalty λ",
           ylabel=r"$P_{ji}$ = softmax$(X\theta^*_\lambda)_{ji}$")
    ax.legend(loc="lower left", frameon=False, fontsize=9.5, title="forced entries",
              title_fontsize=9.5)  # below both curves
    fig.suptitle("Separated data: θ* runs off to infinity, the max-entropy P* stays put")
    # which observations the separation makes certain: rows with every other class forced to 0
    labels = np.asarray(iris.Y).argmax(axis=1)
    certain = forced.sum(axis=1) == iris.k - 1
    certain_classes = sorted({label_text(iris.classes[i]) for i in labels[certain]})
    facts = {"kind": sep.kind, "forced_entries": int(forced.sum()),
             "certain_rows": int(certain.sum()), "certain_classes": certain_classes,
             "H": H_iris, "attained": bool(iris_cert.attained),
             "norm_growth": float(norm_iris[-1] / norm_iris[0])}
    caption = _caption(fig, f"iris: {facts['kind']} separation, found by LP: "
                       f"{facts['forced_entries']} entries of P are forced to 0, and the "
                       f"{facts['certain_rows']} observations of "
                       f"{', '.join(facts['certain_classes'])} get probability 1.\n"
                       f"Along the path ‖θ*_λ‖ grows {facts['norm_growth']:.0f}-fold; the dual has "
                       f"no maximiser, but the primal keeps its maximum H(P*) = "
                       f"{facts['H']:.4f} nats.")
    path = _save(fig, out, "separation")
    return FigureOutput(path, {"lambdas": lams, "norm_iris": norm_iris, "norm_blobs": norm_blobs,
                               "neg_loglik_iris": negl_iris, "H_iris": H_iris,
                               "max_forced": np.array(max_forced),
                               "iris_attained": iris_cert.attained,
                               "iris_ok": iris_cert.ok, "separation": sep.kind}, facts, caption)


# -- 6 -------------------------------------------------------------------------------------------

L2_LAMBDAS = np.logspace(-1, 3, 13)
L1_LAMBDAS = np.logspace(-1, np.log10(150.0), 15)


def lambda_max(ds: Dataset) -> float:
    """The smallest L1 penalty at which every penalised coefficient is zero.

    With the penalised rows at zero the only free row is the intercept's, and its balance
    equation makes every mean the data's weighted average ``mu_0 = sum_j w_j y_j / sum_j w_j``
    (without an intercept, ``mu_0 = A'(0)``). The L1 boxes ``|X_r^T W (mu_0 - Y)_i| <= lambda``
    all hold, so zero slopes are optimal, exactly when lambda is at least the largest of them.

    Parameters
    ----------
    ds : Dataset
        The data set (any family; weights are used).

    Returns
    -------
    float
        ``max |X_R^T W (mu_0 - Y)|`` over the penalised rows ``R`` and the columns of ``Y``.

    Raises
    ------
    DualMaxentError
        When no row is penalised (the design is the intercept alone).
    """
    from .params import Parameterization

    Y = _as_table(ds, ds.Y)
    w = np.asarray(ds.weights, dtype=np.float64)[:, None]
    if ds.intercept:
        mu0 = np.broadcast_to((w * Y).sum(axis=0) / w.sum(), Y.shape)
    else:
        zero = np.zeros(Parameterization.from_dataset(ds).theta_shape)
        mu0 = _as_table(ds, recover_primal(ds, zero))
    rows = _penalized_rows(ds)
    if not rows.any():
        raise DualMaxentError(f"{ds.name}: no penalised coefficient (only an intercept)")
    return float(np.abs(ds.X[:, rows].T @ (w * (mu0 - Y))).max())


def _penalized_rows(ds: Dataset) -> np.ndarray:
    """The rows of theta a penalty acts on (every row but the intercept's)."""
    from .params import Parameterization, make_penalty

    return Parameterization.from_dataset(ds, make_penalty(l1=1.0)).penalized_rows


def _box_tight(ds: Dataset, cert, lam: float, r: int, i: int) -> bool:
    """Whether the L1 box ``|X_r^T W (P - Y)_i| <= lam`` is tight at the solution of ``cert``.

    Where CVXPY ran, by complementary slackness: the box is tight exactly where its multiplier,
    the primal's theta, is nonzero. Otherwise from the dual's point: the box's slack is below a
    relative 1e-6 of lam.
    """
    if cert.primal is not None:
        multipliers = np.asarray(cert.primal.theta).reshape(ds.m, -1)
        return bool(abs(multipliers[r, i]) > 1e-6 * (1 + np.abs(multipliers).max()))
    w = np.asarray(ds.weights, dtype=np.float64)
    residual = _as_table(ds, recover_primal(ds, cert.theta)) - _as_table(ds, ds.Y)
    return bool(abs(ds.X[:, r] @ (w * residual[:, i])) >= lam * (1 - 1e-6))


@_styled
def fig_regularization_path(out="figures", data=None) -> FigureOutput:
    """(a) The primal and the dual objective along the L2 and L1 paths, equal at every lambda:
    the relaxed objective ``H(P*) - |s|^2 / (2 lambda)`` (L2; ``s = X_R^T (P* - Y)``) or the
    entropy under the boxes ``|s| <= lambda`` (L1), at CVXPY's ``P*``, against the dual
    ``-l(theta*) + penalty``. (b) The L1 coefficient paths.

    ``lambda_max`` (:func:`lambda_max`), beyond which L1 leaves only the intercept, is marked
    in both panels. Without data: blobs, on the fixed grids ``L2_LAMBDAS`` and ``L1_LAMBDAS``.
    With ``data``: that data set, on grids scaled to its ``lambda_max``."""
    ds = load_dataset("blobs") if data is None else data
    lam_max = lambda_max(ds)
    l2_lambdas = L2_LAMBDAS if data is None else lam_max * np.logspace(-3, 1, 13)
    l1_lambdas = L1_LAMBDAS if data is None else lam_max * np.logspace(-3, np.log10(1.3), 15)
    base = verify(ds)
    l2 = [verify(ds, l2=lam) for lam in l2_lambdas]
    l1 = [verify(ds, l1=lam) for lam in l1_lambdas]
    fig = _new_figure(5.8)
    axes = fig.subplots(1, 2, width_ratios=[1, 1.1])
    ax = axes[0]
    # the quantities that are equal: the primal objective at P* (relaxed under L2, the entropy
    # under L1's boxes) and the dual objective -l(theta*) + penalty, the certificate's upper bound
    sym = "P" if ds.family.multiclass else r"\mu"  # (a class table, or a family's means)
    primal_name = {"L2": rf"$H({sym}^*_\lambda) - \|s\|^2/2\lambda$",
                   "L1": rf"$H({sym}^*_\lambda)$, $|s| \leq \lambda$"}
    for certs, lams, color, name in ((l2, l2_lambdas, "#1f77b4", "L2"),
                                     (l1, l1_lambdas, "#d62728", "L1")):
        # equal curves, drawn so that both show: the primal a wide pale band, the dual a thin
        # dashed line with markers on top of it
        ax.plot(lams, [c.extra["primal_objective"] for c in certs], "-", color=color, lw=6,
                alpha=0.3, solid_capstyle="butt", label=f"primal {primal_name[name]}, {name}")
        ax.plot(lams, [c.upper_bound for c in certs], "s--", color=color, ms=4, lw=1.3,
                label=rf"dual $-l(\theta^*_\lambda)$ + penalty, {name}")
    ax.axhline(base.entropy, color="k", lw=1, ls=":",
               label=rf"λ = 0: $H({sym}^*) = -l(\theta^*)$ = {base.entropy:.1f}")
    if ds.family.multiclass:  # the largest entropy a class table can have
        uniform = nx.entropy(np.full((ds.n, ds.k), 1.0 / ds.k))
        ax.axhline(uniform, color="0.5", lw=1, ls="-.", label=f"uniform P: {uniform:.1f}")
    bad = [(lam, c) for certs, lams in ((l2, l2_lambdas), (l1, l1_lambdas))
           for lam, c in zip(lams, certs) if not c.ok]
    if bad:
        ax.plot([lam for lam, _ in bad], [c.extra["primal_objective"] for _, c in bad], "x",
                color="k", ms=8,
                mew=1.5, label="certificate not ok", zorder=5)
    ax.set_xscale("log")
    ax.set(title="(a) primal = dual along the paths", xlabel="penalty λ",
           ylabel=f"nats (sum over n = {ds.n})")
    ax = axes[1]
    rows = np.nonzero(_penalized_rows(ds))[0]
    thetas = np.array([np.asarray(c.dual.theta).reshape(ds.m, -1) for c in l1])  # (L, m, q)
    columns = list(ds.classes) if ds.family.multiclass else [None]
    styles = ("-", "--", ":", "-.")
    n_tight = np.zeros(len(l1_lambdas), dtype=int)
    for a, r in enumerate(rows):
        for i, c in enumerate(columns):
            color = CLASS_COLORS[i % len(CLASS_COLORS)]
            ax.plot(l1_lambdas, thetas[:, r, i], styles[a % len(styles)], color=color, lw=1.6,
                    label=rf"$\theta$[{ds.feature_names[r]}" + (f", {label_text(c)}]"
                                                                 if c is not None else "]"))
            # a box |X_r^T (P - Y)_i| <= lambda is tight exactly where CVXPY's multiplier of
            # that box is nonzero (complementary slackness; _box_tight)
            tight = np.array([_box_tight(ds, cert, lam, r, i)
                              for lam, cert in zip(l1_lambdas, l1)])
            n_tight += tight
            ax.plot(l1_lambdas[tight], thetas[tight, r, i], "o", color=color, ms=5,
                    mec="k", mew=0.6)
            ax.plot(l1_lambdas[~tight], thetas[~tight, r, i], "o", mfc="white",
                    mec=color, ms=4.5, mew=1)
    ax.set_xscale("log")
    ax.set(title="(b) L1 coefficient paths", xlabel="L1 penalty λ",
           ylabel=r"$\theta^*_\lambda$ (nats per unit of feature)")
    from matplotlib.lines import Line2D

    # lambda_max in both panels: named in (a)'s legend, written in (b) left of the line at the
    # bottom, where no path runs
    for a in axes:
        a.axvline(lam_max, color="#6a3d9a", lw=1.2, alpha=0.8, zorder=1, gid="lambda_max",
                  label=f"λ_max = {lam_max:.4g}: beyond it L1 keeps only the intercept")
    # (the label left of the line, at the top or the bottom, whichever the paths leave freer
    # over the decade and a half it spans)
    lo, hi = axes[1].get_ylim()
    near = [np.asarray(line.get_ydata(), dtype=float)[
        (np.asarray(line.get_xdata(), dtype=float) >= lam_max / 30)
        & (np.asarray(line.get_xdata(), dtype=float) <= lam_max)]
        for line in axes[1].lines if line.get_gid() != "lambda_max"]
    near = np.concatenate(near) if near else np.zeros(0)
    low_zero = bool(near.size) and hi - near.max() > near.min() - lo
    axes[1].annotate(f"λ_max = {lam_max:.4g}", (lam_max, 0.97 if low_zero else 0.02),
                     xycoords=("data", "axes fraction"), xytext=(-4, 0),
                     textcoords="offset points", ha="right", va="top" if low_zero else "bottom",
                     fontsize=10, color="#6a3d9a", gid="lambda_max_label")
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False,
                   fontsize=9)
    handles = [h for h in ax.get_legend_handles_labels()[0] if h.get_gid() != "lambda_max"]
    handles += [Line2D([], [], marker="o", color="0.5", mec="k", ls="none", label="box tight"),
                Line2D([], [], marker="o", mfc="white", mec="0.5", ls="none",
                       label="box slack")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
              frameon=False, fontsize=9)
    fig.suptitle("Regularisation relaxes the balance equations; L1 turns them into boxes")
    slopes = thetas[:, rows, :]
    facts = {"data": ds.name, "lambda_max": lam_max, "base_entropy": float(base.entropy),
             "zero_beyond_lambda_max": bool(np.all(slopes[l1_lambdas >= lam_max] == 0)),
             "nonzero_below_lambda_max": bool(np.all([np.any(t != 0) for t in
                                                      slopes[l1_lambdas < lam_max]])),
             "tight_boxes_smallest_lambda": int(n_tight[0]), "boxes": int(slopes[0].size),
             "not_ok": len(bad)}
    caption = _caption(fig, f"{facts['data']}: at λ = 0, {_entropy_name(ds)} = −l(θ*) = "
                       f"{facts['base_entropy']:.1f} nats.  L1: at the smallest λ "
                       f"{facts['tight_boxes_smallest_lambda']} of the {facts['boxes']} boxes "
                       "are tight; "
                       + (f"every slope is exactly 0 from λ_max = {facts['lambda_max']:.4g} on"
                          if facts["zero_beyond_lambda_max"] else
                          f"λ_max = {facts['lambda_max']:.4g}")
                       + (f".  {facts['not_ok']} certificates not ok (×)." if bad else
                          ".  Every certificate is ok."))
    path = _save(fig, out, "regularization_path")
    return FigureOutput(path, {
        "l2_primal_objective": np.array([c.extra["primal_objective"] for c in l2]),
        "l2_dual_objective": np.array([c.upper_bound for c in l2]),
        "l1_primal_objective": np.array([c.extra["primal_objective"] for c in l1]),
        "l1_dual_objective": np.array([c.upper_bound for c in l1]),
        "l2_roundoff": np.array([c.roundoff for c in l2]),
        "l1_roundoff": np.array([c.roundoff for c in l1]),
        "l2_theta": np.array([np.asarray(c.theta) for c in l2]),
        "tol": base.tol,
        "l2_entropy": np.array([c.entropy for c in l2]),
        "l2_neg_loglik": np.array([c.neg_loglik for c in l2]),
        "l1_entropy": np.array([c.entropy for c in l1]),
        "l1_neg_loglik": np.array([c.neg_loglik for c in l1]),
        "l1_tight_boxes": n_tight, "all_ok": all(c.ok for c in l1 + l2),
        "not_ok_lambdas": [float(lam) for lam, _ in bad], "lambda_max": lam_max,
        "l1_lambdas": l1_lambdas, "l2_lambdas": l2_lambdas}, facts, caption)


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
    fig = _new_figure(7.4)
    axes = fig.subplots(2, 2)
    numbers = {}
    for ax, (fam, make) in zip(axes.ravel(), FAMILY_DATA.items()):
        ds = make()
        cert = verify(ds)
        mu_d = recover_primal(ds, cert.dual.theta)
        mu_p = cert.primal.mu
        numbers[fam] = {"duality_gap": cert.duality_gap, "relative_gap": cert.relative_gap,
                        "p_agreement": cert.p_agreement, "ok": cert.ok,
                        "entropy": cert.entropy}
        if mu_d.ndim == 2:
            for i in range(ds.k):
                ax.scatter(mu_d[:, i], mu_p[:, i], s=8, color=CLASS_COLORS[i], alpha=0.6,
                           label=f"class {label_text(ds.classes[i])}")
        else:
            ax.scatter(mu_d, mu_p, s=8, color=CLASS_COLORS[0], alpha=0.6)
        lo = float(min(mu_d.min(), mu_p.min()))
        hi = float(max(mu_d.max(), mu_p.max()))
        _identity(ax, lo, hi)
        if mu_d.ndim == 2:  # the class colours, clear of the diagonal
            ax.legend(loc="lower right", markerscale=2.5, framealpha=0.9, fontsize=9.5)
        ax.set(title=f"{fam}: {ds.name.replace(' ' + fam, '')}, n = {ds.n}",
               xlabel=f"dual mean A'(η) = {FAMILY_MEAN[fam]}",
               ylabel=r"primal optimum $\mu^*$ (CVXPY)")
        ax.text(0.03, 0.97, f"H(μ*) = {cert.entropy:.3f} nats\n"
                f"gap {cert.duality_gap:+.1e} (rel. {cert.relative_gap:.1e})\n"
                f"max |Δμ| {cert.p_agreement:.1e}",
                transform=ax.transAxes, ha="left", va="top", fontsize=9.5, gid="claims",
                bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.7", "alpha": 0.9})
    fig.suptitle("Four canonical GLMs, one duality: primal μ* = A'(Xθ*), H(μ*) = −l(θ*)")
    path = _save(fig, out, "glm_families")
    # the claims are the panels' boxes, one per family
    return FigureOutput(path, numbers, {fam: dict(v) for fam, v in numbers.items()})


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
    fig = _new_figure(6.4, width=7.6)
    ax = fig.subplots()
    ax.imshow(rgb, origin="lower", extent=(x0, x1, y0, y1), aspect="auto",
              interpolation="bilinear")
    levels = [0.1, 0.3, 0.6, 0.9]
    cs = ax.contour(gx, gy, Hg, levels=levels, colors="k", linewidths=0.9, alpha=0.75)
    ax.clabel(cs, fmt=lambda v: f"{v:.1f} nats", fontsize=9.5)
    labels = np.asarray(ds.Y).argmax(axis=1)
    for i, c in enumerate(ds.classes):
        sel = labels == i
        ax.scatter(feats[sel, 0], feats[sel, 1], s=16, color=CLASS_COLORS[i], ec="k",
                   lw=0.4, label=f"class {label_text(c)}")
    ax.grid(False)
    ax.set(xlabel=ds.feature_names[0], ylabel=ds.feature_names[1], xlim=(x0, x1), ylim=(y0, y1))
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="k", lw=0.9,
                          label=f"entropy of P*(·|x) (nats; max log {ds.k} = "
                          f"{np.log(ds.k):.2f})"))
    # below the plane, not on it (inside, it covered a corner's points)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2,
              fontsize=9.5, framealpha=0.9)
    ax.set_title(f"blobs: colour mixes class colours by P*(class | x);  H(P*) = "
                 f"{cert.entropy:.2f} nats over n = {ds.n}", fontsize=11)
    fig.suptitle("The maximum-entropy distribution over the plane")
    # the contour levels the grid actually reaches, and its extremes
    facts = {"levels": [v for v in levels if Hg.min() < v < Hg.max()],
             "min_point_entropy": float(Hg.min()), "max_point_entropy": float(Hg.max()),
             "log_k": float(np.log(ds.k)), "entropy": float(cert.entropy)}
    caption = _caption(fig, "Entropy of P*(·|x) over the plane: from "
                       f"{facts['min_point_entropy']:.2g} nats deep inside a class to "
                       f"{facts['max_point_entropy']:.3f} nats where the classes meet (at most "
                       f"log {ds.k} = {facts['log_k']:.3f}); contours at "
                       + ", ".join(f"{v:g}" for v in facts["levels"]) + " nats.")
    path = _save(fig, out, "maxent_map")
    return FigureOutput(path, {"entropy": cert.entropy, "max_point_entropy": float(Hg.max()),
                               "relative_gap": cert.relative_gap}, facts, caption)


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
    fig = _new_figure(5.4, width=9.0)
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
    # room between the colour bar's name and panel (b)'s axis label: side by side they read as
    # two labels of one axis
    fig.get_layout_engine().set(wspace=0.06)
    c0 = th[-1, 0]
    ax.plot(a, a - c0, color="w", lw=2, ls="--", label=r"orbit $\theta + c$: same P")
    ax.axhline(0.0, color="#ff7f0e", lw=2, label="pinned gauge: last class 0")
    ax.plot([c0], [0.0], "*", color="#d62728", ms=14, mec="w", label=r"$\theta^*$ reported")
    ax.set(xlim=(-4, 4), ylim=(-4, 4), xlabel="intercept of class A",
           ylabel="intercept of class B", title="(a) a valley, not a point")
    ax.grid(False)
    # in the lower right corner, which no line crosses (the orbit runs above and left of it);
    # the orbit is white on the map, so its key is white too, outlined to show on the legend
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    handles[0] = Line2D([], [], color="w", lw=2, ls="--", path_effects=[
        patheffects.withStroke(linewidth=3.5, foreground="0.35")])
    ax.legend(handles, [r"orbit $\theta+c$: same P", "pinned gauge", labels[2]],
              loc="lower right", fontsize=8.5, framealpha=0.9, handlelength=1.6)
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
    ax.legend(loc="upper center", fontsize=9.5, frameon=False)
    # how little P moves along the flat direction, written under its line
    low, high = min(along_c), max(along_d)
    ax.set_ylim(low - 0.18 * (high - low), high + 0.05 * (high - low))
    ax.text(0.03, low - 0.04 * (high - low), f"max |ΔP| = {dP:.0e}", ha="left", va="top",
            transform=ax.get_yaxis_transform(), fontsize=9.5, color="#c05000")
    # (c) the redundant balance block and the conic solver
    sets = [("blobs\nk=3", ds), ("synthetic\nk=5", _gauge_data())]
    iters, agree, ok = {}, {}, {}
    for name, d in sets:
        for gauge in ("full", "pivot"):
            cg = verify(d, gauge=gauge)
            iters[name, gauge] = cg.primal.iterations
            agree[name, gauge] = cg.theta_agreement
            ok[name, gauge] = cg.ok
    ax = axes[2]
    x = np.arange(len(sets))
    for off, gauge, color in ((-0.2, "full", "0.6"), (0.2, "pivot", "#ff7f0e")):
        vals = [iters[name, gauge] for name, _ in sets]
        bars = ax.bar(x + off, vals, width=0.38, color=color,
                      label="all k blocks" if gauge == "full" else "last block dropped")
        for b, (name, _) in zip(bars, sets):
            x_mid = b.get_x() + b.get_width() / 2
            ax.text(x_mid, b.get_height() + 0.6, f"{b.get_height():.0f}", ha="center",
                    va="bottom", fontsize=10)
            ax.text(x_mid, b.get_height() / 2, f"θ agreement {agree[name, gauge]:.0e}",
                    rotation=90, ha="center", va="center", fontsize=8.5, color="k")
    ax.set_xticks(x, [name for name, _ in sets])
    ax.set_ylim(0, 1.4 * max(iters.values()))
    ax.set(title="(c) a redundant block", ylabel="Clarabel iterations")
    ax.legend(loc="upper left", fontsize=9, frameon=False)
    ax.grid(axis="x", visible=False)
    fig.suptitle("Gauge freedom: θ and θ + c1ᵀ give the same P")
    short = {name: name.splitlines()[0] for name, _ in sets}
    facts = {"flat_change": float(np.max(along_c) - np.min(along_c)), "max_dP_gauge": dP,
             "iterations": {f"{short[n]}/{g}": int(v) for (n, g), v in iters.items()},
             "max_theta_agreement": float(max(agree.values())), "all_ok": all(ok.values())}
    counts = ", ".join(f"{short[name]} {iters[name, 'full']} vs {iters[name, 'pivot']}"
                       for name, _ in sets)
    caption = _caption(fig, f"(b) Along θ* + t c1ᵀ, −l changes by {facts['flat_change']:.0e} "
                       f"nats and P by {facts['max_dP_gauge']:.0e}.  (c) Clarabel iterations, "
                       f"every block kept vs the last dropped: {counts}; "
                       + ("both gauges certify" if facts["all_ok"] else "NOT every gauge "
                          "certifies")
                       + f" (θ agreement ≤ {facts['max_theta_agreement']:.0e}).")
    path = _save(fig, out, "gauge")
    return FigureOutput(path, {"max_dP_gauge": dP,
                               "iterations": {f"{n.splitlines()[0]}/{g}": v
                                              for (n, g), v in iters.items()},
                               "theta_agreement": {f"{n.splitlines()[0]}/{g}": v
                                                   for (n, g), v in agree.items()}},
                        facts, caption)


# -- the bracket along the solve ------------------------------------------------------------------

@_styled
def fig_bracket(out="figures") -> FigureOutput:
    """The certified bracket ``[lower_t, upper_t]`` at every iterate of each dual solver.

    :func:`dualmaxent.trace.trace_bracket` certifies each iterate ``theta_t`` with the checker
    (:func:`dualmaxent.certify`): ``upper_t`` is the dual objective at ``theta_t`` and
    ``lower_t`` the primal objective at the checker's feasible point, both proved bounds at
    every iterate. (a) The gap ``upper_t - lower_t`` against the iteration, floored at its
    round-off budget (below it the two bounds agree to float64 accuracy). (b) Both bounds
    relative to the optimum ``OPT`` of a tight Newton solve (its own bracket, a few 1e-10 wide),
    on a symmetric log scale: the upper bounds come down onto it from above, the lower bounds
    up from below, and no lower bound is ever above it.
    """
    from .certify import certify
    from .dual import METHODS
    from .trace import trace_bracket

    ds = load_dataset("blobs")
    methods = [m for m in METHODS if m not in ("auto", "qr")]
    colors = dict(METHOD_COLORS)
    for extra, color in zip([m for m in methods if m not in colors], _EXTRA_COLORS):
        colors[extra] = color
    traces = {}
    for method in methods:
        try:
            traces[method] = trace_bracket(ds, method=method)
        except DualMaxentError:  # a method that does not handle this problem
            continue
    # the optimum: the bracket of a tight Newton solve, OPT within [opt_lo, opt_hi]
    tight = certify(ds, solve_dual(ds, method="newton", tol=1e-12).theta)
    opt_lo, opt_hi = tight.lower_bound - tight.roundoff, tight.upper_bound + tight.roundoff
    opt = tight.upper_bound
    fig = _new_figure(5.4)
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 0.2])
    axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]
    floor = 1e-10
    numbers = {"opt": opt, "opt_bracket": (opt_lo, opt_hi), "methods": {}}
    for method, tr in traces.items():
        style = {k: v for k, v in METHOD_STYLES.get(method, {"lw": 1.5}).items()}
        style["markevery"] = max(1, int(np.ceil(len(tr.iteration) / MAX_MARKERS)))
        x = tr.iteration + 1
        gap = np.maximum(tr.duality_gap, tr.roundoff)  # floored at its round-off budget
        axes[0].plot(x, gap, color=colors[method], label=method, gid=f"{method}|gap", **style)
        axes[1].plot(x, tr.upper_bound - opt, color=colors[method], gid=f"{method}|upper",
                     **style)
        axes[1].plot(x, tr.lower_bound - opt, color=colors[method], ls="--",
                     gid=f"{method}|lower", **style)
        # a lower bound above the optimum would be a wrong bound: its excess, if any
        numbers["methods"][method] = {
            "iteration": tr.iteration, "lower_bound": tr.lower_bound,
            "upper_bound": tr.upper_bound, "roundoff": tr.roundoff, "gap": tr.duality_gap,
            "max_lower_excess": float(np.max(tr.lower_bound - tr.roundoff - opt_hi)),
            "min_upper_excess": float(np.min(tr.upper_bound + tr.roundoff - opt_lo)),
            "final_gap": float(tr.duality_gap[-1]), "iterates": int(len(tr.iteration))}
    budget = max(float(np.max(tr.roundoff)) for tr in traces.values())
    axes[0].axhline(budget, color="0.4", lw=0.9, ls=":", gid="roundoff")
    axes[0].set(xscale="log", yscale="log", xlabel="iteration t + 1",
                ylabel=r"gap $upper_t - lower_t$ (nats)",
                title="(a) the certified gap at every iterate")
    axes[1].axhline(0.0, color="k", lw=1.1, gid="opt", zorder=1)
    axes[1].axhspan(opt_lo - opt, opt_hi - opt, color="0.8", zorder=0)
    axes[1].set_xscale("log")
    axes[1].set_yscale("symlog", linthresh=floor)
    top = 10.0 ** np.ceil(np.log10(max(float(np.max(np.abs(np.concatenate(
        [tr.upper_bound - opt, tr.lower_bound - opt])))) for tr in traces.values())))
    ticks = [t for t in (1e-8, 1e-4, 1.0, 1e4) if t <= top]
    axes[1].set_yticks([-t for t in ticks[::-1]] + [0.0] + ticks,
                       [f"−1e{int(np.log10(t))}" for t in ticks[::-1]] + ["0"]
                       + [f"1e{int(np.log10(t))}" for t in ticks])
    axes[1].set_ylim(-top, top)
    axes[1].set(xlabel="iteration t + 1", ylabel="bound − OPT (nats, symmetric log)",
                title=r"(b) $lower_t \leq$ OPT $\leq upper_t$")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[m], label=m,
                      **{k: v for k, v in METHOD_STYLES.get(m, {"lw": 1.5}).items()
                         if k not in ("zorder", "solid_capstyle")}) for m in traces]
    handles += [Line2D([], [], color="0.3", label=r"$upper_t$ − OPT (b)"),
                Line2D([], [], color="0.3", ls="--", label=r"$lower_t$ − OPT (b)"),
                Line2D([], [], color="k", lw=1.1, label=f"OPT = {opt:.6f} (b)"),
                Line2D([], [], color="0.4", lw=0.9, ls=":",
                       label=f"round-off budget {budget:.0e} (a)")]
    legend = fig.add_subplot(grid[1, :])
    legend.axis("off")
    legend.legend(handles=handles, loc="center", ncol=4, frameon=False)
    worst = max(v["max_lower_excess"] for v in numbers["methods"].values())
    facts = {"lower_never_above_opt": bool(worst <= 0.0), "max_lower_excess": worst,
             "opt": opt, "iterates": {m: v["iterates"] for m, v in numbers["methods"].items()},
             "final_gap": {m: v["final_gap"] for m, v in numbers["methods"].items()}}
    counts = ", ".join(f"{m} {v['iterates']}" for m, v in numbers["methods"].items())
    verdict = ("no lower bound is above the optimum" if facts["lower_never_above_opt"] else
               f"a lower bound exceeds the optimum by {worst:.1e}: a WRONG bound")
    caption = _caption(fig, f"blobs (n = {ds.n}, k = {ds.k}): every iterate certified by the "
                       f"checker ({counts} iterates). OPT = {opt:.10f} nats from a tight Newton "
                       f"solve, its own bracket {opt_hi - opt_lo:.0e} wide (grey band in b); "
                       f"{verdict}, counting each bound's round-off budget. In (a) a gap below "
                       "its own round-off budget (the bounds agree to float64's accuracy) is "
                       "drawn at that budget.")
    fig.suptitle("The certified bracket closes onto the optimum at every iterate")
    path = _save(fig, out, "bracket")
    return FigureOutput(path, numbers, facts, caption)


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
    "bracket": fig_bracket,
}


#: The figures that make sense for any data set, drawn from it by ``data=`` (``dualmaxent
#: figures --data FILE.csv``); the others illustrate one fixed example (a 2-feature map, the
#: separation of iris, the four families, the gauge, the note's Figure 1).
DATA_FIGURES = ("balance_equations", "primal_dual_agreement", "convergence",
                "regularization_path")


def render(names=None, out="figures", *, data=None, fmt="png", dpi=None) -> dict:
    """Render the named figures into ``out``; return ``{name: FigureOutput}``.

    Parameters
    ----------
    names : iterable of str, optional
        Figure names (keys of ``FIGURES``); default all, or all of ``DATA_FIGURES`` with data.
    out : str or path, default "figures"
        The folder (created if missing).
    data : Dataset, optional
        Draw the data-driven figures (``DATA_FIGURES``) from this data set instead of their
        built-in examples.
    fmt : {"png", "svg", "pdf"}, default "png"
        File format.
    dpi : float, optional
        Pixels per inch (default ``DPI``); matters for png.
    """
    available = DATA_FIGURES if data is not None else tuple(FIGURES)
    names = list(available) if names is None else list(names)
    _check_names(names, data is not None)
    return {name: FIGURES[name](out, data=data, fmt=fmt, dpi=dpi) for name in names}


def _check_names(names, with_data: bool) -> None:
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise DualMaxentError(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    fixed = [n for n in names if with_data and n not in DATA_FIGURES]
    if fixed:
        raise DualMaxentError(f"figure {fixed[0]!r} draws a fixed example, not your data; with "
                              f"--data choose from {', '.join(DATA_FIGURES)}")


def main_figures(args, load=None) -> int:
    """``dualmaxent figures``: write every figure (or ``--only`` some) and print each file.

    With ``--data`` (and the column options of ``verify``), draw ``DATA_FIGURES`` from that
    data set into ``--out`` (default ``figures-<file name>``); a figure that cannot be drawn
    for it (e.g. the CVXPY primal of ``primal_dual_agreement`` on a large problem) is skipped
    with a line saying why, unless it was asked for by ``--only``. ``load(args)`` reads that
    data set (the CLI's :func:`dualmaxent.cli.load_from_args`, handed in so that this module
    does not import the CLI, which imports it), after the other options are checked.
    """
    data_arg = getattr(args, "data", None)
    only = getattr(args, "only", None)
    fmt = getattr(args, "fmt", "png") or "png"
    dpi = getattr(args, "dpi", None)
    names = None
    if only:
        names = [n.strip() for n in only.split(",") if n.strip()]
        if not names:
            raise DualMaxentError("--only needs at least one figure name")
        _check_names(names, data_arg is not None)
    dataset = None
    if data_arg is not None:
        if load is None:
            raise DualMaxentError("--data needs a loader (dualmaxent.cli.load_from_args)")
        dataset = load(args)
    else:
        given = [opt for opt, value in (("--target", getattr(args, "target", None)),
                                        ("--features", getattr(args, "features", None)),
                                        ("--weights", getattr(args, "weights", None)),
                                        ("--no-intercept", getattr(args, "no_intercept", False)))
                 if value]
        if getattr(args, "family", "categorical") not in (None, "categorical"):
            given.append("--family")
        if given:
            raise DualMaxentError(f"{given[0]} needs --data (the figures' own examples have "
                                  "fixed columns)")
    out = getattr(args, "out", None)
    if not out:
        out = "figures" if data_arg is None else (
            "figures-stdin" if data_arg == "-" else f"figures-{Path(data_arg).stem}")
    total = time.perf_counter()
    chosen = names or list(DATA_FIGURES if dataset is not None else FIGURES)
    written = 0
    with progress.bar("figures", total=len(chosen), unit="figure") as bar:
        for name in chosen:
            t0 = time.perf_counter()
            try:
                result = FIGURES[name](out, data=dataset, fmt=fmt, dpi=dpi)
            except DualMaxentError as exc:
                if dataset is None or names is not None:
                    raise
                print(f"skipped {name}: {exc}", flush=True)
            else:
                written += 1
                print(f"wrote {os.fspath(result)}  ({time.perf_counter() - t0:.1f} s)",
                      flush=True)
            bar.update()
    print(f"{counted(written, 'figure')} in {time.perf_counter() - total:.1f} s")
    return 0
