"""Input a new user would try: a CSV on standard input, non-integer numbers as the target with
the default family, and features too large for float64 arithmetic."""

import io
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import dualmaxent
from dualmaxent import Dataset, verify
from dualmaxent.cli import main
from dualmaxent.exceptions import DataError, ScaleWarning, SingularHessianWarning, TargetWarning


def _csv(X, y, names=("f1", "f2")):
    lines = [",".join([*names, "y"])]
    lines += [",".join(f"{v:.17g}" for v in row) + f",{t}" for row, t in zip(X, y)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def overlapping():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=120) > 0).astype(int)
    return X, y


def test_a_csv_on_standard_input(overlapping, tmp_path):
    X, y = overlapping
    text = _csv(X, y)
    piped = subprocess.run([sys.executable, "-m", "dualmaxent.cli", "verify", "-", "--json"],
                           input=text, capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    path = tmp_path / "same.csv"
    path.write_text(text)
    from_file = subprocess.run([sys.executable, "-m", "dualmaxent.cli", "verify", str(path),
                                "--json"], capture_output=True, text=True)
    doc, ref = json.loads(piped.stdout), json.loads(from_file.stdout)
    assert doc["dataset"]["name"] == "stdin" and doc["dataset"]["n"] == len(y)
    assert doc["theta"]["values"] == ref["theta"]["values"]


def test_bad_standard_input_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["verify", "-"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dualmaxent: error:") and "is empty" in err and err.count("\n") == 1


def test_non_integer_targets_warn_with_the_count_and_the_gaussian_suggestion(overlapping):
    X, _ = overlapping
    values = np.round(X[:, 0] * 3, 1) + 0.05  # 0.05, 1.75, ...: measurements, not labels
    distinct = len(np.unique(values))
    with pytest.warns(TargetWarning, match=f"the target has {distinct} distinct non-integer "
                      "values, each taken as a class; they look continuous: for a regression "
                      "use family='gaussian'"):
        Dataset.from_arrays(X, values)
    with pytest.warns(TargetWarning) as record:  # two values: maybe a coding of two classes
        Dataset.from_arrays(X, np.where(values > 0, 0.5, 1.5))
    assert "2 distinct" in str(record[0].message) and "gaussian" not in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # integers, and the gaussian family: no warning
        Dataset.from_arrays(X, (values > 0).astype(float))
        Dataset.from_arrays(X, values, family="gaussian")


def test_many_non_negative_integer_levels_warn_and_suggest_the_poisson_family(overlapping):
    """COUNT_LEVELS distinct non-negative integers look like counts; fewer, negative or
    non-integer values, another family, or a classifier (whose targets are labels) do not."""
    from dualmaxent import MaxEntClassifier
    from dualmaxent.data import COUNT_LEVELS
    from dualmaxent.exceptions import CountTargetWarning

    X, _ = overlapping
    n = len(X)
    counts = np.arange(n) % COUNT_LEVELS  # 0, 1, ..., COUNT_LEVELS - 1
    for y in (counts, counts.astype(float)):
        with pytest.warns(CountTargetWarning, match=f"the target has {COUNT_LEVELS} distinct "
                          f"non-negative integer values \\(0 to {COUNT_LEVELS - 1}\\), each "
                          "taken as a class; if they are counts, use family='poisson' "
                          "\\(--family poisson\\)"):
            Dataset.from_arrays(X, y)
    assert issubclass(CountTargetWarning, TargetWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dataset.from_arrays(X, np.arange(n) % (COUNT_LEVELS - 1))  # too few levels
        Dataset.from_arrays(X, counts - 3)  # negative values: labels, not counts
        Dataset.from_arrays(X, counts, family="poisson")
        MaxEntClassifier().fit(X, counts)  # a classifier's target is labels by definition


def test_the_cli_prints_the_target_warning_on_stderr_as_one_line(overlapping, tmp_path, capsys):
    X, _ = overlapping
    y = np.array([0.5, 1.7, 2.2])[np.arange(len(X)) % 3]
    path = tmp_path / "measured.csv"
    path.write_text(_csv(X, y))
    main(["verify", str(path), "--json"])
    out, err = capsys.readouterr()
    assert err == ("dualmaxent: warning: the target has 3 distinct non-integer values, each taken"
                   " as a class; they look continuous: for a regression use family='gaussian' "
                   "(--family gaussian)\n")
    assert json.loads(out)["dataset"]["k"] == 3
    assert main(["verify", str(path), "--family", "gaussian", "--json"]) == 0
    assert capsys.readouterr().err == ""


def test_features_too_large_for_float64_are_refused_naming_the_scale(overlapping, tmp_path):
    X, y = overlapping
    big = X * np.array([1.0, 1e200])
    with pytest.raises(DataError, match="the features' scale is the cause: column 'x2' reaches "
                       r"\d\.\de\+200 .* standardise it") as info:
        Dataset.from_arrays(big, y)
    assert "\n" not in str(info.value)
    path = tmp_path / "big.csv"
    path.write_text(_csv(big, y))
    proc = subprocess.run([sys.executable, "-m", "dualmaxent.cli", "verify", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "the features' scale is the cause: column 'f2'" in proc.stderr


def test_features_of_very_different_sizes_warn_before_any_solver_runs(overlapping):
    X, y = overlapping
    with pytest.warns(ScaleWarning, match="the features' scales differ by a factor 1e\\+12 "
                      "\\(column 'x2' against 'intercept'\\).*standardising the features helps"):
        Dataset.from_arrays(X * np.array([1.0, 1e-12]), y)
    # a factor 1e6 is no trouble: no warning, a certificate, and rescaling a feature rescales
    # its row of theta inversely
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScaleWarning)
        scaled = verify(Dataset.from_arrays(X * np.array([1.0, 1e6]), y))
    unit = verify(Dataset.from_arrays(X, y))
    assert unit.ok and scaled.ok, scaled.messages
    np.testing.assert_allclose(scaled.dual.theta[1] * 1e6, unit.dual.theta[1], rtol=1e-8)


# -- complex numbers: refused with the column named, never silently made real ----------------

def _unchanged(*pairs):
    for before, after in pairs:
        assert np.asarray(after).dtype == before.dtype
        np.testing.assert_array_equal(np.asarray(after), before)


def _complex_inputs():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + rng.normal(size=40) > 0).astype(int)
    Xc = X.astype(complex)
    Xc[6, 1] += 2j
    Xc[9, 1] -= 1j
    return X, y, Xc


@pytest.mark.parametrize("which, match", [
    ("X", r"X must be real; found complex values in column 'x2' \(2 entries with a nonzero "
          r"imaginary part, the first at row 7\)"),
    ("X zero imaginary", r"X must be real; got complex numbers \(dtype complex128\), though "
                         r"their imaginary parts are all zero: pass X.real"),
    ("X objects", r"X must be real; found complex values in column 'x2' \(1 entry .* row 7\)"),
    ("y", r"y must be real; found complex values \(1 entry with a nonzero imaginary part, the "
          r"first at row 4\)"),
    ("weights", r"weights must be real; found complex values \(1 entry .* row 2\)"),
])
def test_complex_arrays_are_refused_naming_the_column(which, match):
    X, y, Xc = _complex_inputs()
    args = {"X": (Xc, y, None), "X zero imaginary": (X.astype(complex), y, None),
            "X objects": (np.where(np.arange(3) == 1, Xc, X).astype(object), y, None),
            "y": (X, y + 1j * (np.arange(40) == 3), None),
            "weights": (X, y, np.ones(40) + 0.5j * (np.arange(40) == 1))}[which]
    if which == "X objects":
        args[0][9, 1] = float(X[9, 1])  # one complex number among floats
    copies = [np.array(a, copy=True) for a in args if a is not None]
    with pytest.raises(DataError, match=match) as info:
        Dataset.from_arrays(args[0], args[1], weights=args[2])
    assert "\n" not in str(info.value)
    _unchanged(*zip(copies, [a for a in args if a is not None]))


@pytest.mark.parametrize("which", ["y", "weights"])
def test_a_sparse_y_or_weights_is_refused_saying_so(which):
    """np.asarray of a sparse matrix is a 0-d object array: the length check said 'got shape
    ()' (y) and 'must be numeric' (weights); the error names the sparse type instead."""
    import scipy.sparse as sp

    X, y, _ = _complex_inputs()
    col = sp.csr_array((y if which == "y" else np.ones(len(y))).reshape(-1, 1).astype(float))
    with pytest.raises(DataError, match=rf"^{which} must be a dense array, not a sparse "
                                        r"csr_array \(.*toarray\(\).ravel\(\) makes one\)$"):
        if which == "y":
            Dataset.from_arrays(X, col)
        else:
            Dataset.from_arrays(X, y, weights=col)


def test_complex_frame_columns_are_refused_naming_the_column():
    pd = pytest.importorskip("pandas")
    X, y, Xc = _complex_inputs()
    df = pd.DataFrame({"a": X[:, 0], "b": Xc[:, 1], "w": np.ones(40), "y": y})
    before = df.copy()
    cases = [({"target": "y", "weights": "w"},
              r"X must be real; found complex values in column 'b' \(2 entries .* row 7\)"),
             ({"target": "y", "features": ["a"], "weights": "b"},
              r"weights must be real; found complex values in column 'b'"),
             ({"target": "b", "features": ["a"]}, r"y must be real; found complex values in "
                                                  r"column 'b'")]
    for kwargs, match in cases:
        with pytest.raises(DataError, match=match) as info:
            Dataset.from_frame(df, **kwargs)
        assert "\n" not in str(info.value)
    pd.testing.assert_frame_equal(df, before)


# -- Dataset.check_theta: the data set's layout, or one line naming the expected shape --------

@pytest.fixture(scope="module")
def three_classes():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4))
    return Dataset.from_arrays(X, rng.integers(0, 3, 60))


SHAPE, NAMES = r"\(5, 3\)", r"\(features x classes: x1, x2, x3, x4, intercept x 0, 1, 2\)"
LAYOUT = f"{SHAPE} {NAMES}"


@pytest.mark.parametrize("theta, match", ids=[
    "rows", "flat", "complex", "strings", "booleans", "None", "ragged", "NaN", "infinite"],
    argvalues=[
    (np.zeros((4, 3)), rf"theta must have shape {LAYOUT}; got \(4, 3\)$"),
    (np.zeros(15), rf"theta must have shape {LAYOUT}; got \(15,\)$"),
    (np.zeros((5, 3)) + 1j, r"theta must be real; got complex numbers"),
    (np.full((5, 3), "0.5"), rf"theta must be numeric, an array of shape {LAYOUT}; got an array "
                             "of strings"),
    (np.zeros((5, 3), dtype=bool), r"theta must be numeric.*got an array of booleans"),
    (None, r"theta must be numeric.*got NoneType"),
    ([[0.0, 1.0], [2.0]], rf"theta must be an array of shape {LAYOUT}; got a ragged list"),
    (np.where(np.eye(5, 3) > 0, np.nan, 0.0), rf"theta must be finite; found 3 NaN values among "
                                              rf"its {SHAPE} entries {NAMES}, the first at row "
                                              r"'x1', class 0$"),
    (np.where(np.eye(5, 3) > 0, np.inf, 0.0) * [1, -1, 1],
     r"theta must be finite; found 3 infinite values"),
])
def test_check_theta_names_the_expected_shape_in_one_line(three_classes, theta, match):
    before = None if theta is None else np.array(theta, dtype=object, copy=True)
    with pytest.raises(DataError, match=match) as info:
        three_classes.check_theta(theta)
    assert "\n" not in str(info.value)
    if isinstance(theta, np.ndarray):
        np.testing.assert_array_equal(theta, before.astype(theta.dtype))


def test_check_theta_returns_a_new_float64_array_of_the_layout(three_classes):
    theta = np.arange(15, dtype=np.int64).reshape(5, 3)
    out = three_classes.check_theta(theta)
    assert out.dtype == np.float64 and out.shape == (5, 3) and not np.shares_memory(out, theta)
    np.testing.assert_array_equal(out, theta)
    as_float = np.ones((5, 3))
    out = three_classes.check_theta(as_float)
    out[0, 0] = 7.0
    assert as_float[0, 0] == 1.0  # a copy, even of a float64 array
    # a one-parameter family: (m,) or (m, 1), returned as (m,); its two classes are no columns
    binary = Dataset.from_arrays(three_classes.X[:, :-1], three_classes.y % 2, family="bernoulli")
    for theta in (np.ones(5), np.ones((5, 1)), [1, 1, 1, 1, 1]):
        assert binary.check_theta(theta).shape == (5,)
    with pytest.raises(DataError, match=r"theta must have shape \(5,\) \(one entry per feature: "
                       r"x1, x2, x3, x4, intercept\); got \(5, 2\)"):
        binary.check_theta(np.ones((5, 2)))


def test_check_theta_reads_only_what_a_dask_data_set_also_has(three_classes):
    from types import SimpleNamespace

    ds = three_classes
    alike = SimpleNamespace(m=ds.m, k=ds.k, feature_names=ds.feature_names, classes=ds.classes,
                            family=ds.family)
    assert Dataset.check_theta(alike, np.zeros((5, 3))).shape == (5, 3)
    with pytest.raises(DataError, match=r"got \(3, 5\)"):
        Dataset.check_theta(alike, np.zeros((3, 5)))


# -- badly scaled designs: rescaled for the solver, theta mapped back --------------------------

def _theta_tol(result, tol):
    """How far two solves stopped at relative gradient ``tol`` can be apart in theta: each has
    ``|g| <= tol * scale``, so ``|theta - theta*| <= tol * scale / lambda_min(-H)``; doubled for
    the two, and doubled again for the rescaled run's own scale (its columns are at most 4
    times smaller than the unit run's, whose entries reach about 3)."""
    obj = result._objective
    curvature = np.linalg.eigvalsh(-obj.hessian(obj.beta(result.theta))).min()
    return 4 * tol * obj.scale / curvature


@pytest.mark.parametrize("factor", [np.array([1e150, 1e150]), np.array([1.0, 1e150]),
                                    np.array([1.0, 1e-150]), np.array([1e-12, 1e-12]),
                                    np.array([1e-120, 1e90])],
                         ids=["all 1e150", "x2 1e150", "x2 1e-150", "all 1e-12", "1e-120, 1e90"])
def test_a_badly_scaled_design_is_rescaled_and_theta_is_the_maximiser(overlapping, factor):
    from dualmaxent import solve_dual
    from dualmaxent.dual import DEFAULT_TOLS

    X, y = overlapping
    big = X * factor
    copy = big.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaleWarning)  # the conic primal's, at construction
        data = Dataset.from_arrays(big, y)
    with pytest.warns(ScaleWarning, match=r"the features' sizes span a factor .* solved with X "
                      r"rescaled \(each feature column by its own power of two\) and theta "
                      "mapped back to the given scale") as record:
        result = solve_dual(data)
    assert all("\n" not in str(w.message) for w in record)
    assert result.converged and "rescaled" in result.message
    reference = solve_dual(Dataset.from_arrays(X, y))
    tol = _theta_tol(reference, DEFAULT_TOLS["newton"])
    mapped = result.theta * np.r_[factor, 1.0][:, None]  # theta_big * 1e150 = theta_small
    np.testing.assert_allclose(mapped, reference.theta, rtol=0, atol=tol)
    assert result.loglik == pytest.approx(reference.loglik, rel=1e-12)
    # a maximiser for the given X: each column's gradient small against that column's scale
    P = np.exp(big @ result.theta[:-1] + result.theta[-1])
    P /= P.sum(axis=1, keepdims=True)
    Xd = data.X
    grad = Xd.T @ (data.Y - P)
    size = 1.0 + np.abs(Xd.T @ data.Y).max(axis=1)
    assert np.all(np.abs(grad).max(axis=1) <= 1e-8 * size), (grad, size)
    np.testing.assert_array_equal(big, copy)  # the user's array untouched
    se = result.std_err * np.r_[factor, 1.0][:, None]
    np.testing.assert_allclose(se, reference.std_err, rtol=1e-6)


