"""What the explorer computes: the data, one solve of both problems, and its timings.

The notebook (:mod:`dualmaxent.explore.app`) only reads controls and shows what this module and
:mod:`dualmaxent.explore.views` return; every number comes from the library's result objects
(:func:`dualmaxent.solve_dual`, :class:`dualmaxent.primal.ParametrizedPrimal`,
:func:`dualmaxent.verify`). Errors a user can cause (a CSV the CLI would reject, a family that
does not fit the target) become the CLI's one-line message, ``dualmaxent: error: ...``, in
:attr:`Loaded.error` or :attr:`Exploration.error`, never an exception.

Conventions as in the package: sums over observations, nats, theta of shape (m, k) or (m,).
"""

from __future__ import annotations

import io
import time
import warnings
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np

from .. import exceptions
from ..data import BUILTIN_DATASETS, Dataset, load_dataset
from ..exceptions import DualMaxentError, DualMaxentWarning

# The non-convergence warning subclasses scikit-learn's, built on first use by importing
# scikit-learn (about 0.5 s): built here, when the app starts, not on the first slider move whose
# traced solver stops at its cap
exceptions.ConvergenceWarning  # noqa: B018

__all__ = ["EXAMPLES", "PENALTIES", "PRIMALS", "Source", "Loaded", "Settings", "Exploration",
           "load", "explore", "csv_columns", "lambda_scale", "lambda_steps", "error_line"]

#: The penalty kinds of the penalty picker (label -> kind of :class:`ParametrizedPrimal`).
PENALTIES = {"none": "none", "L2": "l2", "L1": "l1", "elastic net": "elasticnet"}

#: The primal picker: CVXPY (a parametrised problem, compiled once) or the checker's point only.
PRIMALS = ("cvxpy", "projected")


def _two_features(n: int, seed: int) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), rng


def _binary() -> Dataset:
    Z, rng = _two_features(80, 11)
    y = np.where(rng.random(80) < 1.0 / (1.0 + np.exp(-(1.5 * Z[:, 0] - Z[:, 1]))), "yes", "no")
    return Dataset.from_arrays(Z, y, feature_names=["x1", "x2"], family="bernoulli",
                               name="binary")


def _counts() -> Dataset:
    Z, rng = _two_features(80, 12)
    y = rng.poisson(np.exp(0.5 + 0.6 * Z[:, 0] - 0.4 * Z[:, 1])).astype(float)
    return Dataset.from_arrays(Z, y, feature_names=["x1", "x2"], family="poisson", name="counts")


def _measurements() -> Dataset:
    Z, rng = _two_features(80, 13)
    y = 1.0 + 2.0 * Z[:, 0] - Z[:, 1] + rng.normal(scale=0.8, size=80)
    return Dataset.from_arrays(Z, y, feature_names=["x1", "x2"], family="gaussian",
                               name="measurements")


#: The data sets offered: name -> (description, natural family, loader(family)). The built-in
#: ones of :data:`dualmaxent.data.BUILTIN_DATASETS`, and three small seeded ones for the other
#: families (n = 80, two features).
EXAMPLES = {
    **{name: (desc, "categorical",
              (lambda family, name=name: load_dataset(name, family=family)))
       for name, (_, _, desc) in BUILTIN_DATASETS.items()},
    "binary": ("2 classes from a logistic model in 2 features, n = 80 (seeded)", "bernoulli",
               lambda family: _refit(_binary(), family)),
    "counts": ("Poisson counts from a log-linear model in 2 features, n = 80 (seeded)",
               "poisson", lambda family: _refit(_counts(), family)),
    "measurements": ("a linear model with Gaussian noise in 2 features, n = 80 (seeded)",
                     "gaussian", lambda family: _refit(_measurements(), family)),
}


def _refit(ds: Dataset, family: str) -> Dataset:
    """``ds`` under another family (the same columns), validated as a user's data would be."""
    if family == ds.family.name:
        return ds
    return Dataset.from_arrays(ds.X[:, :-1], ds.y, feature_names=ds.feature_names[:-1],
                               family=family, name=ds.name)


