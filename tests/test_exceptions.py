"""The warning classes: the filters users already have for scikit-learn and statsmodels apply."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import sklearn.exceptions

from dualmaxent import MaxEntClassifier, load_dataset, solve_dual
from dualmaxent import exceptions
from dualmaxent.exceptions import ConvergenceWarning, DualMaxentWarning, SeparationWarning


def test_convergence_warning_is_also_scikit_learns():
    assert issubclass(ConvergenceWarning, sklearn.exceptions.ConvergenceWarning)
    assert issubclass(ConvergenceWarning, DualMaxentWarning)
    assert exceptions.ConvergenceWarning is ConvergenceWarning  # one class, made once


def test_a_capped_fit_is_caught_by_a_filter_on_scikit_learns_class():
    blobs = load_dataset("blobs")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # anything not filtered below fails the test
        warnings.filterwarnings("ignore", category=sklearn.exceptions.ConvergenceWarning)
        result = solve_dual(blobs, max_iter=1)
    assert not result.converged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.filterwarnings("error", category=sklearn.exceptions.ConvergenceWarning)
        with pytest.raises(sklearn.exceptions.ConvergenceWarning, match="did not converge"):
            solve_dual(blobs, max_iter=1)
    # and through the estimator, as a scikit-learn user meets it
    with pytest.warns(sklearn.exceptions.ConvergenceWarning, match="did not converge"):
        MaxEntClassifier(max_iter=1, certify=False).fit(blobs.X[:, :-1], blobs.y)


def test_scikit_learn_stays_optional_and_is_not_imported_by_import_dualmaxent():
    code = ("import sys\n"
            "import dualmaxent\n"
            "assert 'sklearn' not in sys.modules, 'import dualmaxent imported scikit-learn'\n"
            "sys.modules['sklearn'] = None  # as if it were not installed\n"
            "from dualmaxent.exceptions import ConvergenceWarning, DualMaxentWarning\n"
            "assert ConvergenceWarning.__mro__[1:3] == (DualMaxentWarning, UserWarning)\n"
            "import warnings\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    dualmaxent.solve_dual(dualmaxent.load_dataset('blobs'), max_iter=1)\n"
            "assert any(w.category is ConvergenceWarning for w in caught)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_separation_warning_names_statsmodels_equivalent():
    from statsmodels.tools import sm_exceptions

    assert "statsmodels.tools.sm_exceptions.PerfectSeparationWarning" in SeparationWarning.__doc__
    assert issubclass(sm_exceptions.PerfectSeparationWarning, Warning)  # the name exists