def test_a_penalised_fit_shares_one_factor_and_its_lambda_follows(overlapping):
    from dualmaxent import solve_dual

    X, y = overlapping
    unit = solve_dual(Dataset.from_arrays(X, y), l2=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaleWarning)
        big = Dataset.from_arrays(X * 1e150, y)
        # l2 (lam / 2) |theta|^2 at theta = theta_unit / 1e150 is l2 with lam * 1e300
        scaled = solve_dual(big, l2=2.0e300)
        assert "the L2 penalty's lambda with it" in scaled.message
        np.testing.assert_allclose(scaled.theta[:-1] * 1e150, unit.theta[:-1], atol=1e-8)
        np.testing.assert_allclose(scaled.theta[-1], unit.theta[-1], atol=1e-8)
    # the penalised columns 1e150 apart: no rescaling keeps the penalty, and it is said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaleWarning)
        mixed = Dataset.from_arrays(X * np.array([1.0, 1e150]), y)
    with pytest.warns(ScaleWarning, match="a penalised fit cannot be rescaled column by column"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularHessianWarning)  # solved as given
            result = solve_dual(mixed, l2=1.0)
    assert "theta may be inaccurate" in result.message


def test_a_rescaled_rank_deficient_design_names_its_dependency_in_the_given_units(overlapping):
    from dualmaxent import solve_dual
    from dualmaxent.exceptions import RankDeficiencyWarning

    X, y = overlapping
    design = np.column_stack([X, X[:, 0] + X[:, 1]]) * np.array([1e150, 1.0, 1e150])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaleWarning)
        data = Dataset.from_arrays(design, y)
        with pytest.warns(RankDeficiencyWarning, match=r"x3 = x1 \+ 1e\+150 x2"):
            result = solve_dual(data)
    assert data.rank == 3  # the rank pass of the given data set works too
    reference = solve_dual(Dataset.from_arrays(X, y))
    eta = design @ result.theta[:-1] + result.theta[-1]
    np.testing.assert_allclose(eta, X @ reference.theta[:-1] + reference.theta[-1], atol=1e-8)