def error_line(exc: BaseException) -> str:
    """The CLI's one-line message for ``exc`` (``dualmaxent: error: ...``)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"dualmaxent: error: {text}"


@dataclass(frozen=True)
class Source:
    """Where the data come from: an example by name, or a CSV's bytes with its columns."""

    name: str = "blobs"
    family: str | None = None
    csv: bytes | None = None
    csv_name: str = "upload.csv"
    target: str | None = None
    features: tuple = ()


#: The explorer's cap on plain gradient ascent's iterations: it converges slowly (its default cap,
#: 50,000 on iris, froze the page 7 to 9 s for a certificate that said "not converged" all
#: the same); at this cap the page answers in a fraction of a second and the certificate says
#: how far the solver got.
GRADIENT_MAX_ITER = 2000


@dataclass(frozen=True, eq=False)
class Loaded:
    """A data set, or the one-line error and nothing else; ``warnings`` as the CLI prints them."""

    dataset: Dataset | None
    error: str = ""
    warnings: tuple = ()


def csv_columns(content: bytes) -> list[str]:
    """The header of a CSV file's bytes (empty when there is none)."""
    import csv

    text = content.decode("utf-8-sig", errors="replace")
    for row in csv.reader(io.StringIO(text)):
        if row:
            return [c.strip() for c in row]
    return []


def load(source: Source) -> Loaded:
    """Load the data of ``source``; an error becomes :attr:`Loaded.error` (the CLI's line)."""
    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DualMaxentWarning)
            if source.csv is not None:
                handle = io.StringIO(source.csv.decode("utf-8-sig", errors="replace"))
                handle.name = source.csv_name  # messages name the file, as the CLI's do
                ds = Dataset.from_csv(handle, target=source.target or None,
                                      features=list(source.features) or None,
                                      family=source.family or "categorical",
                                      name=source.csv_name)
            elif source.name in EXAMPLES:
                _, natural, loader = EXAMPLES[source.name]
                ds = loader(source.family or natural)
            else:
                raise DualMaxentError(f"unknown data set {source.name!r}; choose one of "
                                      f"{', '.join(EXAMPLES)} or upload a CSV")
    except (DualMaxentError, OSError, UnicodeError) as exc:
        return Loaded(None, error_line(exc))
    notes = tuple(f"dualmaxent: warning: {w.message}" for w in caught
                  if issubclass(w.category, DualMaxentWarning))
    return Loaded(ds, "", notes)


def lambda_scale(ds: Dataset) -> float:
    """``lambda_max`` of ``ds`` (:func:`dualmaxent.figures.lambda_max`): from it on, L1 keeps only
    the intercept. The slider's scale; 1 when no row is penalised."""
    from ..figures import lambda_max

    try:
        return lambda_max(ds)
    except DualMaxentError:
        return 1.0


def lambda_steps(ds: Dataset, count: int = 41) -> list[float]:
    """The lambda slider's values: ``lambda_max`` times ``10^-3 .. 10^0.5``, evenly spaced in
    ``log lambda`` (rounded to four significant digits, so the slider's label reads well)."""
    scale = lambda_scale(ds)
    return [float(f"{v:.4g}") for v in scale * np.logspace(-3.0, 0.5, count)]


@dataclass(frozen=True)
class Settings:
    """The problem and the solvers, as the controls set them."""

    penalty: str = "none"
    lam: float = 1.0
    l1_ratio: float = 0.5
    gauge: str = "pivot"
    method: str = "auto"
    dual_tol: float | None = None
    primal: str = "cvxpy"
    tol: float | None = None  # (the certificate's: 1e-6, or dual_tol when looser)

    def penalty_object(self):
        """The :class:`~dualmaxent.params.Penalty` of these settings."""
        from ..params import make_penalty

        kind = PENALTIES.get(self.penalty, self.penalty)
        if kind == "none":
            return make_penalty()
        if kind == "l2":
            return make_penalty(l2=self.lam)
        if kind == "l1":
            return make_penalty(l1=self.lam)
        return make_penalty(l1=self.lam, l1_ratio=self.l1_ratio)


