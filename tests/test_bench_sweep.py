"""``dualmaxent bench --sweep``: its structure on tiny sizes, and its one precision measure.

No speed is asserted here: the sweep is a benchmark, run by hand (docs/performance.md, "The sweep: estimators where users fit").
"""

import warnings

import numpy as np
import pytest
import scipy.optimize

pytest.importorskip("sklearn")

from dualmaxent import Dataset, certify  # noqa: E402
from dualmaxent import bench  # noqa: E402
from dualmaxent import bench_sweep as bs  # noqa: E402
from dualmaxent.cli import build_parser, cmd_bench  # noqa: E402


def _scipy_optimum(X, y, C):
    """Binary logistic regression with L2 (C) by scipy's trust-region Newton, to machine
    precision: the known optimum the precision measure must call precise."""
    X1 = np.column_stack([X, np.ones(len(y))])
    t = (y == y.max()).astype(float)
    pen = np.r_[np.ones(X.shape[1]), 0.0] / C

    def f(w):
        eta = X1 @ w
        return np.sum(np.logaddexp(0, eta) - t * eta) + 0.5 * np.sum(pen * w * w)

    def g(w):
        return X1.T @ (1 / (1 + np.exp(-(X1 @ w))) - t) + pen * w

    def h(w):
        p = 1 / (1 + np.exp(-(X1 @ w)))
        return (X1 * (p * (1 - p))[:, None]).T @ X1 + np.diag(pen)

    res = scipy.optimize.minimize(f, np.zeros(X1.shape[1]), jac=g, hess=h, method="trust-exact",
                                  options={"gtol": 1e-13})
    w = res.x
    for _ in range(2):  # Newton polish
        w = w - np.linalg.solve(h(w), g(w))
    return w[:-1][None, :], w[-1:]


def test_the_precision_of_a_known_optimum_is_below_1e_8_and_a_perturbed_one_is_not():
    X, y = bs.make_data(400, 4, 2, seed=3)
    coef, intercept = _scipy_optimum(X, y, C=1.0)
    assert bs.relative_gradient(X, y, coef, intercept, C=1.0) < 1e-8
    assert bs.relative_gradient(X, y, coef + 1e-3, intercept, C=1.0) > 1e-5


@pytest.mark.parametrize("k,C", [(2, 1.0), (2, None), (3, 1.0), (3, None)])
def test_the_precision_is_certify_s_dual_gradient(k, C):
    X, y = bs.make_data(300, 3, k, seed=5)
    rng = np.random.default_rng(0)
    q = 1 if k == 2 else k
    coef, intercept = rng.normal(scale=0.3, size=(q, 3)), rng.normal(scale=0.3, size=q)
    theta = np.vstack([coef.T, intercept[None, :]])
    if k == 2:
        ds, theta = Dataset.from_arrays(X, y, family="bernoulli"), theta[:, 0]
    else:
        ds = Dataset.from_arrays(X, y)
    expected = certify(ds, theta, l2=None if C is None else 1 / C).dual_gradient
    assert bs.relative_gradient(X, y, coef, intercept, C) == pytest.approx(expected, rel=1e-9)


def test_ours_and_scikit_learn_minimise_the_same_objective():
    from sklearn.linear_model import LogisticRegression

    from dualmaxent import MaxEntClassifier

    X, y = bs.make_data(300, 3, 3, seed=2)
    ours = MaxEntClassifier(C=1.0, tol=1e-12).fit(X, y)
    theirs = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)
    f_ours = bs.objective(X, y, ours.coef_, ours.intercept_, 1.0)
    f_theirs = bs.objective(X, y, theirs.coef_, theirs.intercept_, 1.0)
    assert f_ours == pytest.approx(f_theirs, rel=1e-10)
    assert bs.objective(X, y, ours.coef_ * 1.01, ours.intercept_, 1.0) > f_ours