def test_well_scaled_data_are_solved_as_given(overlapping, monkeypatch):
    from dualmaxent import solve_dual

    X, y = overlapping
    data = Dataset.from_arrays(X * np.array([1.0, 1e6]), y)  # a span of 1e6: as given
    assert "_column_max" in vars(data)  # kept from the scale check: no pass to decide

    def no_copy(*args):
        raise AssertionError("a well-scaled design was copied")

    monkeypatch.setattr(Dataset, "_rescaled", no_copy)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScaleWarning)
        result = solve_dual(data)
    assert "rescaled" not in result.message


def test_a_coefficient_beyond_float64_is_a_one_line_error(overlapping):
    from dualmaxent import solve_dual

    X, y = overlapping
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaleWarning)
        data = Dataset.from_arrays(X * np.array([1.0, 1e-310]), y)  # theta_2 would be ~1e310
        with pytest.raises(DataError, match="the features' scale is the cause: column 'x2' "
                           r"reaches only \d\.\de-310, and its coefficient overflows float64"
                           ) as info:
            solve_dual(data)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["solve_dual", "solve_primal", "verify", "certify",
                                  "recover_primal", "report_coefficients"])
@pytest.mark.parametrize("given", ["array", "frame", "dask"])
def test_the_entry_points_refuse_what_is_not_a_dataset_in_one_line(overlapping, name, given):
    """An array, a frame or a Dask data set handed where a Dataset is taken is a one-line
    ``DataError`` naming the function and what to pass instead, not an attribute error deep
    inside; ``report_coefficients`` (and ``certify`` with an engine) also read a Dask data set,
    and ``verify_dask`` refuses a Dataset in memory the same way."""
    import dualmaxent

    X, y = overlapping
    if given == "array":
        data = X
    elif given == "frame":
        pd = pytest.importorskip("pandas")
        data = pd.DataFrame(X, columns=["a", "b"])
    else:
        da = pytest.importorskip("dask.array")
        from dualmaxent.distributed import from_dask

        data = from_dask(da.from_array(X, chunks=(60, 2)), da.from_array(y, chunks=60))
    args = (data,) if name in ("solve_dual", "solve_primal", "verify") else (data, np.zeros(3))
    if given == "dask" and name == "report_coefficients":
        # read as a Dataset is: theta of its layout, (m, k) for two classes, is reported, and
        # one of another shape is refused naming the expected one (it gave an empty report)
        assert dualmaxent.report_coefficients(data, np.zeros((3, 2))).coef.shape == (3,)
        with pytest.raises(DataError, match=r"^theta must have shape \(3, 2\)"):
            dualmaxent.report_coefficients(*args)
        return
    with pytest.raises(DataError) as err:
        getattr(dualmaxent, name)(*args)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{name} takes a Dataset")
    assert ("solve_dual_dask" in message) if given == "dask" else ("from_arrays" in message)


