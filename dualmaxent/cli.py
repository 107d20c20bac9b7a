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


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2)."""

    def error(self, message):  # noqa: D401 - argparse's hook
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _add_problem_arguments(parser) -> None:
    """The options that define the problem (the CSV's columns, the family, the penalty), shared
    by ``verify`` and ``certify``."""
    from .families import FAMILIES

    parser.add_argument("--target", help="the CSV's response column (default: the last column)")
    parser.add_argument("--features",
                        help="comma-separated feature columns (default: all others)")
    parser.add_argument("--weights", help="a CSV column of frequency weights")
    parser.add_argument("--no-intercept", action="store_true",
                        help="do not append an intercept")
    parser.add_argument("--family", default="categorical", choices=list(FAMILIES),
                        help="the canonical GLM family (default: categorical)")
    pen = parser.add_mutually_exclusive_group()
    pen.add_argument("--l2", type=_positive_float, metavar="LAMBDA", help="L2 penalty")
    pen.add_argument("--l1", type=_positive_float, metavar="LAMBDA", help="L1 penalty")
    parser.add_argument("--l1-ratio", type=_unit_float, metavar="A", help="with --l1 LAMBDA: "
                        "the elastic net LAMBDA (A |theta|_1 + (1 - A)/2 |theta|^2), A in [0, 1]")


def build_parser() -> argparse.ArgumentParser:
    from .dual import METHODS
    from .families import FAMILIES

    parser = _Parser(prog="dualmaxent", description="Logistic regression is a maximum-entropy "
                     "model: solve the primal and the dual, and certify their duality.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"dualmaxent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    v = sub.add_parser("verify", help="solve primal and dual and print the duality certificate",
                       description="Solve the max-entropy primal (CVXPY) and the likelihood dual "
                       "(numpy/scipy) and certify strong duality. Exit code 0 when the certificate"
                       " is ok, 1 when it is not, 2 for bad input.")
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
    v.add_argument("--tol", type=_positive_float, default=1e-6,
                   help="tolerance of the certificate (default: 1e-6)")
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
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.set_defaults(func=cmd_verify)

    c = sub.add_parser("certify", help="certify given coefficients (COEF.csv) on a data set",
                       description="Certify the coefficients in COEF.csv, from any solver or "
                       "library, against the problem of DATA: a proved bracket of the optimum "
                       "and how many nats theta is from it. Exit code 0 when the certificate "
                       "is ok, 1 when it is not, 2 for bad input.")
    c.add_argument("data", help="a built-in data set (blobs, iris), a CSV path, or - for a CSV "
                   "on standard input")
    c.add_argument("--coef", required=True, metavar="COEF.csv",
                   help="one row per feature (first column its name, intercept included), one "
                   "column per class headed by its label (one column for the one-parameter "
                   "families)")
    _add_problem_arguments(c)
    c.add_argument("--tol", type=_positive_float, default=1e-6,
                   help="tolerance of the certificate (default: 1e-6)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=cmd_certify)

    f = sub.add_parser("figures", help="regenerate every comparison figure",
                       description="Regenerate every figure into a folder (default: figures/).")
    f.add_argument("--out", default="figures", help="output folder (default: figures)")
    f.add_argument("--only", help="comma-separated figure names (default: all)")
    f.set_defaults(func=cmd_figures)

    b = sub.add_parser("bench", help="benchmark the solvers against scikit-learn, statsmodels, "
                       "glum", description="Time the dual and primal solvers against reference "
                       "libraries; every row is certified by the verifier.")
    b.add_argument("--quick", action="store_true", help="small sizes (under two minutes)")
    b.add_argument("--out", default="figures", help="folder for scaling.png (default: figures)")
    b.add_argument("--json", action="store_true", help="print the table as JSON")
    b.add_argument("--scale", action="store_true", help="the scale benchmark instead: verify "
                   "at n = 2e5 and 1e6, and the Dask engine against numpy at n = 1e6 "
                   "(pip install \".[dask]\")")
    b.add_argument("--sweep", action="store_true", help="the sweep instead: MaxEntClassifier.fit "
                   "(certificate included) against LogisticRegression, scikit-learn-intelex and "
                   "glum over n = 1e2..1e6, k = 2, 3, 10, m = 10, 50 and two real sets, at equal "
                   "precision (about 15 minutes; --quick: n <= 1e4); writes sweep.png")
    b.set_defaults(func=cmd_bench)
    return parser


def cmd_figures(args) -> int:
    from .figures import main_figures  # matplotlib is imported only here

    return main_figures(args)


def cmd_bench(args) -> int:
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


def cmd_verify(args) -> int:
    from .verify import verify

    if args.engine == "dask":
        return _verify_dask(args)
    if args.scheduler or args.workers:
        raise DualMaxentError("--scheduler and --workers need --engine dask")
    dataset = load_from_args(args)
    cert = verify(dataset, primal=args.primal, tol=args.tol, solver=args.solver,
                  gauge=args.gauge, method=args.method, l2=args.l2, l1=args.l1,
                  l1_ratio=args.l1_ratio)
    return _print_certificate(args, dataset, cert)


def _verify_dask(args) -> int:
    """``verify --engine dask``: read chunk by chunk, solve and certify on a Dask cluster."""
    from .distributed import dask_client, read_csv, read_parquet
    from .verify import verify_dask

    unsupported = [(args.l1, "--l1 (its solver needs the data in memory)"),
                   (args.l1_ratio is not None, "--l1-ratio (it goes with --l1)"),
                   (args.primal == "cvxpy", "--primal cvxpy (CVXPY does not run at this scale)"),
                   (args.method != "auto", "--method (the engine runs Newton)")]
    for given, what in unsupported:
        if given:
            raise DualMaxentError(f"--engine dask does not support {what}")
    if not args.target:
        raise DualMaxentError("--engine dask needs --target (the response column)")
    if args.workers is not None and args.workers < 1:
        raise DualMaxentError(f"--workers must be at least 1; got {args.workers}")
    path = str(args.data)
    reader = read_csv if path.lower().endswith(".csv") else read_parquet
    features = ([f.strip() for f in args.features.split(",") if f.strip()]
                if args.features else None)
    with dask_client(args.scheduler, args.workers) as client:
        dataset = reader(path, target=args.target, features=features, weights=args.weights,
                         family=args.family, intercept=not args.no_intercept)
        cert = verify_dask(dataset, tol=args.tol, l2=args.l2, client=client)
        return _print_certificate(args, dataset, cert)


def cmd_certify(args) -> int:
    """``certify DATA --coef COEF.csv``: the checker alone, at the coefficients given."""
    from .adapters import read_coef_csv
    from .certify import certify

    dataset = load_from_args(args)
    theta = read_coef_csv(args.coef, dataset)
    cert = certify(dataset, theta, l2=args.l2, l1=args.l1, l1_ratio=args.l1_ratio,
                   tol=args.tol, source=f"given ({args.coef})")
    return _print_certificate(args, dataset, cert)


def _print_certificate(args, dataset, cert) -> int:
    if args.json:
        print(json.dumps(certificate_json(dataset, cert), indent=2))
    else:
        print(format_certificate(dataset, cert))
    return EXIT_OK if cert.ok else EXIT_NOT_OK


def certificate_json(dataset, cert) -> dict:
    """The certificate as a JSON-ready dict (keys documented in the README)."""
    p, d, pp = cert.primal, cert.dual, cert.projected
    sep = cert.separation
    std_err = cert.std_err
    out = {
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
        "dual": None if d is None else {
            "method": d.method, "converged": d.converged, "status": d.status,
            "iterations": d.iterations, "solve_seconds": d.solve_seconds,
        },
        "projected": {
            "entropy": _num(pp.entropy), "lower_bound": _num(pp.lower_bound),
            "upper_bound": _num(pp.upper_bound), "duality_gap": _num(pp.duality_gap),
            "roundoff": _num(pp.roundoff), "balance_residual": _num(pp.balance_residual),
            "min_entry": _num(pp.newton_min_entry), "in_domain": pp.in_domain,
            "segment": pp.segment,
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
            "iterations": p.iterations, "solve_seconds": p.solve_seconds,
            "compile_seconds": p.compile_seconds,
        })
    # the penalised objectives, then (separated data) the supremum and the LP's check, then
    # the log-likelihood's constants: the keys of the README, in its order
    extra = dict(cert.extra)
    figures = {key: extra.pop(key) for key in ("primal_objective", "dual_objective")}
    if cert.separation_check is not None:
        figures.update(dataclasses.asdict(cert.separation_check))
    figures.update(extra)
    for key, value in figures.items():
        if isinstance(value, (int, float, str, bool)) or value is None:
            out["certificate"].setdefault(key, _num(value) if isinstance(value, float) else value)
    return out


def format_certificate(dataset, cert) -> str:
    """The human-readable certificate."""
    p, d, pp = cert.primal, cert.dual, cert.projected
    penalty = cert.penalty
    classes = ", ".join(str(c) for c in dataset.classes)
    command = "verify" if d is not None else "certify"
    head = (f"dualmaxent {command}: {dataset.name} ({dataset.family.name}"
            f"{', penalty ' + penalty.describe() if penalty.active else ''}; "
            f"n={dataset.n}, m={dataset.m}" + (f", k={dataset.k}: {classes}" if classes else "")
            + (f", rank {cert.rank}" if 0 <= cert.rank < dataset.m else "") + ")")
    H = ("entropy H(P*)" if dataset.family.multiclass else "primal H(mu*) = -sum A*(mu*)")
    lines = [head, f"  theta   {cert.source}"
             + (f", {d.solve_seconds:.3f} s" if d is not None else "")]
    lines.append(f"  primal  {cert.primal_solver}: {cert.primal_reason}")
    if p is not None:
        lines += [
            f"          {p.solver}, gauge {p.gauge}: status {p.status}"
            + (f", {p.iterations} iterations" if p.iterations is not None else "")
            + f", {p.solve_seconds:.3f} s solve + {p.compile_seconds:.3f} s compile",
            f"          {H:<30} {p.entropy:.10f} nats",
        ]
    lines += ["  at theta",
              f"          {'-l(theta)':<30} {-cert.extra['canonical_loglik']:.10f} nats"]
    if penalty.active:
        label = {"l2": "-(l - lam/2 |theta|^2)", "l1": "-(l - lam |theta|_1)"}.get(
            penalty.kind, "-(l - elastic-net penalty)")
        lines.append(f"          {label:<30} {cert.upper_bound:.10f} nats")
    if cert.extra["loglik_constant"] != 0:
        lines.append(f"          {'reported log-likelihood':<30} {-cert.neg_loglik:.10f} nats")
    lines.append(f"          {'dual gradient':<30} {cert.dual_gradient:.2e}  (round-off budget "
                 f"{cert.gradient_roundoff:.1e})")
    point = "primal at mu~" if pp.segment >= 1 else f"primal at Y + {pp.segment:.3g} (mu~ - Y)"
    lines += [
        f"  certificate (tolerance {cert.tol:g})",
        f"          {'lower bound (' + point + ')':<30} {cert.lower_bound:.10f} nats",
        f"          {'upper bound (dual at theta)':<30} {cert.upper_bound:.10f} nats",
        f"          {'duality gap':<30} {cert.duality_gap:+.2e}  (relative "
        f"{cert.relative_gap:.2e}, round-off {cert.roundoff:.1e})",
        f"          {'theta is within':<30} {cert.within:.2e} nats of the optimum",
        f"          {'balance residual':<30} {cert.balance_residual:.2e}",
    ]
    if dataset.family.multiclass:
        lines.append(f"          {'simplex residual':<30} {cert.simplex_residual:.2e}")
    if p is not None:
        lines += [
            f"          {'CVXPY gap':<30} {cert.primal_gap:.2e}",
            f"          {'P agreement':<30} {cert.p_agreement:.2e}  (allowed "
            f"{cert.extra['p_tol']:.1e})",
            f"          {'theta agreement':<30} {cert.theta_agreement:.2e}  (allowed "
            f"{cert.extra['theta_tol']:.1e})",
        ]
    lines.append(f"          {'optimum attained':<30} {'yes' if cert.attained else 'no'}")
    if cert.separation is not None and cert.separation.separated:
        # one sentence: what the separation is, and what was certified instead of a maximiser
        outcome = (f"matches the likelihood's supremum to {abs(cert.duality_gap):.0e}" if cert.ok
                   else "could not be matched with the likelihood's supremum (see the verdict)")
        lines.append(f"  note: {cert.separation.describe(dataset)}; the max-entropy optimum "
                     f"exists and {outcome}")
    lines += coefficient_table(dataset, cert)
    said = cert.separation.describe(dataset) if cert.separation is not None else None
    lines += [f"  note: {note}" for note in cert.notes if not (said and note.startswith(said))]
    lines.append(f"verdict: {cert.verdict}")
    return "\n".join(lines)


def coefficient_table(dataset, cert) -> list[str]:
    """The certified theta with standard errors, z, p-values and 95% intervals (normal), like
    statsmodels' summary; the coefficients alone, and why, when there are no standard errors."""
    from scipy.stats import norm

    theta, se = np.asarray(cert.theta), cert.std_err
    inference = se is not None
    classes = list(dataset.classes) if dataset.family.multiclass else [None]
    theta = theta.reshape(dataset.m, -1)
    se = np.asarray(se).reshape(dataset.m, -1) if inference else None
    lines = [f"  coefficients{' (the last class is the reference)' if classes[0] is not None else ''}",
             f"          {'':<24} {'coef':>11}" + (f" {'std err':>10} {'z':>8} {'P>|z|':>7} "
                                                    f"{'[0.025':>11} {'0.975]':>11}"
                                                    if inference else "")]
    for c, label in enumerate(classes):
        if label is not None and c == len(classes) - 1:
            break  # the reference class: pinned at zero by the gauge
        for r, name in enumerate(dataset.feature_names):
            est = theta[r, c]
            row = name if label is None else f"{name}[{label}]"
            if not inference:
                lines.append(f"          {row:<24.24} {est:>11.4f}")
                continue
            s_ = se[r, c]
            z = est / s_ if s_ > 0 else np.nan
            lines.append(f"          {row:<24.24} {est:>11.4f} {s_:>10.4f} {z:>8.3f} "
                         f"{2 * norm.sf(abs(z)):>7.3f} {est - 1.959964 * s_:>11.4f} "
                         f"{est + 1.959964 * s_:>11.4f}")
    if cert.std_err_note:
        lines.append(f"  note: {cert.std_err_note}")
    return lines


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