@dataclass(frozen=True, eq=False)
class Exploration:
    """One solve of both problems and its certificate, or the error that stopped it.

    Attributes
    ----------
    dataset : Dataset or None
    settings : Settings
    dual : DualResult or None
    primal : PrimalResult or None
        CVXPY's result (None with the projected point only, or when it did not run).
    cert : Certificate or None
    seconds : dict
        ``dual`` (the solver's time), ``primal_compile`` and ``primal_solve`` (CVXPY, apart),
        ``certify`` (the checker) and ``total`` (the wall time of :func:`explore`).
    error : str
        The one-line message when something failed ("" otherwise).
    iterates : tuple of ndarray
        The dual solver's iterates ``theta_0, theta_1, ...`` (its ``callback``), when
        ``dual.theta`` is the last of them (a penalised solve); empty otherwise. The bracket view
        certifies them instead of solving the same problem again.
    reused : bool
        True when nothing that the problem depends on changed since an earlier call (lambda moved
        with no penalty, or came back to a value already solved): the result is that call's, and
        ``seconds`` are its times.
    warm_from : float or None
        The lambda whose theta* the dual solver started from (the nearest one solved), or None
        for a cold start.
    """

    dataset: Dataset | None
    settings: Settings
    dual: object = None
    primal: object = None
    cert: object = None
    seconds: dict = field(default_factory=dict)
    error: str = ""
    iterates: tuple = ()
    reused: bool = False
    warm_from: float | None = None

    @property
    def ok(self) -> bool:
        return self.cert is not None and bool(self.cert.ok)


#: Solved explorations kept per data set (:func:`explore`): the slider has 41 positions.
REMEMBERED = 64

_SOLVED: "weakref.WeakKeyDictionary[Loaded, OrderedDict]" = weakref.WeakKeyDictionary()


def _problem_key(settings: Settings) -> tuple:
    """What the solve depends on: lambda not without a penalty, the mixing only for the
    elastic net."""
    kind = PENALTIES.get(settings.penalty, settings.penalty)
    return (kind, settings.lam if kind != "none" else None,
            settings.l1_ratio if kind == "elasticnet" else None, settings.gauge,
            settings.method, settings.dual_tol, settings.primal, settings.tol)


def explore(loaded: Loaded, settings: Settings) -> Exploration:
    """Solve the dual and (unless ``settings.primal == "projected"``) the CVXPY primal, and
    certify.

    A penalised CVXPY primal comes from :func:`dualmaxent.primal.parametrized_primal`: built
    and compiled for the first lambda, then only re-solved when lambda moves. The unpenalised
    problem goes through :func:`dualmaxent.verify` as the CLI's ``verify`` does (on separated
    data it solves the reduced problems).

    The last :data:`REMEMBERED` solves of each data set are kept: settings that define the same
    problem as an earlier call (lambda moved without a penalty, or back to a value already
    solved) return that call's result with ``reused=True``, re-solving nothing; a new lambda
    starts the dual from the theta* of the nearest one solved (``warm_from``). On iris with L1
    near the slider's low end this turns 0.4-0.7 s cold proximal Newton solves into a few
    milliseconds.
    """
    ds = loaded.dataset
    if ds is None:
        return Exploration(None, settings, error=loaded.error)
    solved = _SOLVED.setdefault(loaded, OrderedDict())
    key = _problem_key(settings)
    if key in solved:
        solved.move_to_end(key)
        return replace(solved[key], settings=settings, reused=True)
    expl = _solve(loaded, settings, _nearest(solved, key))
    solved[key] = expl
    while len(solved) > REMEMBERED:
        solved.popitem(last=False)
    return expl