def test_verify_dask_refuses_a_dataset_in_memory_in_one_line(overlapping):
    pytest.importorskip("dask.array")
    from dualmaxent.verify import verify_dask

    with pytest.raises(DataError, match=r"^verify_dask takes a Dask data set .* got Dataset; "
                                        r"a Dataset in memory is certified by verify$"):
        verify_dask(Dataset.from_arrays(*overlapping))


@pytest.mark.parametrize("call, match", [
    (lambda ds, th: dualmaxent.certify(ds, th, penalty="l2"),
     r"^penalty must be a Penalty .* got str 'l2'; or give l2=lam"),
    (lambda ds, th: dualmaxent.solve_dual(ds, max_iter=-1),
     r"^max_iter must be a whole number >= 0; got -1$"),
    (lambda ds, th: dualmaxent.solve_dual(ds, max_iter=2.5),
     r"^max_iter must be a whole number >= 0; got 2.5$"),
    (lambda ds, th: dualmaxent.solve_dual(ds, tol="small"),
     r"^tol must be a positive number; got 'small'$"),
    (lambda ds, th: dualmaxent.certify(ds, th, tol="small"),
     r"^tol must be a positive number; got 'small'$"),
    (lambda ds, th: dualmaxent.certify(ds, th, l2="1"),
     r"^l2 must be a number \(the penalty's strength lambda > 0\); got str '1'$"),
    (lambda ds, th: dualmaxent.solve_dual(ds, l1=True),
     r"^l1 must be a number \(the penalty's strength lambda > 0\); got bool True$"),
    (lambda ds, th: dualmaxent.verify(ds, dual="x"),
     r"^dual must be a DualResult \(from solve_dual\) or None; got str$"),
    (lambda ds, th: dualmaxent.verify(ds, primal=dualmaxent.solve_primal(
        dualmaxent.Dataset.from_arrays(np.eye(3), [0, 1, 1]))),
     r"^the primal result's mu has shape \(3, 2\), the data set's Y \(\d+, 2\): it was "
     r"solved on other data$"),
    # a relative gap of 1 is met by any theta: every fit would be called verified
    (lambda ds, th: dualmaxent.certify(ds, 1e6 * th, tol=10),
     r"^tol is relative and must be below 1; got 10$"),
    (lambda ds, th: dualmaxent.verify(ds, dual_tol=1.0),
     r"^tol is relative and must be below 1; got 1.0$"),
    (lambda ds, th: dualmaxent.recover_primal(ds, th[:2]),
     r"^theta must have shape \(3, 2\)"),
])
def test_bad_arguments_are_one_line_errors_naming_them(overlapping, call, match):
    """A penalty that is not a Penalty, a negative or fractional max_iter, a tol that is not a
    number (one check for solve_dual, certify, verify and the Dask solve) and a theta of the wrong shape for recover_primal: each a one-line error naming the
    argument and what it takes (an attribute error, an unbound local and a matmul error
    before)."""
    from dualmaxent.exceptions import DualMaxentError

    ds = Dataset.from_arrays(*overlapping)
    theta = np.zeros((ds.m, ds.k))
    with pytest.raises(DualMaxentError, match=match):
        call(ds, theta)
