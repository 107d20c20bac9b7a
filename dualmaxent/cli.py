"""The ``dualmaxent`` command line.

``dualmaxent verify [DATA] ...`` solves both problems and prints the certificate (exit code 0 when
it is ok, 1 when it is not, 2 for bad input or usage). Errors in the input are one line on stderr,
without a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import numpy as np

from .exceptions import DualMaxentError

EXIT_OK, EXIT_NOT_OK, EXIT_USAGE = 0, 1, 2


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's layout, with the examples of the epilog kept as written.

    A paragraph (text between blank lines) whose lines after the first are indented, such as
    ``examples:`` followed by indented command lines, is printed verbatim; every other paragraph
    of a description or epilog is filled to the terminal's width.
    """

    def _fill_text(self, text, width, indent):
        import textwrap

        paragraphs = []
        for para in text.strip("\n").split("\n\n"):
            if "\n " in para:  # an indented block: the examples, verbatim
                paragraphs.append(textwrap.indent(para, indent))
            else:
                paragraphs.append(textwrap.fill(" ".join(para.split()), width,
                                                initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(paragraphs)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2) and examples at the end of every help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):  # noqa: D401 - argparse's hook
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


#: The form of the penalties, in the help of the commands that take them.
PENALTY_HELP = """penalties (theta_R: every row of theta but the intercept's; the primal relaxes
the balance equations of those rows):
  --l2 LAMBDA                  maximise l(theta) - LAMBDA/2 |theta_R|^2
  --l1 LAMBDA                  maximise l(theta) - LAMBDA |theta_R|_1
  --l1 LAMBDA --l1-ratio A     maximise l(theta) - LAMBDA (A |theta_R|_1 + (1-A)/2 |theta_R|^2)"""

#: The examples at the end of each command's help (two or three each; tests/test_cli.py runs
#: the cheap ones).
EXAMPLES = {
    "dualmaxent": """examples:
  dualmaxent verify                  # certify the duality on the built-in blobs data
  dualmaxent verify iris --l2 10     # separated data, held finite by an L2 penalty
  dualmaxent figures --only balance_equations --out figures""",
    "verify": """examples:
  dualmaxent verify                                   # blobs: 3 classes, n = 300
  dualmaxent verify iris --l1 5 --json                # L1 penalty, one JSON object
  dualmaxent verify counts.csv --target y --family poisson""",
    "certify": """examples:
  dualmaxent certify blobs --coef coef.csv
  dualmaxent certify data.csv --target y --coef coef.csv --l2 1 --json""",
    "figures": """examples:
  dualmaxent figures                                   # every figure into figures/
  dualmaxent figures --only convergence,gauge --format svg
  dualmaxent figures --data my.csv --target y --out my-figures --dpi 200""",
    "explore": """examples:
  dualmaxent explore                         # blobs, in your browser
  dualmaxent explore iris --headless --port 2718""",
    "bench": """examples:
  dualmaxent bench --quick                   # under two minutes
  dualmaxent bench --sweep --quick --json
  dualmaxent bench --explore                 # the explorer's slider moves""",
}


def _add_problem_arguments(parser) -> None:
    """The options that define the problem (the CSV's columns, the family, the penalty), shared
    by ``verify`` and ``certify``."""
    _add_data_arguments(parser)
    pen = parser.add_mutually_exclusive_group()
    pen.add_argument("--l2", type=_positive_float, metavar="LAMBDA",
                     help="L2 penalty: maximise l(theta) - LAMBDA/2 |theta_R|^2")
    pen.add_argument("--l1", type=_positive_float, metavar="LAMBDA",
                     help="L1 penalty: maximise l(theta) - LAMBDA |theta_R|_1")
    parser.add_argument("--reference", metavar="LEVEL", help="the reference class of the "
                        "printed coefficients (default: the first class, as statsmodels' MNLogit"
                        " and R; two classes print the log-odds of the other one)")
    parser.add_argument("--l1-ratio", type=_unit_float, metavar="A", help="with --l1 LAMBDA: "
                        "the elastic net LAMBDA (A |theta_R|_1 + (1 - A)/2 |theta_R|^2), "
                        "A in [0, 1]")


def _add_data_arguments(parser) -> None:
    """The options that read the data (the CSV's columns and the family), shared by ``verify``,
    ``certify`` and ``figures --data``."""
    from .families import FAMILIES

    parser.add_argument("--target", help="the CSV's response column (default: the last column)")
    parser.add_argument("--features",
                        help="comma-separated feature columns (default: all others)")
    parser.add_argument("--weights", help="a CSV column of frequency weights")
    parser.add_argument("--no-intercept", action="store_true",
                        help="do not append an intercept")
    parser.add_argument("--family", default="categorical", choices=list(FAMILIES),
                        help="the canonical GLM family (default: categorical)")