def _nearest(solved: OrderedDict, key: tuple):
    """The converged penalised solve nearest to ``key`` in ``log lambda`` among those of the
    same problem but lambda (same kind, mixing, method and tolerance), or None."""
    kind, lam = key[0], key[1]
    if kind == "none":
        return None
    best, distance = None, np.inf
    for other, expl in solved.items():
        if (other[0], other[2], other[4], other[5]) != (kind, key[2], key[4], key[5]):
            continue
        if expl.dual is None or not expl.dual.converged:
            continue
        d = abs(np.log(other[1] / lam))
        if d < distance:
            best, distance = expl, d
    return best


def _solve(loaded: Loaded, settings: Settings, near: Exploration | None = None) -> Exploration:
    """One solve; a penalised dual starts from ``near``'s theta (a neighbouring lambda) when
    given: path following, as glmnet does along its lambda path. It changes how many steps the
    solver takes, not what is certified."""
    from ..dual import solve_dual
    from ..primal import parametrized_primal
    from ..verify import certificate_tol, verify

    ds = loaded.dataset
    iterates: list = []
    theta0 = near.dual.theta if near is not None else None
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # the certificate reports every doubt (not converged, inaccurate, separated)
            warnings.simplefilter("ignore", DualMaxentWarning)
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            penalty = settings.penalty_object()
            primal = None
            # a dual asked for 1e-4 is certified at 1e-4, as the estimators' are (the page
            # showed a loose dual failed against the certificate's 1e-6, neither named)
            tol = certificate_tol(settings.tol, settings.dual_tol)
            cap = GRADIENT_MAX_ITER if settings.method == "gradient" else None
            if not penalty.active:
                cert = verify(ds, primal=settings.primal, tol=tol, gauge=settings.gauge,
                              method=settings.method, dual_tol=settings.dual_tol,
                              dual_max_iter=cap)
                dual, primal = cert.dual, cert.primal
            else:
                dual = solve_dual(ds, method=settings.method, tol=settings.dual_tol,
                                  max_iter=cap, penalty=penalty, theta0=theta0,
                                  callback=iterates.append)
                if settings.primal == "cvxpy":
                    problem = parametrized_primal(ds, penalty.kind, settings.gauge,
                                                  penalty.l1_ratio if penalty.kind ==
                                                  "elasticnet" else None)
                    primal = problem.solve(penalty.lam)
                cert = verify(ds, primal=primal if primal is not None else "projected",
                              dual=dual, tol=tol, gauge=settings.gauge, penalty=penalty)
    except DualMaxentError as exc:
        return Exploration(ds, settings, error=error_line(exc))
    seconds = {"dual": float(dual.solve_seconds) if dual is not None else float("nan"),
               "primal_compile": primal.compile_seconds if primal is not None else float("nan"),
               "primal_solve": primal.solve_seconds if primal is not None else float("nan"),
               "certify": float(cert.seconds), "total": time.perf_counter() - t0}
    # the iterates are a trace of the bracket from the solver's own start only when the solve
    # started cold and ended at the last of them
    ends = (theta0 is None and bool(iterates)
            and np.array_equal(np.asarray(iterates[-1]).reshape(-1),
                               np.asarray(dual.theta).reshape(-1)))
    return Exploration(ds, settings, dual, primal, cert, seconds,
                       iterates=tuple(iterates) if ends else (),
                       warm_from=near.settings.lam if theta0 is not None else None)


def initial(args: dict) -> Source:
    """The first data of the app from its command-line arguments (``marimo run app.py --
    --data NAME|FILE.csv [--target COL] [--family F]``, as ``dualmaxent explore`` passes them).

    A CSV path is read here, once; a name that is neither an example nor a file becomes an
    unknown example, whose error the page shows.
    """
    from pathlib import Path

    data = str(args.get("data") or "blobs")
    family = args.get("family") or None
    if data not in EXAMPLES and Path(data).is_file():
        return Source(name="", family=family, csv=Path(data).read_bytes(),
                      csv_name=Path(data).name, target=args.get("target") or None)
    return Source(name=data, family=family)