def test_the_quick_path_on_tiny_sizes_has_a_time_and_a_precision_everywhere(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bs.run_sweep(ns=(300,), ks=(2, 3), ms=(3,), real=(), sklearnex=False,
                           gridsearch=False, repeats=1, out=tmp_path,
                           prediction_sizes=((500, 3, 4),))
    rows = res["rows"]
    assert {r["library"] for r in rows} == {"dualmaxent", "sklearn", "glum"}
    assert {r["penalty"] for r in rows} == {"L2", "none"}
    assert not any(r["library"] == "glum" and r["k"] != 2 for r in rows)
    for r in rows:
        assert r["seconds"] > 0 and np.isfinite(r["precision"]) and r["precision"] >= 0
    assert any(n.startswith("not run: sklearnex") for n in res["notes"])
    assert len(res["summary"]) == 4 * len(bs.LEVELS)  # (k, penalty) jobs x levels
    for e in res["summary"]:
        assert e["dualmaxent"] is not None and e["dualmaxent"]["precision"] <= e["level"]
        if e["ratio"] is not None:
            assert e["ratio"] > 0 and e["ratio_sklearn"] > 0
        spread = e["objective_spread"]  # the runs at or below 1e-8 found one optimum
        assert spread is not None and spread < 1e-8
    assert res["certificate"]["all_ok"] and res["certificate"]["not_ok"] == []
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    # the machine the ratios were measured on: its CPU and the BLAS kernels it picked
    machine = res["machine"]
    assert machine["cpu"] == bench.cpu_model() and machine["cpu"].strip()
    try:  # (Linux: the first "model name" line of /proc/cpuinfo)
        with open("/proc/cpuinfo") as f:
            named = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
    except OSError:
        named = []
    if named:
        assert machine["cpu"] == named[0]
    from threadpoolctl import threadpool_info
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            assert str(lib.get("architecture")) in machine["blas"]
    text = bs.format_sweep(res["summary"])
    assert "synthetic n=3e2 k=3 m=3 L2" in text and "ratio" in text
    # the predictions of the same coefficients: one row per method, the answers the same
    pred = res["prediction"]
    assert [r["method"] for r in pred] == list(bs.PREDICTION_METHODS)
    for r in pred:
        assert r["job"] == "n=5e2 k=3 m=4" and r["dualmaxent"] > 0 and r["sklearn"] > 0
        assert r["ratio"] == r["dualmaxent"] / r["sklearn"]
        assert r["differ"] == 0 if r["method"] == "predict" else r["differ"] < 1e-12
    assert "n=5e2 k=3 m=4: decision_function" in bs.format_prediction(pred)


def test_a_slow_contender_is_skipped_and_a_needless_tolerance_is_not_run():
    X, y = bs.make_data(200, 3, 2, seed=1)
    job = bs._job("synthetic", 200, 2, 3, "l2")
    fits = bs.contenders("sklearn")
    history = {("sklearn lbfgs tol=1e-04", bs._key(job)): (20, 5.0)}  # predicts 50 s
    rows, notes = bs.run_job(job, X, y, fits, history, max_seconds=10.0, repeats=1)
    names = {r["contender"] for r in rows}
    assert "sklearn lbfgs tol=1e-04" not in names
    assert any("lbfgs tol=1e-04" in n and "skipped (predicted 50 s" in n for n in notes)
    assert "sklearn newton-cholesky tol=1e-12" not in names  # 1e-8 reached it already
    assert any("newton-cholesky tol=1e-12" in n and "not needed" in n for n in notes)


def test_the_cli_flag_dispatches_to_the_sweep(monkeypatch):
    args = build_parser().parse_args(["bench", "--sweep", "--quick", "--json"])
    assert args.sweep and args.quick and args.json
    called = {}
    monkeypatch.setattr(bs, "main_sweep", lambda a: called.setdefault("args", a) and 0)
    assert cmd_bench(args) == 0 and called["args"] is args


def test_from_1e5_a_dominated_run_is_pruned_and_stays_pruned_while_its_time_says_so():
    import time

    X, y = bs.make_data(200, 3, 2, seed=1)
    coef, intercept = _scipy_optimum(X, y, C=1.0)

    def fake(seconds):  # a contender that takes a known time and lands on the optimum
        def fit(X, y, C):
            time.sleep(seconds)
            return coef, intercept, 1, {}
        return fit

    fits = {"sklearn lbfgs tol=1e-04": fake(0.05), "sklearn lbfgs tol=1e-08": fake(0.005)}
    job = bs._job("synthetic", 100_000, 2, 3, "l2")
    key = bs._key(job)
    history = {("runs", key): {"n": 10_000, "rows": [
        ("sklearn lbfgs tol=1e-04", 1.0, 1e-5), ("sklearn lbfgs tol=1e-08", 0.2, 1e-9)]},
        ("sklearn lbfgs tol=1e-04", key): (10_000, 1.0)}
    rows, notes = bs.run_job(job, X, y, fits, history, max_seconds=60.0, repeats=1)
    assert [r["contender"] for r in rows] == ["sklearn lbfgs tol=1e-08"]
    assert any("lbfgs tol=1e-04" in n and "dominated" in n for n in notes)
    bigger = bs._job("synthetic", 1_000_000, 2, 3, "l2")
    rows, notes = bs.run_job(bigger, X, y, fits, history, max_seconds=1e6, repeats=1)
    assert [r["contender"] for r in rows] == ["sklearn lbfgs tol=1e-08"]  # 1e-4: 10 s scaled
    assert any("lbfgs tol=1e-04" in n and "scaled" in n for n in notes)


def test_the_sweeps_separation_check_prints_no_warning_and_agrees_with_the_lp():
    """The sweep's labels are class codes: its separation check warns of no counts, and its
    verdict is Albert & Anderson's linear program's (the reference in tests/_sweep.py)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _sweep import reference_separated

    for n, m, k in ((100, 10, 10), (100, 2, 10), (60, 3, 3)):
        X, y = bs.make_data(n, m, k)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            verdict = bs._separated(X, y)
        assert verdict == reference_separated(X, y)


def test_the_headline_bench_s_synthetic_classes_warn_of_no_counts():
    """``dualmaxent bench``'s synthetic data: ten classes coded 0..9 are classes by
    construction; building them prints no count warning between the benchmark's lines."""
    from dualmaxent import bench

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = bench.synthetic(200, 6, 10, seed=1)
    assert ds.k == 10 and ds.family.multiclass


def test_every_run_reports_its_cpu_time_and_a_run_on_several_cores_is_named(monkeypatch):
    from threadpoolctl import threadpool_limits

    X, y = bs.make_data(300, 3, 2, seed=4)
    fits = bs.contenders("sklearn")
    name = next(iter(fits))
    # one thread, as the sweep runs every contender (without the limit scikit-learn's BLAS and
    # OpenMP may take both cores: 57 ms of CPU in 37 of wall clock, once, in CI)
    with threadpool_limits(limits=1):
        rows, _ = bs.run_job(bs._job("synthetic", 300, 2, 3, False), X, y, {name: fits[name]},
                             {}, max_seconds=60.0, repeats=2, budget=10.0)
    row = rows[0]
    # the CPU time of the fastest run is within its wall clock (and the clocks' resolution, a
    # few milliseconds at most)
    assert 0 < row["cpu_seconds"] <= row["seconds"] + 0.01
    rows = [{"contender": "one core", "label": "job a", "seconds": 0.5, "cpu_seconds": 0.55},
            {"contender": "two cores", "label": "job a", "seconds": 0.5, "cpu_seconds": 0.9},
            {"contender": "two cores", "label": "job b", "seconds": 0.5, "cpu_seconds": 0.98},
            {"contender": "too short", "label": "job a", "seconds": 0.001, "cpu_seconds": 0.01}]
    notes = bs._multicore_notes(rows)
    assert len(notes) == 1 and notes[0].startswith("two cores: ran on more than one core")
    assert "2.0x" in notes[0] and "job b" in notes[0]


def test_a_run_reports_the_answer_of_its_fastest_repeat():
    """The row's extras (ours: the certificate's seconds) are those of the run whose time it
    reports, not of the last repeat: a slow last repeat made a certificate "157 % of the fit"."""
    import time as _time

    X, y = bs.make_data(60, 2, 2, seed=5)
    calls = []

    def fit(X, y, C):
        calls.append(len(calls))
        _time.sleep(0.0 if len(calls) == 2 else 0.05)  # the second of three is the fastest
        coef, intercept = np.zeros((1, X.shape[1])), np.zeros(1)
        return coef, intercept, len(calls), {"cert_seconds": float(len(calls))}

    rows, _ = bs.run_job(bs._job("synthetic", 60, 2, 2, False), X, y, {"fake": fit}, {},
                         max_seconds=60.0, repeats=3, budget=10.0)
    row = rows[0]
    assert len(calls) == 3 and row["repeats"] == 3
    assert row["seconds"] < 0.05 and row["iterations"] == 2 and row["cert_seconds"] == 2.0


def test_a_run_of_ours_whose_certificate_is_not_ok_is_not_counted():
    """An uncertified fit of ours does not stand for us at any level, however fast and precise;
    the certificate's summary names it."""
    base = {"label": "j", "data": "synthetic", "n": 10, "k": 2, "m": 2, "penalty": "L2",
            "objective": 1.0}
    rows = [dict(base, contender="dualmaxent tol=1e-04", library="dualmaxent", seconds=0.1,
                 precision=1e-9, cert_seconds=0.01, cert_ok=False),
            dict(base, contender="dualmaxent default", library="dualmaxent", seconds=0.3,
                 precision=1e-11, cert_seconds=0.01, cert_ok=True),
            dict(base, contender="sklearn lbfgs tol=1e-08", library="sklearn", seconds=0.2,
                 precision=1e-9)]
    for e in bs.summarise(rows):
        assert e["dualmaxent"]["contender"] == "dualmaxent default"
        assert e["ratio"] == pytest.approx(1.5)
    share = bs.certificate_share(rows)
    assert not share["all_ok"] and share["not_ok"] == ["j, dualmaxent tol=1e-04"]


def test_a_job_repeats_its_contenders_round_by_round():
    """Each contender runs once a round: a slow spell of the machine (here the first three
    calls) costs each contender a run, not the first contender all of its repeats, and every
    row reports its fastest run with that run's own answer."""
    import time as _time

    X, y = bs.make_data(60, 2, 2, seed=6)
    calls = []

    def fake(name):
        def fit(X, y, C):
            calls.append(name)
            _time.sleep(0.05 if len(calls) <= 3 else 0.0)  # the slow spell
            return (np.zeros((1, X.shape[1])), np.zeros(1), len(calls),
                    {"cert_seconds": float(len(calls))})
        return fit

    fits = {"fake a": fake("a"), "fake b": fake("b")}
    job = bs._job("synthetic", 60, 2, 2, True)
    rows, notes = bs.run_job(job, X, y, fits, {}, max_seconds=60.0, repeats=3, budget=10.0)
    assert calls == ["a", "b", "a", "b", "a", "b"] and not notes
    by = {r["contender"]: r for r in rows}
    assert all(r["repeats"] == 3 and r["seconds"] < 0.05 for r in rows)
    # the fastest runs' own answers: a's only fast run is the fifth call; b's one of its two
    assert by["fake a"]["iterations"] == 5 and by["fake a"]["cert_seconds"] == 5.0
    assert by["fake b"]["iterations"] in (4, 6)
    assert by["fake b"]["cert_seconds"] == by["fake b"]["iterations"]


def test_the_peer_subprocess_runs_each_job_when_sent_and_names_its_failure():
    """The peer library runs in a subprocess one job at a time, when the parent sends it (the
    sweep sends each job right after its own runs of it): here stock scikit-learn unpatched,
    as sklearnex would run. Its rows are its own fits of the parent's data (the fingerprint
    checked), judged by the same precision; a subprocess that cannot run says why."""
    X, y = bs.make_data(120, 3, 2)
    job = {**bs._job("synthetic", 120, 2, 3, True), "fingerprint": bs._fingerprint(X, y)}
    peer = bs._Peer("sklearn", max_seconds=60.0, repeats=1, budget=5.0, blas_threads=1)
    try:
        assert peer.failed is None
        rows, notes, done = peer.run(job)
        assert done.startswith(job["label"]) and f"{len(rows)} sklearn runs" in done
        assert {r["contender"] for r in rows} <= set(bs.contenders("sklearn"))
        lbfgs = next(r for r in rows if r["contender"] == "sklearn lbfgs tol=1e-04")
        here = bs.contenders("sklearn")["sklearn lbfgs tol=1e-04"](X, y, bs.C_L2)
        assert lbfgs["precision"] == pytest.approx(
            bs.relative_gradient(X, y, here[0], here[1], bs.C_L2), rel=1e-6, abs=1e-12)
        # another data set under the same label: refused, not timed
        rows, notes, done = peer.run({**job, "fingerprint": [0.0]})
        assert rows == [] and any("built different data" in n for n in notes) and done
    finally:
        peer.close()
    broken = bs._Peer("no such library", max_seconds=60.0, repeats=1, budget=5.0,
                      blas_threads=1)
    try:
        assert broken.failed and "no such library" in broken.failed
        assert broken.run(job) == ([], [], None)
    finally:
        broken.close()


def test_the_sklearnex_subprocess_limits_onedals_own_threads(monkeypatch):
    """oneDAL's TBB pool is not one that threadpoolctl sees: the child sets it through
    ``daal4py.daalinit`` (a stand-in module records the call here)."""
    import sys
    import types

    calls = []
    monkeypatch.setitem(sys.modules, "daal4py",
                        types.SimpleNamespace(daalinit=lambda k: calls.append(k)))
    limiter = bs._thread_limit(1, onedal=True)
    try:
        assert calls == [1]
        from threadpoolctl import threadpool_info

        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    finally:
        limiter.restore_original_limits()
    assert bs._thread_limit(None, onedal=True) is None and calls == [1]