def build_parser() -> argparse.ArgumentParser:
    from .dual import METHODS
    from .families import FAMILIES

    parser = _Parser(prog="dualmaxent", description="Logistic regression is a maximum-entropy "
                     "model: solve the primal and the dual, and certify their duality. Without "
                     "a command, print this help.", epilog=EXAMPLES["dualmaxent"])
    from . import __version__

    parser.add_argument("--version", action="version", version=f"dualmaxent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = False  # a bare `dualmaxent` prints the help (main)

    v = sub.add_parser("verify", help="solve primal and dual and print the duality certificate",
                       description="Solve the max-entropy primal (CVXPY) and the likelihood dual "
                       "(numpy/scipy) and certify strong duality. Exit code 0 when the certificate"
                       " is ok, 1 when it is not, 2 for bad input.",
                       epilog=PENALTY_HELP + "\n\n" + EXAMPLES["verify"])
    v.add_argument("data", nargs="?", default="blobs",
                   help="a built-in data set (blobs, iris), a CSV path, or - for a CSV on "
                   "standard input (default: blobs)")
    _add_problem_arguments(v)
    v.add_argument("--solver", default="CLARABEL", help="CVXPY solver for the primal "
                   "(default: CLARABEL)")
    v.add_argument("--gauge", default="pivot", choices=["pivot", "full"],
                   help="drop the redundant last class block (pivot, default) or keep it")
    v.add_argument("--method", default="auto", choices=[m for m in METHODS],
                   help="dual solver (default: auto)")
    v.add_argument("--tol", type=_tolerance, default=1e-6,
                   help="relative tolerance of the certificate, in (0, 1) (default: 1e-6)")
    v.add_argument("--primal", default="auto", choices=["auto", "cvxpy", "projected"],
                   help="the primal: CVXPY, the projected point built from theta* (no CVXPY, "
                   "any size), or auto (CVXPY while its problem is small; default)")
    v.add_argument("--engine", default="numpy", choices=["numpy", "dask"],
                   help="numpy (in memory, default) or dask: DATA is then a Parquet or CSV path "
                   "or glob, read and solved chunk by chunk (the projected certificate)")
    v.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --engine dask: a running Dask scheduler (default: start a local "
                   "cluster sized to the machine, and close it at the end)")
    v.add_argument("--workers", type=int, metavar="N",
                   help="with --engine dask and no --scheduler: local workers (default: cores)")
    v.add_argument("--trace", action="store_true",
                   help="also print the certified bracket [lower_t, upper_t] at every iterate "
                   "of the dual solve (dualmaxent.certify at each theta_t)")
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.set_defaults(func=cmd_verify)

    c = sub.add_parser("certify", help="certify given coefficients (COEF.csv) on a data set",
                       description="Certify the coefficients in COEF.csv, from any solver or "
                       "library, against the problem of DATA: a proved bracket of the optimum "
                       "and how many nats theta is from it. Exit code 0 when the certificate "
                       "is ok, 1 when it is not, 2 for bad input.",
                       epilog=PENALTY_HELP + "\n\n" + EXAMPLES["certify"])
    c.add_argument("data", help="a built-in data set (blobs, iris), a CSV path, or - for a CSV "
                   "on standard input")
    c.add_argument("--coef", required=True, metavar="COEF.csv",
                   help="one row per feature (first column its name, intercept included), one "
                   "column per class headed by its label (one column for the one-parameter "
                   "families)")
    _add_problem_arguments(c)
    c.add_argument("--tol", type=_tolerance, default=1e-6,
                   help="relative tolerance of the certificate, in (0, 1) (default: 1e-6)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=cmd_certify)

    from .figures import DATA_FIGURES, FIGURES, FORMATS

    f = sub.add_parser("figures", help="regenerate every comparison figure, or draw the "
                       "data-driven ones for your data (--data)",
                       description="Regenerate every figure into a folder (default: figures/): "
                       f"{', '.join(FIGURES)}. With --data, draw instead the figures that make "
                       f"sense for any data set, from that data: {', '.join(DATA_FIGURES)}. "
                       "Exit code 0, or 2 for bad input.", epilog=EXAMPLES["figures"])
    f.add_argument("--out", help="output folder (default: figures, or figures-NAME for "
                   "--data NAME.csv)")
    f.add_argument("--only", help="comma-separated figure names (default: all; with --data: "
                   "all of " + ", ".join(DATA_FIGURES) + ")")
    f.add_argument("--format", default="png", choices=list(FORMATS), dest="fmt",
                   help="file format (default: png)")
    f.add_argument("--dpi", type=_positive_float, default=None,
                   help="pixels per inch of png files (default: 120, about 960 px wide)")
    f.add_argument("--data", metavar="DATA", help="a CSV path, - for a CSV on standard input, "
                   "or a built-in data set (blobs, iris): draw the data-driven figures from it")
    _add_data_arguments(f)
    f.set_defaults(func=cmd_figures)

    e = sub.add_parser("explore", help="serve the interactive explorer (a marimo app) on "
                       "127.0.0.1", description="Serve the explorer, a marimo app where the "
                       "primal, the dual and the certified bracket move with the controls, on "
                       "127.0.0.1, and open it in the browser. Needs pip install "
                       "\"dualmaxent[explore]\". Exit code 0 after Ctrl+C, 2 for bad input.",
                       epilog=EXAMPLES["explore"])
    e.add_argument("data", nargs="?", default="blobs", help="the data to start with: an example "
                   "(blobs, iris, binary, counts, measurements) or a CSV path (default: blobs)")
    e.add_argument("--target", help="the CSV's response column (default: the last column)")
    e.add_argument("--family", choices=list(FAMILIES), help="the family to start with")
    e.add_argument("--port", type=int, help="the port (default: the first free one from 2718)")
    e.add_argument("--headless", action="store_true", help="serve without opening a browser")
    e.set_defaults(func=cmd_explore)

    b = sub.add_parser("bench", help="benchmark the solvers against scikit-learn, statsmodels, "
                       "glum", description="Time the dual and primal solvers against reference "
                       "libraries; every row is certified by the verifier.",
                       epilog=EXAMPLES["bench"])
    b.add_argument("--quick", action="store_true", help="small sizes (under two minutes)")
    b.add_argument("--out", default="figures", help="folder for scaling.png (default: figures)")
    b.add_argument("--json", action="store_true", help="print the table as JSON")
    which = b.add_mutually_exclusive_group()  # one benchmark per run
    which.add_argument("--scale", action="store_true", help="the scale benchmark instead: verify "
                   "at n = 2e5 and 1e6, and the Dask engine against numpy at n = 1e6 "
                   "(pip install \".[dask]\")")
    which.add_argument("--sweep", action="store_true", help="the sweep instead: MaxEntClassifier.fit "
                   "(certificate included) against LogisticRegression, scikit-learn-intelex and "
                   "glum over n = 1e2..1e6, k = 2, 3, 10, m = 10, 50 and two real sets, at equal "
                   "precision (about 15 minutes; --quick: n <= 1e4); writes sweep.png")
    which.add_argument("--sparse", action="store_true", help="the sparse benchmark instead: "
                   "MaxEntClassifier.fit against LogisticRegression (lbfgs, saga, newton-cg) and "
                   "glum on two text-like problems and a 2000-level categorical, at equal "
                   "precision, with our peak memory (--quick: scaled down)")
    which.add_argument("--explore", action="store_true", help="the explorer benchmark instead: "
                   "every lambda slider move (solve, certificate, view) on every built-in data "
                   "set, penalty and view, against the 0.3 s target (--quick: five notches each "
                   "way)")
    b.set_defaults(func=cmd_bench)
    return parser


def cmd_figures(args) -> int:
    from .figures import main_figures  # matplotlib is imported only here

    return main_figures(args, load=load_from_args)


def cmd_explore(args) -> int:
    """Serve the explorer with ``marimo run`` until Ctrl+C (:mod:`dualmaxent.explore`), once its
    data have loaded (:func:`_load_explore_data`)."""
    from .explore import serve

    _load_explore_data(args)
    return serve(args.data, port=args.port, headless=args.headless, target=args.target,
                 family=args.family)


def _load_explore_data(args) -> None:
    """Load the data of ``explore DATA`` before any server starts, as ``verify DATA`` loads them
    (:func:`load_from_args`): bad data are then the same one-line error and exit code 2, not a
    server left running whose page shows the error.

    The explorer's own examples that are not built-in data sets (``binary``, ``counts``,
    ``measurements``) are loaded as the app loads them (:func:`dualmaxent.explore.model.load`);
    they have their own target, so ``--target`` is refused with them.
    """
    from pathlib import Path

    from .data import BUILTIN_DATASETS
    from .explore import model

    if args.data in model.EXAMPLES and args.data not in BUILTIN_DATASETS:
        if args.target is not None:
            raise DualMaxentError(f"--target needs a CSV file; the example {args.data!r} has "
                                  "its own target")
        loaded = model.load(model.Source(args.data, args.family))
        for note in loaded.warnings:
            print(note, file=sys.stderr)
        if loaded.error:
            raise DualMaxentError(loaded.error.removeprefix("dualmaxent: error: "))
        return
    if args.data not in model.EXAMPLES and not Path(args.data).exists() \
            and Path(args.data).suffix.lower() != ".csv":  # verify's message lists only its own
        raise DualMaxentError(f"{args.data!r} is neither an example ({', '.join(model.EXAMPLES)})"
                              " nor an existing file")
    # explore has no --features, --weights or --no-intercept: the app starts with verify's
    # defaults for them, and with the categorical family unless --family says otherwise
    load_from_args(argparse.Namespace(data=args.data, target=args.target, features=None,
                                      weights=None, no_intercept=False,
                                      family=args.family or "categorical"))


def cmd_bench(args) -> int:
    if getattr(args, "explore", False):
        from .bench_explore import main_explore

        return main_explore(args)
    if getattr(args, "sparse", False):
        from .bench_sparse import main_sparse

        return main_sparse(args)
    if getattr(args, "sweep", False):
        from .bench_sweep import main_sweep

        return main_sweep(args)
    if getattr(args, "scale", False):
        from .bench_scale import main_scale

        return main_scale(args)
    from .bench import main_bench

    return main_bench(args)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _tolerance(text: str) -> float:
    """``--tol``: a relative tolerance, in (0, 1).

    The verdict compares relative gaps and residuals with it: at 1 or more every theta would
    pass, so such a value is refused rather than certifying nothing.
    """
    value = _positive_float(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(f"expected a relative tolerance below 1, got {text!r}")
    return value


def _unit_float(text: str) -> float:
    """``--l1-ratio``: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def load_from_args(args):
    """The Dataset named by ``args.data`` with the CLI's column options.

    Warnings about the data (:class:`~dualmaxent.exceptions.DualMaxentWarning`, e.g. a target of
    non-integer numbers) are printed on stderr as one line each, ``dualmaxent: warning: ...``.
    """
    import warnings

    from .exceptions import DualMaxentWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DualMaxentWarning)
        dataset = _load_data(args)
    for w in caught:
        if issubclass(w.category, DualMaxentWarning):
            print(f"dualmaxent: warning: {w.message}", file=sys.stderr)
        else:  # not ours: hand it back to the warnings machinery unchanged
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return dataset


def _load_data(args):
    from pathlib import Path

    from .data import BUILTIN_DATASETS, Dataset, load_dataset

    features = None
    if args.features is not None:
        features = [f.strip() for f in args.features.split(",") if f.strip()]
        if not features:
            raise DualMaxentError("--features needs at least one column name")
    intercept = not args.no_intercept
    if args.data in BUILTIN_DATASETS and not Path(args.data).exists():
        if args.weights:
            raise DualMaxentError("--weights needs a CSV file with a weights column")
        if args.target:
            _, target, _ = BUILTIN_DATASETS[args.data]
            if args.target != target:
                raise DualMaxentError(f"unknown target column {args.target!r} for the built-in "
                                      f"data set {args.data!r} (its target is {target!r})")
        return load_dataset(args.data, family=args.family, intercept=intercept,
                            features=features)
    if args.data == "-":  # standard input: `cat data.csv | dualmaxent verify -`
        return Dataset.from_csv(sys.stdin, target=args.target, features=features,
                                intercept=intercept, weights=args.weights, family=args.family,
                                name="stdin")
    if not Path(args.data).exists() and Path(args.data).suffix.lower() != ".csv":
        raise DualMaxentError(f"{args.data!r} is neither a built-in data set "
                              f"({', '.join(BUILTIN_DATASETS)}) nor an existing file")
    return Dataset.from_csv(args.data, target=args.target, features=features,
                            intercept=intercept, weights=args.weights, family=args.family)


def _check_l1_ratio(args) -> None:
    """``--l1-ratio`` needs ``--l1``: said here in the options' names, not in the Python
    keywords of :func:`dualmaxent.params.make_penalty`'s message."""
    if args.l1_ratio is not None and args.l1 is None:
        raise DualMaxentError("--l1-ratio goes with --l1 LAM (the elastic net's strength); "
                              + ("--l2 is the ridge alone" if args.l2 is not None
                                 else "no strength was given"))


def cmd_verify(args) -> int:
    from .verify import verify

    _check_l1_ratio(args)
    if args.engine == "dask":
        return _verify_dask(args)
    # "is not None": --workers 0 is given too, and refused as --workers 5 is
    if args.scheduler is not None or args.workers is not None:
        raise DualMaxentError("--scheduler and --workers need --engine dask")
    dataset = load_from_args(args)
    cert = verify(dataset, primal=args.primal, tol=args.tol, solver=args.solver,
                  gauge=args.gauge, method=args.method, l2=args.l2, l1=args.l1,
                  l1_ratio=args.l1_ratio)
    trace = None
    if getattr(args, "trace", False):
        from .trace import trace_bracket

        # the same solve again (the solvers are deterministic), its iterates recorded
        trace = trace_bracket(dataset, method=args.method, penalty=cert.penalty, tol=args.tol,
                              separation=cert.separation)
    return _print_certificate(args, dataset, cert, trace)


def _verify_dask(args) -> int:
    """``verify --engine dask``: read chunk by chunk, solve and certify on a Dask cluster."""
    from .distributed import dask_client, read_csv, read_parquet
    from .verify import verify_dask

    unsupported = [(args.primal == "cvxpy", "--primal cvxpy (CVXPY does not run at this scale)"),
                   (args.method != "auto", "--method (the engine runs Newton)")]
    for given, what in unsupported:
        if given:
            raise DualMaxentError(f"--engine dask does not support {what}")
    if not args.target:
        raise DualMaxentError("--engine dask needs --target (the response column)")
    if getattr(args, "trace", False):
        raise DualMaxentError("--engine dask does not support --trace (it certifies in passes "
                              "over the chunks, once)")
    if args.workers is not None and args.workers < 1:
        raise DualMaxentError(f"--workers must be at least 1; got {args.workers}")
    path = str(args.data)
    reader = read_csv if path.lower().endswith(".csv") else read_parquet
    features = ([f.strip() for f in args.features.split(",") if f.strip()]
                if args.features else None)
    with dask_client(args.scheduler, args.workers) as client:
        dataset = reader(path, target=args.target, features=features, weights=args.weights,
                         family=args.family, intercept=not args.no_intercept)
        cert = verify_dask(dataset, tol=args.tol, l2=args.l2, l1=args.l1,
                           l1_ratio=args.l1_ratio, client=client)
        return _print_certificate(args, dataset, cert)


def cmd_certify(args) -> int:
    """``certify DATA --coef COEF.csv``: the checker alone, at the coefficients given."""
    from .certify import certify

    _check_l1_ratio(args)
    dataset = load_from_args(args)
    theta = _read_coef(args.coef, dataset)
    cert = certify(dataset, theta, l2=args.l2, l1=args.l1, l1_ratio=args.l1_ratio,
                   tol=args.tol, source=f"given ({args.coef})")
    return _print_certificate(args, dataset, cert)


def _read_coef(path: str, dataset):
    """Theta from ``certify --coef COEF.csv`` (:func:`dualmaxent.adapters.read_coef_csv`), a
    missing or non-text file named in the words ``verify DATA`` uses for it
    (:meth:`dualmaxent.Dataset.from_csv`)."""
    import csv
    from pathlib import Path

    from .adapters import read_coef_csv
    from .exceptions import DataError

    if not str(path).strip():  # (Path("") is the current folder)
        raise DataError("the coefficient file's name is empty")
    if not Path(path).exists():
        raise DataError(f"no such file: {path}")
    if Path(path).is_dir():
        raise DataError(f"{path} is a folder, not a CSV file")
    # the reader lets the codec's and the csv module's own errors through, as tracebacks
    try:
        return read_coef_csv(path, dataset)
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text CSV file") from None
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit()
        raise DataError(f"{path} is not a valid CSV file: {exc}") from None


def _print_certificate(args, dataset, cert, trace=None) -> int:
    reference = getattr(args, "reference", None)
    if args.json:
        doc = certificate_json(dataset, cert, reference)
        if trace is not None:
            doc["trace"] = trace_json(trace)
        print(json.dumps(doc, indent=2))
    else:
        print(format_certificate(dataset, cert, trace, reference))
    return EXIT_OK if cert.ok else EXIT_NOT_OK


#: The version of the JSON object of ``verify --json`` and ``certify --json``, its first key
#: ``"schema"``. Every key is documented in ``docs/json.md`` (``tests/test_cli.py`` holds the
#: output to that list); a key renamed or removed, or a meaning changed, takes a new version.
JSON_SCHEMA = "dualmaxent.certificate/1"


def certificate_json(dataset, cert, reference=None) -> dict:
    """The certificate as a JSON-ready dict: schema :data:`JSON_SCHEMA`, keys in ``docs/json.md``.

    ``theta`` (``values``, ``std_err``) is in the solvers' pivot gauge, the witness that
    ``certify --coef`` reads back; ``coefficients`` is the report, contrasts against
    ``reference`` (the first class by default; :func:`dualmaxent.report.report_coefficients`).
    """
    from .report import report_coefficients

    rep = report_coefficients(dataset, cert.theta, cov=cert.covariance, reference=reference,
                              penalty=cert.penalty)
    p, d, pp = cert.primal, cert.dual, cert.projected
    sep = cert.separation
    std_err = cert.std_err
    out = {
        "schema": JSON_SCHEMA,
        "dataset": {
            "name": dataset.name, "n": dataset.n, "m": dataset.m, "k": dataset.k,
            "rank": cert.rank,
            "classes": [_jsonable(c) for c in dataset.classes],
            "feature_names": list(dataset.feature_names),
            "family": dataset.family.name,
            "penalty": cert.penalty.as_dict(),
            "weights": bool(np.any(dataset.weights != 1.0)),
        },
        "primal": {"solver": cert.primal_solver, "reason": cert.primal_reason},
        "theta": {
            "source": cert.source, "values": np.asarray(cert.theta).tolist(),
            "objective": _num(cert.upper_bound),
            "canonical_loglik": _num(cert.extra["canonical_loglik"]),
            "loglik": _num(-cert.neg_loglik), "neg_loglik": _num(cert.neg_loglik),
            "dual_gradient": _num(cert.dual_gradient),
            "gradient_roundoff": _num(cert.gradient_roundoff),
            "std_err": None if std_err is None else _nums(std_err),
            "std_err_note": cert.std_err_note,
        },
        "coefficients": {
            "reference": _jsonable(rep.reference), "title": rep.title,
            "names": list(rep.names), "coef": _nums(rep.coef),
            "std_err": None if rep.std_err is None else _nums(rep.std_err),
        },
        "dual": None if d is None else {
            "method": d.method, "converged": d.converged, "status": d.status,
            "iterations": d.iterations, "solve_seconds": d.solve_seconds,
        },
        "projected": {
            "entropy": _num(pp.entropy), "lower_bound": _num(pp.lower_bound),
            "upper_bound": _num(pp.upper_bound), "duality_gap": _num(pp.duality_gap),
            "roundoff": _num(pp.roundoff), "balance_residual": _num(pp.balance_residual),
            "min_entry": _num(pp.newton_min_entry), "in_domain": pp.in_domain,
            "primal_objective": _num(pp.lower_bound),
            "smallest_entry": None if pp.mu is None else _num(np.min(pp.mu)),
            "largest_entry": None if pp.mu is None else _num(np.max(pp.mu)),
            "segment": pp.segment, "newton_step": pp.stepped,
            "unpenalised_point": pp.unpenalised,
            "excess": None if np.isnan(pp.excess_reference) else _num(pp.excess_reference),
            "rank": pp.rank, "size": pp.size, "condition": _num(pp.condition),
            "seconds": pp.seconds,
        },
        "certificate": {
            "lower_bound": _num(cert.lower_bound), "upper_bound": _num(cert.upper_bound),
            "duality_gap": _num(cert.duality_gap), "relative_gap": _num(cert.relative_gap),
            "roundoff": _num(cert.roundoff), "within": _num(cert.within),
            "balance_residual": _num(cert.balance_residual),
            "simplex_residual": _num(cert.simplex_residual), "min_entry": _num(cert.min_entry),
            "dual_gradient": _num(cert.dual_gradient), "primal_gap": _num(cert.primal_gap),
            "p_agreement": _num(cert.p_agreement),
            "theta_agreement": _num(cert.theta_agreement), "tol": cert.tol, "ok": cert.ok,
            "attained": cert.attained, "verdict": cert.verdict,
            "messages": list(cert.messages),
        },
        "separation": None if sep is None else {
            "kind": sep.kind,
            "forced": int(np.sum(sep.forced)),
            "forced_observations": int(np.sum(sep.forced_observations)),
            "summary": sep.describe(dataset),
        },
    }
    if p is not None:
        out["primal"].update({
            "status": p.status, "gauge": p.gauge,
            "entropy": _num(p.entropy), "objective": _num(p.objective),
            "primal_objective": _num(cert.extra.get("primal_objective", np.nan)),
            "smallest_entry": _num(np.min(p.mu)), "largest_entry": _num(np.max(p.mu)),
            "iterations": p.iterations, "solve_seconds": p.solve_seconds,
            "compile_seconds": p.compile_seconds,
        })
    # the penalised objectives, then (separated data) the supremum and the LP's check, then
    # the log-likelihood's constants: the keys of docs/json.md, in its order
    extra = dict(cert.extra)
    figures = {key: extra.pop(key) for key in ("primal_objective", "dual_objective")}
    if cert.separation_check is not None:
        figures.update(dataclasses.asdict(cert.separation_check))
    figures.update(extra)
    for key, value in figures.items():
        if isinstance(value, (int, float, str, bool)) or value is None:
            out["certificate"].setdefault(key, _num(value) if isinstance(value, float) else value)
    return out


def format_certificate(dataset, cert, trace=None, reference=None) -> str:
    """The human-readable certificate.

    One vocabulary for every family and penalty: the dual objective at theta and its parts,
    the primal objective at the checker's feasible point (``P~`` for a class table, ``mu~`` for
    means) and its parts, the bracket ``lower <= OPT <= upper`` between those two, then CVXPY's
    point as a cross-check (not a bound), the coefficients and the notes.

    Parameters
    ----------
    dataset : Dataset or DaskDataset
    cert : Certificate
        From :func:`dualmaxent.verify` or :func:`dualmaxent.certify`.
    trace : BracketTrace, optional
        :func:`dualmaxent.trace.trace_bracket`'s result: adds the bracket at every dual
        iterate (:func:`format_trace`).
    reference : label, optional
        The reference class of the coefficient table (default: the first class).

    Returns
    -------
    str
    """
    from .report import labels_text

    p, d, pp = cert.primal, cert.dual, cert.projected
    fam, penalty = dataset.family, cert.penalty
    words = _vocabulary(dataset, penalty)
    pt, q = words["point"], _lower_point_name(words["point"], pp.segment)
    separated = cert.separation is not None and cert.separation.separated
    classes = labels_text(dataset.classes)
    command = "verify" if d is not None else "certify"
    head = (f"dualmaxent {command}: {dataset.name} ({fam.name}"
            f"{', penalty ' + penalty.describe() if penalty.active else ''}; "
            f"n={dataset.n}, m={dataset.m}" + (f", k={dataset.k}: {classes}" if classes else "")
            + (f", rank {cert.rank}" if 0 <= cert.rank < dataset.m else "") + ")")
    lines = [head, f"  theta   {cert.source}"
             + (f", {d.solve_seconds:.3f} s" if d is not None else "")]
    lines.append(f"  primal  {cert.primal_solver}: {cert.primal_reason}")
    if p is not None:
        lines.append(f"          {p.solver}" + (f", gauge {p.gauge}" if fam.multiclass else "")
                     + f": status {p.status}"
                     + (f", {p.iterations} iterations" if p.iterations is not None else "")
                     + f", {p.solve_seconds:.3f} s solve + {p.compile_seconds:.3f} s compile")

    # the dual side: the objective at theta, the upper bound
    neg_l = -cert.extra["canonical_loglik"]
    lines.append("  dual side, at theta" + (" (separated data: l has no maximiser, theta* is "
                                            "at infinity)" if separated else ""))
    if penalty.active:
        lines += [_row("-l(theta)", neg_l, "nats"),
                  _formula_row("penalty", words["penalty"], cert.upper_bound - neg_l),
                  _row(words["dual"], cert.upper_bound, "nats")]
    else:
        lines.append(_row(words["dual"], cert.upper_bound, "nats"))
    constant = cert.extra["loglik_constant"]
    if constant != 0:
        lines.append(_row("reported log-likelihood", -cert.neg_loglik,
                          f"nats  (= l(theta) + c, c = {constant:.10f}: see the note)"))
    lines.append(_row("dual gradient", f"{cert.dual_gradient:.2e}",
                      f" (round-off budget {cert.gradient_roundoff:.1e})"))

    # the primal side: the checker's feasible point, the lower bound
    lines.append(f"  primal side, at {_point_origin(fam, pt, pp.segment, pp.stepped)}"
                 + (" (of the reduced problem)" if separated else "")
                 + ("\n          (of the unpenalised problem, its balance equations exact: "
                    "the note below says why it bounds this one)" if pp.unpenalised else ""))
    if penalty.kind in ("l2", "elasticnet"):
        lines += [_row(f"{words['H']}({q})", pp.entropy, "nats"),
                  _formula_row("charge", words["charge"], pp.entropy - pp.lower_bound,
                               words["slack"].replace(pt + "~", q)),
                  _row(words["primal"].replace(pt + "~", q), pp.lower_bound, "nats")]
    else:
        boxes = f"  (boxes |s| <= lam, {words['slack'].replace(pt + '~', q)})"
        lines.append(_row(words["primal"].replace(pt + "~", q), pp.lower_bound,
                          "nats" + (boxes if penalty.kind == "l1" else "")))
    lines.append(_row("balance residual", f"{pp.balance_residual:.2e}",
                      f" (relative, {words['residual']})"))
    if fam.multiclass:
        lines.append(_row("simplex residual", f"{pp.simplex_residual:.2e}",
                          " (max |row sum - 1|)"))
    domain = _domain(fam, pp.mu, tol=0.0)
    if domain is not None:
        if separated and cert.separation_check is not None and fam.multiclass:
            domain = domain[:2] + (domain[2][:-1] + f"; the {cert.separation_check.forced_entries}"
                                   " entries forced by the separation are 0)",)
        lines.append(_row(*domain))
    if not fam.is_probability:
        lines.append("  note: " + _conjugate_note(fam, constant, penalty))

    # the certificate: the bracket between the two sides
    opt = "-sup l, the likelihood's supremum" if separated else "min dual"
    lines += [
        f"  certificate (tolerance {cert.tol:g}): lower bound <= OPT <= upper bound, "
        f"OPT = max primal = {opt}",
        _row(f"lower bound = {words['lower'].replace(pt + '~', q)}", cert.lower_bound, "nats"),
        _row(f"upper bound = {words['upper']}" + (" >= -sup l" if separated else ""),
             cert.upper_bound, "nats"),
        _row("duality gap (upper - lower)", _gap_text(cert.duality_gap, cert.roundoff,
                                                       cert.relative_gap)),
        _row("theta is within", f"{cert.within:.2e}", " nats of the optimum"),
    ]
    excess = cert.projected.excess_reference if cert.projected is not None else float("nan")
    if not fam.is_probability and np.isfinite(excess):
        # the gaussian and Poisson verdict's own yardstick: the objective is mostly the data's
        # constant, so the relative gap above says little
        lines.append(_row("the fit's own excess", f"{excess:.2e}",
                          " nats (half the RSS or deviance, plus the penalty: within must be "
                          f"at most {cert.tol:g} of it)"))
    lines += [
        _row("optimum attained", "yes" if cert.attained else
             "no: the likelihood has no maximiser (separated data)"),
    ]
    if separated:
        # one sentence: what the separation is, and what was certified instead of a maximiser
        outcome = (f"matches the likelihood's supremum to {abs(cert.duality_gap):.0e}" if cert.ok
                   else "could not be matched with the likelihood's supremum (see the verdict)")
        lines.append(f"  note: {cert.separation.describe(dataset)}; the max-entropy optimum "
                     f"exists and {outcome}")
    if p is not None:
        lines += _cvxpy_lines(dataset, cert, words)
    lines += coefficient_table(dataset, cert, reference)
    said = cert.separation.describe(dataset) if cert.separation is not None else None
    lines += [f"  note: {note}" for note in cert.notes if not (said and note.startswith(said))]
    if trace is not None:
        lines += format_trace(trace, cert)
    lines.append(f"verdict: {cert.verdict}")
    return "\n".join(lines)


#: Width of the labels of the certificate's rows.
_LABEL = 42


def _nats(value: float) -> str:
    """A value in nats: ten decimals (no minus sign on a zero), or in exponent form beyond
    1e15, where the decimals are float64's noise."""
    value = value + 0.0
    return f"{value:.10f}" if not abs(value) >= 1e15 else f"{value:.10e}"


def _coef(value: float, width: int) -> str:
    """A coefficient: four decimals, or in exponent form beyond 1e9."""
    return f"{value:>{width}.4f}" if not abs(value) >= 1e9 else f"{value:>{width}.4e}"


def _row(label: str, value, unit: str = "") -> str:
    """One row: the label, then a number (10 decimals, nats) or a text, then its unit or note."""
    text = _nats(value) if isinstance(value, float) else str(value)
    if unit and not unit.startswith(" "):
        unit = " " + unit
    return f"          {label:<{_LABEL}} {text}{unit}".rstrip()


def _vocabulary(dataset, penalty) -> dict:
    """The names of the printout for this family and penalty.

    ``point`` is ``P`` (a class table) or ``mu`` (means); the checker's point is ``point~``,
    CVXPY's ``point*``. ``H`` names ``-sum A*``: the entropy for probabilities, ``H`` otherwise.
    ``primal``/``dual`` name the two objectives, ``lower``/``upper`` the bounds they give,
    ``penalty``/``charge`` the penalty and its conjugate (the relaxation's charge on the slack
    ``s`` of the penalised rows' balance equations).
    """
    fam = dataset.family
    pt = "P" if fam.multiclass else "mu"
    H = "entropy H" if fam.is_probability else "H"
    w = dataset.weights
    # a Dask data set's weights stay on the cluster: W is written (it is I when unweighted)
    weighted = bool(np.any(w != 1.0)) if isinstance(w, np.ndarray) else True
    W = " W" if weighted else ""
    words = {"point": pt, "H": H, "slack": f"s = X_R^T{W} ({pt}~ - Y)",
             "penalty": "", "charge": "", "upper": "-l(theta)",
             "dual": "dual objective = -l(theta)",
             "primal": f"primal objective = {H}({pt}~)", "lower": f"{H}({pt}~)",
             "residual": f"max |X^T{W} ({pt}~ - Y)| / (1 + max |X^T{W} Y|)"}
    if penalty.active:
        words["penalty"] = {"l2": "lam/2 |theta_R|^2", "l1": "lam |theta_R|_1",
                            "elasticnet": "lam (a |theta_R|_1 + (1-a)/2 |theta_R|^2)"
                            }[penalty.kind]
        words["upper"] = "-l(theta) + penalty"
        words["dual"] = "dual objective -l(theta) + penalty"
        words["residual"] = "on the unpenalised rows" + (", and the boxes' excess"
                                                          if penalty.kind == "l1" else "")
    if penalty.kind == "l2":
        words["charge"] = "|s|^2 / (2 lam)"
        words["primal"] = f"relaxed objective H({pt}~) - |s|^2 / (2 lam)"
        words["lower"] = f"relaxed objective at {pt}~"
    elif penalty.kind == "elasticnet":
        words["charge"] = "sum (|s| - lam a)_+^2 / (2 lam (1-a))"
        words["primal"] = f"relaxed objective H({pt}~) - charge"
        words["lower"] = f"relaxed objective at {pt}~"
    elif penalty.kind == "l1":
        words["primal"] = f"primal objective = {H}({pt}~)"
    return words


def _formula_row(name: str, formula: str, value: float, where: str = "") -> str:
    """A row named by its formula ("penalty lam/2 |theta_R|^2"), the formula moved after the
    value when it is too long for the label column."""
    if len(f"{name} {formula}") <= _LABEL:
        return _row(f"{name} {formula}", value, "nats" + (f"  ({where})" if where else ""))
    return _row(name, value, f"nats  ({formula}" + (f", {where})" if where else ")"))


def _lower_point_name(pt: str, segment: float) -> str:
    """The checker's point: ``P~`` itself, or ``P_t`` on the segment from the data to it."""
    return f"{pt}~" if segment >= 1.0 else f"{pt}_t"


def _point_origin(fam, pt: str, segment: float, stepped: bool = True) -> str:
    """The checker's point and where it comes from (:mod:`dualmaxent.certify`)."""
    from .certify import segment_text

    made = f"one Newton step in mean space from {pt}(theta) = {fam.formulas['mean']}"
    if not stepped:  # (:func:`dualmaxent.certify._zero_step`)
        made = (f"{pt}(theta) = {fam.formulas['mean']} itself, no Newton step (its balance "
                "residual is small enough)")
    if segment >= 1.0:
        return f"{pt}~: the checker's feasible point, {made}"
    return (f"{pt}_t = Y + t ({pt}~ - Y), t = {segment_text(segment)}\n          (the best "
            f"feasible point on the segment from the data Y to the checker's {pt}~, {made})")


def _gap_text(gap: float, roundoff: float, relative: float) -> str:
    """The duality gap with its round-off budget beside it, said in words when negative or
    when the budget is unbounded (then the two numbers bound nothing)."""
    if roundoff == np.inf:
        return (f"{gap:+.2e}  (round-off budget unbounded: these two numbers prove nothing; "
                "the verdict says why)")
    if not gap < 0:
        return f"{gap:+.2e}  (relative {relative:.1e}; round-off budget {roundoff:.1e})"
    if gap >= -roundoff:
        return (f"{gap:+.2e}  (within round-off {roundoff:.1e}: the bounds agree to float64 "
                f"accuracy)")
    return (f"{gap:+.2e}  (beyond its round-off budget {roundoff:.1e}: weak duality is "
            "violated, a computation is wrong)")


def _domain(fam, point, tol: float):
    """``(label, value, check)`` of a point's smallest (and, for a Bernoulli mean, largest)
    entry, and whether it lies in the family's domain (``mean_bounds``), allowing ``tol``;
    None when the family has no bounds or the point is not at hand."""
    lower, upper = fam.mean_bounds
    if point is None or not (np.isfinite(lower) or np.isfinite(upper)):
        return None
    v = np.asarray(point, dtype=np.float64)
    smallest, largest = float(v.min()), float(v.max())
    both = np.isfinite(upper) and not fam.multiclass  # a class table's rows sum to 1
    inside = smallest >= lower - tol and (not both or largest <= upper + tol)
    label = "smallest entry"
    if both:
        value = f"{smallest:.2e}, largest {upper:g} - {upper - largest:.2e}"
        check = f"all in [{lower:g}, {upper:g}]"
    else:
        value, check = f"{smallest:.2e}", f"all entries >= {lower:g}"
    if not inside:
        check = "NOT " + check
    elif tol > 0 and (smallest < lower or (both and largest > upper)):
        check += f" - {tol:g}, the tolerance: CVXPY's accuracy"
    return label, value, f" ({check})"


def _conjugate_note(fam, constant: float, penalty) -> str:
    """What ``H = -sum A*(mu)`` is for a one-parameter family that is not a probability, and how
    the reported log-likelihood differs from ``l`` (the constant, computed by the checker)."""
    f = fam.formulas
    text = (f"H(mu) = -sum_j w_j A*(mu_j), A*(mu) = {f['A*']} the convex conjugate of the "
            f"log-partition A(eta) = {f['A']}, summed over the observations (not a Shannon "
            "entropy); at the optimum " + ("H(mu*) = -l(theta*)" if not penalty.active else
                                           "the primal objective built on it equals the dual "
                                           "objective"))
    if constant != 0:
        text += (f"; the reported log-likelihood is l(theta) + c, c = {f['constant']} = "
                 f"{constant:.10f} nats" + (f" ({f['reported']})" if f["reported"] else ""))
    return text


def _cvxpy_lines(dataset, cert, words) -> list[str]:
    """CVXPY's point and its agreement with theta: a cross-check, not a bound."""
    p, fam, penalty = cert.primal, dataset.family, cert.penalty
    pt = words["point"]
    star = f"{pt}*"
    lines = [f"  cross-check: CVXPY's {star} (feasible only to its solver's accuracy, so its "
             "value is not a bound)"]
    if np.all(np.isfinite(p.mu)):
        value = float(cert.extra["primal_objective"])
        above = value - cert.upper_bound
        within = ("within the tolerance: CVXPY's accuracy" if cert.primal_gap <= cert.tol else
                  f"beyond the tolerance {cert.tol:g}")
        where = (f"{above:.1e} above the upper bound, relative {cert.primal_gap:.1e}, {within}"
                 if above > 0 else
                 f"{-above:.1e} below the upper bound, relative {cert.primal_gap:.1e}")
        if penalty.kind in ("l2", "elasticnet"):
            lines.append(_row(f"{words['H']}({star})", float(p.entropy), "nats"))
        name = words["primal"].replace(f"{pt}~", star)
        lines.append(_row(name, value, f"nats  ({where})"))
        lines.append(_row("balance residual", f"{cert.balance_residual:.2e}",
                          f" (relative, {words['residual'].replace(pt + '~', star)})"))
        if fam.multiclass:
            lines.append(_row("simplex residual", f"{cert.simplex_residual:.2e}",
                              " (max |row sum - 1|)"))
        domain = _domain(fam, p.mu, tol=cert.tol)
        if domain is not None:
            lines.append(_row(*domain))
    if np.isfinite(cert.p_agreement):
        lines.append(_row(f"{pt} agreement", f"{cert.p_agreement:.2e}",
                          f" (max |{star} - {pt}(theta)|"
                          + ("" if fam.is_probability else f" / (1 + max |{pt}(theta)|)")
                          + f"; allowed {cert.extra['p_tol']:.1e})"))
    if np.isfinite(cert.theta_agreement):
        lines.append(_row("theta agreement", f"{cert.theta_agreement:.2e}",
                          f" (CVXPY's multipliers against theta; allowed "
                          f"{cert.extra['theta_tol']:.1e})"))
    return lines


def coefficient_table(dataset, cert, reference=None) -> list[str]:
    """The certified theta with standard errors, z, p-values and 95% intervals (normal), like
    statsmodels' summary; the coefficients alone, and why, when there are no standard errors.

    The categorical family's coefficients are contrasts against ``reference`` (the first class
    by default; :func:`dualmaxent.report.report_coefficients`, the one place that converts):
    two classes print the log-odds under the plain feature names, as statsmodels' ``Logit``.
    """
    from .report import report_coefficients

    rep = report_coefficients(dataset, cert.theta, cov=cert.covariance, reference=reference,
                              penalty=cert.penalty)
    stats = rep.inference()
    inference = stats is not None
    lines = ["  coefficients" + (f" ({rep.title})" if rep.title else ""),
             f"          {'':<24} {'coef':>11}" + (f" {'std err':>10} {'z':>8} {'P>|z|':>7} "
                                                    f"{'[0.025':>11} {'0.975]':>11}"
                                                    if inference else "")]
    for i, row in enumerate(rep.names):
        est = rep.coef[i]
        if not inference:
            lines.append(f"          {row:<24.24} {_coef(est, 11)}")
            continue
        lines.append(f"          {row:<24.24} {_coef(est, 11)} {_coef(rep.std_err[i], 10)} "
                     f"{stats['z'][i]:>8.3f} {stats['p'][i]:>7.3f} {_coef(stats['lower'][i], 11)} "
                     f"{_coef(stats['upper'][i], 11)}")
    if cert.std_err_note:
        lines.append(f"  note: {cert.std_err_note}")
    return lines


#: ``verify --trace`` prints every iterate up to this many, else this many spread in log(1 + t).
TRACE_ROWS = 60


def format_trace(trace, cert) -> list[str]:
    """The bracket ``[lower_t, upper_t]`` at the dual iterates (:mod:`dualmaxent.trace`), and
    whether every lower bound stays below the certificate's upper bound (up to round-off).

    Parameters
    ----------
    trace : BracketTrace
    cert : Certificate
        The certificate printed above it (its upper bound is the reference).

    Returns
    -------
    list of str
        One line per iterate (at most :data:`TRACE_ROWS`, spread in ``log(1 + t)``), with a
        header and the check.
    """
    n = len(trace.iteration)
    rows = list(range(n))
    if n > TRACE_ROWS:
        picks = np.unique(np.round(np.expm1(np.linspace(0.0, np.log(n), TRACE_ROWS))))
        rows = sorted(set(np.clip(picks.astype(int), 0, n - 1).tolist()) | {0, n - 1})
    lines = [f"  trace: the certified bracket lower_t <= OPT <= upper_t at each iterate theta_t "
             f"of the dual solve ({trace.method}, {n} iterates"
             + (f"; {len(rows)} shown, spread in log(1 + t); --json has all" if len(rows) < n
                else "") + ")",
             f"          {'t':>5} {'lower_t':>20} {'upper_t':>20} {'gap upper_t - lower_t':>22}"
             f"  round-off"]
    for i in rows:
        lines.append(f"          {int(trace.iteration[i]):>5} {trace.lower_bound[i] + 0.0:>20.10f} "
                     f"{trace.upper_bound[i] + 0.0:>20.10f} {trace.duality_gap[i]:>22.3e}  "
                     f"{trace.roundoff[i]:.1e}")
    below = trace.lower_bound <= cert.upper_bound + cert.roundoff + trace.roundoff
    lines.append(f"          every lower_t <= the certificate's upper bound {cert.upper_bound:.10f}"
                 f" (+ round-off): {'yes' if below.all() else 'NO'}")
    return lines


def trace_json(trace) -> dict:
    """``verify --trace --json``: the bracket at every certified iterate.

    Parameters
    ----------
    trace : BracketTrace

    Returns
    -------
    dict
        ``method``, and per iterate ``iteration``, ``lower_bound``, ``upper_bound``,
        ``duality_gap`` and ``roundoff`` (lists; null for a non-finite number).
    """
    return {"method": trace.method, "iteration": trace.iteration.tolist(),
            "lower_bound": _nums(trace.lower_bound), "upper_bound": _nums(trace.upper_bound),
            "duality_gap": _nums(trace.duality_gap), "roundoff": _nums(trace.roundoff)}


def _nums(a):
    """An array as nested lists with None for NaN (JSON has no NaN)."""
    a = np.asarray(a, dtype=np.float64)
    return [_nums(x) for x in a] if a.ndim else _num(a)


def _num(x):
    x = float(x)
    return x if np.isfinite(x) else None


def _jsonable(c):
    return c.item() if isinstance(c, np.generic) else c


def main(argv=None) -> int:
    from . import progress

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:  # a bare `dualmaxent` (or `python -m dualmaxent`)
        parser.print_help()
        return EXIT_OK
    # progress bars on a terminal only, never with --json (dualmaxent.progress)
    progress.enable(sys.stderr.isatty() and not getattr(args, "json", False))
    try:
        return args.func(args)
    except DualMaxentError as exc:
        print(f"dualmaxent: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # the reader (e.g. `| head`) left early: not an error of ours; silence the final flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        print(f"dualmaxent: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
