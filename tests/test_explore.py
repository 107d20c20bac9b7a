"""The explorer (``dualmaxent explore``): the notebook run headless, in a real browser, the
parametrised CVXPY primal it uses, the rich display, and the CLI's errors."""

from __future__ import annotations

import html
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dualmaxent as dm
from dualmaxent.cli import main
from dualmaxent.explore import model, views

marimo = pytest.importorskip("marimo", reason="the explorer needs marimo (pip install "
                             "\"dualmaxent[explore]\")")

ROOT = Path(__file__).resolve().parents[1]


def _run(source, view=None, settings=None):
    """Run the notebook headless (``app.run``) with the data, view and settings given."""
    from dualmaxent.explore.app import app

    defs = {"source": source}
    if view is not None:
        defs["view_pick"] = marimo.ui.radio(options=list(views.VIEWS), value=view)
    if settings is not None:
        defs["settings"] = settings
    outputs, values = app.run(defs=defs)
    shown = " ".join(getattr(o, "text", "") or "" for o in outputs if o is not None)
    return shown, values


@pytest.mark.parametrize("name", list(model.EXAMPLES))
def test_notebook_shows_balance_and_a_closing_bracket(name):
    natural = model.EXAMPLES[name][1]
    page, values = _run(model.Source(name, natural))
    expl = values["exploration"]
    assert expl.error == "" and expl.cert.ok, expl.cert.verdict
    assert html.escape(expl.cert.verdict) in page  # on the page, not only computed
    balance = values["shown"]
    # unpenalised, every balance equation holds to the certificate's tolerance
    assert balance.numbers["relative_difference"] <= expl.cert.tol
    assert "Xᵀ W Y (data)" in page
    page, values = _run(model.Source(name, natural), view="The bracket closing")
    traces = values["shown"].numbers
    assert set(traces) == set(views.TRACE_METHODS)
    for method, tr in traces.items():
        assert tr["gap"][-1] < tr["gap"][0], method  # the bracket closes
        # every lower bound is below every upper bound, up to their round-off budgets
        assert np.all(tr["lower"] - tr["roundoff"] <= tr["upper"].min() + tr["roundoff"].max())
        if tr["converged"]:
            assert tr["gap"][-1] <= (expl.cert.tol * max(1.0, abs(tr["upper"][-1]))
                                     + tr["roundoff"][-1]), method
    assert "the certified gap, per solver" in page


def test_l1_boxes_are_tight_exactly_on_the_nonzero_coefficients():
    loaded = model.load(model.Source("blobs"))
    lam_max = model.lambda_scale(loaded.dataset)
    for fraction in (0.05, 1.5):
        lam = fraction * lam_max
        page, values = _run(model.Source("blobs"), settings=model.Settings("L1", lam))
        expl, shown = values["exploration"], values["shown"].numbers
        assert expl.cert.ok, expl.cert.verdict
        pen = shown["penalized"]
        theta = np.asarray(expl.cert.theta).reshape(loaded.dataset.m, -1)
        slack = np.abs(shown["difference"][pen])
        # the box |s| <= lambda holds, to the balance residual the certificate allows
        assert np.all(slack <= lam + expl.cert.tol * shown["scale"])
        np.testing.assert_array_equal(shown["tight"][pen], theta[pen] != 0)
        if fraction > 1:  # beyond lambda_max every box is slack: only the intercept is left
            assert not shown["tight"].any()
        else:
            assert shown["tight"].any()
        assert "tight" in page


def test_lambda_moves_resolve_without_recompiling():
    ds = dm.load_dataset("blobs")
    for kind, extra in (("l2", {}), ("l1", {}), ("elasticnet", {"l1_ratio": 0.5})):
        problem = dm.primal.ParametrizedPrimal(ds, kind, l1_ratio=extra.get("l1_ratio"))
        for lam in (0.5, 2.0):
            pen = {"l2": lam} if kind == "l2" else {"l1": lam, **extra}
            result = problem.solve(lam)
            if lam == 0.5:
                compiled = problem._built[0]._cache.param_prog
            assert problem._built[0]._cache.param_prog is compiled  # DPP: nothing recompiled
            reference = dm.solve_primal(ds, **pen)
            cert = dm.verify(ds, primal=result, **pen)
            assert cert.ok and dm.verify(ds, primal=reference, **pen).ok
            # the two CVXPY solves agree as closely as the certificate asks of either
            assert np.abs(result.mu - reference.mu).max() <= cert.extra["p_tol"]
            assert result.compile_seconds >= 0 and result.solve_seconds > 0


def test_bad_csv_shows_the_cli_message(tmp_path, capsys, monkeypatch):
    text = "a,b,y\n1,2,x\n3,oops,y\n4,5,x\n"
    path = tmp_path / "bad.csv"
    path.write_text(text)
    monkeypatch.chdir(tmp_path)  # `dualmaxent verify bad.csv`, as a user types it
    assert main(["verify", path.name, "--target", "y"]) == 2
    cli_line = capsys.readouterr().err.strip()
    page, values = _run(model.Source(csv=text.encode(), csv_name=path.name, target="y"))
    assert values["loaded"].error == cli_line
    assert cli_line.splitlines() == [cli_line] and "Traceback" not in page
    assert values["exploration"].error == cli_line
    assert values["summary_view"].numbers["error"] == cli_line


