"""The coefficients as they are reported: a reference class, the contrasts against it, and their
standard errors.

The solvers keep theta in the pivot gauge (:mod:`dualmaxent.params`: the *last* class pinned at
zero on the unpenalised rows). A statistician reads the *first* class as the reference, as
statsmodels' ``MNLogit``, R's ``nnet::multinom`` and ``glm`` do. :func:`report_coefficients` is
the one place that converts: for a reference class ``r`` it reports, on every unpenalised row
and for every class ``c != r``,

    theta[row, c] - theta[row, r],

which is the gauge change ``theta - theta[:, r] 1^T`` (information-theory note, footnote 2:
``softmax(X theta)`` does not change), so the numbers are those of any library that pins ``r``.
Their covariance is ``D Cov D^T``, ``D`` the differencing matrix and ``Cov`` the covariance of
theta's entries (:func:`dualmaxent.inference.covariance`): the standard error of a difference
needs the covariance of the two columns, not only their variances.

* Two classes (categorical family, no penalised row, or the bernoulli family): one vector, the
  log-odds of the non-reference class, under the plain feature names, as statsmodels' ``Logit``
  prints it (``GPA``, not ``GPA[1]``).
* Penalised rows are free in every class (the penalty pins their gauge; at the optimum they sum
  to zero over the classes): they are listed for every class, as they are. When every row is
  penalised (no intercept) there is no reference class at all.
* The other families have one column and no classes: theta as it is.

Labels keep their type when printed (:func:`label_text`): an integer-valued float label, as a
CSV's ``0.0`` / ``1.0`` column gives, prints as ``0`` / ``1``; the labels themselves
(``Dataset.classes``, the estimators' ``classes_``) are not changed.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .exceptions import DataError
from .inference import std_err_of

__all__ = ["Coefficients", "report_coefficients", "label_text"]


def label_text(label) -> str:
    """A class label as the report prints it: ``1`` for the float ``1.0`` (an integer-valued
    label read from a CSV's ``1.0``), ``str(label)`` otherwise."""
    if isinstance(label, (float, np.floating)) and np.isfinite(label) and float(label).is_integer():
        return str(int(label))
    return str(label)


#: :func:`labels_text` lists at most this many labels (the first ones and the last).
LABELS_SHOWN = 8


def labels_text(labels, limit: int = LABELS_SHOWN) -> str:
    """Labels as a comma-separated list (:func:`label_text` each), at most ``limit`` of them:
    beyond, the first ``limit - 1``, an ellipsis, the last, and the count (a target column of
    200 distinct numbers printed thousands of characters in the CLI's first line)."""
    texts = [label_text(c) for c in labels]
    if len(texts) <= limit:
        return ", ".join(texts)
    return ", ".join(texts[:limit - 1]) + f", ..., {texts[-1]} ({len(texts)} in all)"


@dataclass(frozen=True)
class Coefficients:
    """Coefficients in the reported gauge, one entry per printed row (``p`` rows).

    Attributes
    ----------
    names : tuple of str, length p
        ``feature`` (two classes, or a one-parameter family) or ``feature[label]``.
    coef : ndarray of shape (p,)
    std_err : ndarray of shape (p,), or None
        ``sqrt(diag(cov))``; NaN where not estimable; None without a covariance.
    cov : ndarray of shape (p, p), or None
        ``D Cov D^T`` (module docstring).
    features : tuple of str, length p
        The feature of each row.
    classes : tuple, length p
        The class label of each row (None for the one-vector reports).
    reference : label or None
        The reference class (None: no classes, or every class free).
    title : str
        What the numbers are, in words ("log-odds of '1' against '0'"; empty when obvious).
    """

    names: tuple
    coef: np.ndarray
    std_err: np.ndarray | None
    cov: np.ndarray | None
    features: tuple
    classes: tuple
    reference: object
    title: str

    def inference(self, level: float = 0.95) -> dict | None:
        """The normal-theory columns of statsmodels' summary, or None without standard errors.

        Returns
        -------
        dict of ndarray of shape (p,)
            ``z = coef / std_err`` (NaN where the standard error is 0 or NaN: a pinned or
            non-estimable entry), ``p = 2 (1 - Phi(|z|))`` and the ``level`` interval
            ``coef -+ Phi^-1((1 + level) / 2) std_err`` as ``lower`` and ``upper``.
        """
        if self.std_err is None:
            return None
        from scipy.stats import norm

        se = np.asarray(self.std_err, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, self.coef / se, np.nan)
        half = norm.ppf(0.5 + level / 2.0) * se
        return {"z": z, "p": 2.0 * norm.sf(np.abs(z)), "lower": self.coef - half,
                "upper": self.coef + half}


def _find_level(classes, reference):
    """The index of ``reference`` among ``classes``: equal as a value (``1 == 1.0``) or as
    printed text (the CLI's ``--reference 1``), or a one-line DataError listing the levels."""
    for i, c in enumerate(classes):
        same = (not isinstance(reference, str) and isinstance(reference, (numbers.Number, bool))
                and isinstance(c, (numbers.Number, bool)) and c == reference)
        if same or str(reference) in (label_text(c), str(c)):
            return i
    raise DataError(f"unknown reference level {reference!r}; the levels are "
                    f"{labels_text(classes)}")


def report_coefficients(dataset, theta, cov=None, reference=None, penalty=None) -> Coefficients:
    """Theta in the reported gauge: contrasts against a reference class (module docstring).

    Parameters
    ----------
    dataset : Dataset or DaskDataset
        For ``family``, ``classes``, ``feature_names`` and ``intercept``.
    theta : ndarray of shape (m, k) or (m,)
        A solver's ``theta``; any gauge on the unpenalised rows gives the same report.
    cov : ndarray of shape (theta.size, theta.size), optional
        The covariance of theta's entries in theta's C order
        (:attr:`dualmaxent.DualResult.covariance`, :attr:`dualmaxent.Certificate.covariance`).
        None: no standard errors.
    reference : label, optional
        The reference class; the first class (``dataset.classes[0]``) when omitted. Matched
        by value or by its printed text (``"1"`` finds ``1.0``). Only for the categorical and
        bernoulli families.
    penalty : Penalty, optional
        The penalty of the fit: its penalised rows are listed for every class.

    Returns
    -------
    Coefficients

    Raises
    ------
    DataError
        An unknown reference level (the message lists the levels), a reference for a family
        without classes, or a reference when every row is penalised (no class is pinned).
    """
    from .params import Parameterization

    # any data set, in memory or on Dask, checks theta against its own layout (a one-line
    # error: a wrong shape gave an empty report); read by that method, not by a type, so that
    # this module imports nothing of the data sets' (which import it for their displays)
    check = getattr(dataset, "check_theta", None)
    if not callable(check):
        raise DataError(f"report_coefficients takes a Dataset (dualmaxent.Dataset.from_arrays(X, "
                        f"y), from_frame or load_dataset) or a Dask data set; got "
                        f"{type(dataset).__name__}")
    t = check(theta).reshape(-1)
    fam, classes = dataset.family, tuple(dataset.classes or ())
    names = tuple(dataset.feature_names)
    m = len(names)
    q = t.size // m
    # each reported entry is sign * (t[a] - t[b]), b = -1 for "nothing subtracted"
    if fam.multiclass:
        penalized = Parameterization.from_dataset(dataset, penalty).penalized_rows
        if penalized.all():
            if reference is not None:
                raise DataError("no reference class when every row is penalised: the penalty "
                                "pins each class's coefficients (drop --reference)")
            ref, title = None, "every class is free: the penalty pins the gauge"
        else:
            ref = 0 if reference is None else _find_level(classes, reference)
            title = f"against the reference class '{label_text(classes[ref])}'"
            if penalized.any():
                title += "; the penalised rows are free in every class and listed as they are"
        if ref is not None and q == 2 and not penalized.any():  # the log-odds, as Logit prints
            other = 1 - ref
            a = np.arange(m) * q + other
            b = np.arange(m) * q + ref
            rows, labels = names, (None,) * m
            title = (f"log-odds of '{label_text(classes[other])}' against "
                     f"'{label_text(classes[ref])}'")
        else:
            a, b, rows, labels = [], [], [], []
            for c in range(q):
                for r in range(m):
                    if c == ref and not penalized[r]:
                        continue  # the reference class: zero by construction
                    a.append(r * q + c)
                    b.append(r * q + ref if ref is not None and not penalized[r] else -1)
                    rows.append(f"{names[r]}[{label_text(classes[c])}]")
                    labels.append(classes[c])
        sign = 1.0
        reference_label = None if ref is None else classes[ref]
    elif fam.is_probability and len(classes) == 2:  # bernoulli: theta is the log-odds of [1]
        ref = 0 if reference is None else _find_level(classes, reference)
        a, b, rows, labels = np.arange(m), np.full(m, -1), names, (None,) * m
        sign = 1.0 if ref == 0 else -1.0
        reference_label = classes[ref]
        title = (f"log-odds of '{label_text(classes[1 - ref])}' against "
                 f"'{label_text(classes[ref])}'")
    else:
        if reference is not None:
            raise DataError(f"the {fam.name} family has no classes: a reference level applies "
                            "to the categorical and bernoulli families")
        a, b, rows, labels = np.arange(m), np.full(m, -1), names, (None,) * m
        sign, reference_label, title = 1.0, None, ""
    a, b = np.asarray(a, dtype=np.intp), np.asarray(b, dtype=np.intp)
    t0 = np.append(t, 0.0)  # index -1: the zero subtracted when nothing is
    coef = sign * (t0[a] - t0[b])
    out_cov = out_se = None
    if cov is not None:
        # D Cov D^T by indexing, not by a product with D: a NaN (an entry that is not
        # estimable) then reaches only the contrasts that involve it
        C = np.zeros((t.size + 1, t.size + 1))
        C[:-1, :-1] = cov
        out_cov = (C[np.ix_(a, a)] - C[np.ix_(a, b)] - C[np.ix_(b, a)] + C[np.ix_(b, b)])
        out_se = std_err_of(out_cov, (len(a),))
    return Coefficients(names=tuple(rows), coef=coef, std_err=out_se, cov=out_cov,
                        features=tuple(names[i // q] for i in a) if fam.multiclass
                        else tuple(names), classes=tuple(labels), reference=reference_label,
                        title=title)
