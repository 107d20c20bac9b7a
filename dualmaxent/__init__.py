"""dualmaxent: logistic regression *is* a maximum-entropy model, executable and checkable.

The maximum-entropy problem over the model's probabilities ``P``, constrained by the balance
equations ``X^T P = X^T Y``, has the multinomial log-likelihood as its Lagrange dual:
``P* = softmax(X theta*)`` and ``H(P*) = -l(theta*)``. The same holds for every canonical GLM.

Public API: :class:`Dataset`, :func:`load_dataset`, :func:`solve_primal`, :func:`solve_dual`,
:func:`recover_primal`, :func:`verify`, :func:`certify`, :func:`certify_model`,
:func:`report_coefficients` (the coefficients against a reference class), and the scikit-learn
estimators :class:`MaxEntClassifier` and :class:`GLMRegressor` (imported on first use, so that
scikit-learn stays optional).
"""

from .adapters import certify_model
from .certify import certify
from .data import Dataset, load_dataset
from .dual import solve_dual
from .primal import solve_primal
from .params import Penalty
from .results import Certificate, DualResult, PrimalResult, Status
from .report import report_coefficients
from .verify import recover_primal, verify

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "load_dataset",
    "solve_primal",
    "solve_dual",
    "recover_primal",
    "verify",
    "certify",
    "certify_model",
    "Penalty",
    "PrimalResult",
    "DualResult",
    "Status",
    "Certificate",
    "report_coefficients",
    "MaxEntClassifier",
    "GLMRegressor",
    "__version__",
]

_ESTIMATORS = ("MaxEntClassifier", "GLMRegressor")


def __getattr__(name):
    # the estimators import scikit-learn, an optional dependency: only when asked for
    if name in _ESTIMATORS:
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