def test_unfitting_family_is_one_line_in_the_page():
    page, values = _run(model.Source("iris", "bernoulli"))
    error = values["loaded"].error
    assert error.startswith("dualmaxent: error: ") and "\n" not in error
    assert html.escape(error) in page and "Traceback" not in page


def test_rich_display_is_short_and_readable():
    ds = dm.load_dataset("iris")
    cert = dm.verify(ds, l2=1.0)
    for obj in (ds, cert, cert.dual, cert.primal):
        text = repr(obj)
        assert len(text.splitlines()) <= 2 and "array(" not in text
    assert cert.verdict in repr(cert) and cert.verdict in cert._repr_html_()
    page = cert._repr_html_()
    for name in ds.feature_names:  # the coefficient table, with the data's names
        assert name in page
    assert f"{cert.upper_bound:.10g}" in page and cert.dual.method in cert.dual._repr_html_()
    assert cert.primal.status in cert.primal._repr_html_() and ds.name in ds._repr_html_()


def test_explore_without_marimo_is_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "marimo", None)  # import marimo raises ImportError
    assert main(["explore", "--headless"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "dualmaxent[explore]"' in err


def test_the_app_ships_inside_the_package():
    from dualmaxent.explore import APP_PATH

    package = Path(dm.__file__).parent
    assert APP_PATH.is_file() and APP_PATH.parent.parent == package
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "dualmaxent.explore" in config["tool"]["setuptools"]["packages"]
    assert any(d.startswith("marimo") for d in config["project"]["optional-dependencies"]
               ["explore"])


# -- a real browser --------------------------------------------------------------------------------

def _browser():
    for chromium in ("chromium", "chromium-browser", "google-chrome"):
        binary = shutil.which(chromium)
        if binary:
            break
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("no browser installed: the browser test needs chromium and chromedriver "
                    "(apt-get install chromium chromium-driver; .ci/run installs them)")
    return binary, driver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _shadow(driver, host_tag: str, selector: str):
    """Elements matching ``selector`` inside the shadow roots of every ``host_tag``."""
    from selenium.webdriver.common.by import By

    found = []
    for host in driver.find_elements(By.CSS_SELECTOR, host_tag):
        found += host.shadow_root.find_elements(By.CSS_SELECTOR, selector)
    return found


def _text(driver, key: str) -> str:
    from selenium.webdriver.common.by import By

    els = driver.find_elements(By.CSS_SELECTOR, f"[data-dm={key}]")
    return els[0].text if els else ""


def _wait(predicate, timeout: float, what: str):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def test_browser_moves_lambda_and_the_duality_follows():
    binary, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dualmaxent", "explore", "--headless",
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,1500"):
        options.add_argument(arg)
    options.binary_location = binary
    browser = None
    try:
        line = proc.stdout.readline().strip()
        assert line == f"dualmaxent: the explorer is served at http://127.0.0.1:{port} (Ctrl+C " \
                       "to stop)", proc.stderr.read() if proc.poll() is not None else line
        browser = webdriver.Chrome(options=options,
                                   service=webdriver.ChromeService(driver_path))
        browser.get(f"http://127.0.0.1:{port}")
        verdict = _wait(lambda: _text(browser, "verdict"), 120, "the verdict")
        assert verdict.startswith("OK")
        # L1: the slider's lambda now matters
        penalty = next(s for s in _shadow(browser, "marimo-dropdown", "select")
                       if "L1" in [o.text for o in Select(s).options])
        Select(penalty).select_by_visible_text("L1")
        _wait(lambda: "|s| vs box" in browser.page_source, 120, "the L1 balance table")

        def shown():
            return tuple(_text(browser, key) for key in ("entropy", "gap", "within", "upper"))

        lam = _shadow(browser, "marimo-slider", "[role=slider]")[-1]  # after elastic net's a
        browser.execute_script("arguments[0].focus()", lam)
        seconds, first = [], shown()
        for key in (Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_LEFT):
            before = shown()
            start = time.monotonic()
            lam.send_keys(key)
            _wait(lambda: shown() != before and "" not in shown(), 60, "the re-solve")
            seconds.append(time.monotonic() - start)
            assert _text(browser, "verdict").startswith("OK"), _text(browser, "verdict")
        last = shown()
        assert last[0] != first[0], "the displayed entropy did not change"
        assert last[1:3] != first[1:3], "the displayed gap did not change"
        # the gap shown is the certificate's: within its tolerance of the upper bound
        tol = model.Settings().tol  # the page's certificate tolerance
        assert abs(float(last[1])) <= tol * max(1.0, abs(float(last[3]))) + float(last[2])
        print(f"slider move to redrawn page: {', '.join(f'{s:.3f}' for s in seconds)} s")
        out = ROOT / "figures" / "explore.png"
        out.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(out))
        assert out.stat().st_size > 0
    finally:
        if browser is not None:
            browser.quit()
        proc.terminate()
        proc.wait(timeout=30)
