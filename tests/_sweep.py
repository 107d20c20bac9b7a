"""Random small problems of the kinds that trip certificates, and independent references.

``problem(rng)`` draws one problem: n from 5 to 150, m from 1 to 4 features, k from 2 to 4 classes,
features Gaussian or small integers (ties), sometimes a column that is a combination of others and
the intercept (collinear), sometimes a strong signal (separable or quasi-separable data).

The references use neither dualmaxent's solvers nor its verifier:

* ``reference_separated``: Albert & Anderson's test by linear programming (scipy's HiGHS): the
  data are separated iff some direction ``D`` has ``x_j^T (d_{y_j} - d_i) >= 0`` for all ``j``,
  ``i != y_j``, and not all zero;
* ``reference_loglik``: the maximum of the multinomial log-likelihood (scipy.optimize, BFGS on the
  pivot gauge from a zero start, then Newton polishing with numpy's least squares, so that
  collinear columns are handled), with scipy's ``logsumexp``.

Run as a script for the full sweep: ``python tests/_sweep.py 500``.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import scipy.optimize
from scipy.special import logsumexp

__all__ = ["problem", "reference_separated", "reference_loglik", "sweep"]


def problem(rng: np.random.Generator):
    """One random problem: ``(X, y, kind)`` with ``X`` (n, p) without the intercept."""
    n = int(rng.integers(5, 151))
    p = int(rng.integers(1, 5))
    k = int(rng.integers(2, 5))
    kinds = []
    if rng.random() < 0.4:
        X = rng.integers(0, 3, size=(n, p)).astype(float)
        kinds.append("ties")
    else:
        X = rng.normal(size=(n, p))
    if p >= 2 and rng.random() < 0.35:
        c = rng.normal(size=p - 1).round(1)
        X[:, -1] = X[:, :-1] @ c + float(rng.integers(-2, 3))
        kinds.append("collinear")
    scale = 6.0 if rng.random() < 0.25 else 1.0
    if scale > 1:
        kinds.append("strong")
    theta = rng.normal(scale=scale, size=(p + 1, k))
    eta = np.column_stack([X, np.ones(n)]) @ theta
    y = np.argmax(eta + rng.gumbel(size=eta.shape), axis=1)
    if len(np.unique(y)) < 2:
        y[0] = (y[0] + 1) % k
    return X, y, "+".join(kinds) or "plain"


def _design(X):
    return np.column_stack([X, np.ones(len(X))])


def reference_separated(X, y) -> bool:
    """Whether a nonzero recession direction exists (LP, module docstring)."""
    Z = _design(X)
    n, m = Z.shape
    classes = np.unique(y)
    k = len(classes)
    idx = np.searchsorted(classes, y)
    q = k - 1  # d_k = 0 (gauge)
    rows = []
    for j in range(n):
        for i in range(k):
            if i == idx[j]:
                continue
            r = np.zeros(m * q)
            if idx[j] < q:
                r[idx[j] * m:(idx[j] + 1) * m] += Z[j]
            if i < q:
                r[i * m:(i + 1) * m] -= Z[j]
            rows.append(r)
    S = np.array(rows)  # s = S d >= 0 ; maximise sum s subject to sum s <= 1
    res = scipy.optimize.linprog(-S.sum(axis=0), A_ub=np.vstack([-S, S.sum(axis=0)]),
                                 b_ub=np.concatenate([np.zeros(len(S)), [1.0]]),
                                 bounds=[(None, None)] * (m * q), method="highs")
    return bool(res.status == 0 and -res.fun > 1e-7)


def reference_loglik(X, y) -> float:
    """The maximum of the multinomial log-likelihood (module docstring)."""
    Z = _design(X)
    n, m = Z.shape
    classes = np.unique(y)
    k = len(classes)
    Y = (np.searchsorted(classes, y)[:, None] == np.arange(k)).astype(float)

    def negll(b):
        T = np.column_stack([b.reshape(m, k - 1), np.zeros(m)])
        eta = Z @ T
        val = -float(np.sum(Y * eta) - logsumexp(eta, axis=1).sum())
        P = np.exp(eta - logsumexp(eta, axis=1)[:, None])
        return val, -(Z.T @ (Y - P))[:, : k - 1].ravel()

    b = scipy.optimize.minimize(negll, np.zeros(m * (k - 1)), jac=True, method="BFGS",
                                options={"gtol": 1e-10, "maxiter": 5000}).x
    for _ in range(20):  # Newton polish, least squares for singular (collinear) Hessians
        T = np.column_stack([b.reshape(m, k - 1), np.zeros(m)])
        eta = Z @ T
        P = np.exp(eta - logsumexp(eta, axis=1)[:, None])
        g = (Z.T @ (Y - P))[:, : k - 1].T.ravel()
        H = np.zeros((m * (k - 1), m * (k - 1)))
        for a in range(k - 1):
            for c in range(k - 1):
                d = P[:, a] * ((a == c) - P[:, c])
                H[a * m:(a + 1) * m, c * m:(c + 1) * m] = Z.T @ (d[:, None] * Z)
        step = np.linalg.lstsq(H, g, rcond=None)[0]
        bb = b.reshape(m, k - 1).T.ravel() + step
        b = bb.reshape(k - 1, m).T.ravel()
        if np.abs(g).max() < 1e-13 * (1 + np.abs(Z.T @ Y).max()):
            break
    return -negll(b)[0]


def sweep(count: int, seed: int = 0, verbose: bool = False):
    """Run ``verify`` on ``count`` random problems and compare with the references.

    Returns a list of dicts, one per problem, with the verdict and the references. A problem is
    *wrong* when ``verify`` says NOT OK although the reference fit agrees with the certificate's
    bound on a non-separated problem, or says OK on a perturbed theta.
    """
    from dualmaxent import Dataset, verify

    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        X, y, kind = problem(rng)
        data = Dataset.from_arrays(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cert = verify(data)
        separated = reference_separated(X, y)
        row = {"i": i, "kind": kind, "n": len(y), "separated": separated, "ok": cert.ok,
               "attained": cert.attained, "verdict": cert.verdict}
        if not separated:
            ref = reference_loglik(X, y)
            row["ref_gap"] = abs(ref - cert.dual.canonical_loglik) / max(1.0, abs(ref))
        row["correct"] = (cert.ok and cert.attained == (not separated)
                          and row.get("ref_gap", 0.0) <= 1e-7)
        out.append(row)
        if verbose:
            print(f"{i:4d} {kind:22s} n={len(y):3d} sep={separated!s:5s} ok={cert.ok!s:5s} "
                  f"{'' if row['correct'] else 'WRONG: ' + cert.verdict}", flush=True)
    return out


if __name__ == "__main__":
    rows = sweep(int(sys.argv[1]) if len(sys.argv) > 1 else 500, verbose=True)
    bad = [r for r in rows if not r["correct"]]
    print(f"{len(rows) - len(bad)} of {len(rows)} problems certified correctly; {len(bad)} wrong")
    sys.exit(1 if bad else 0)
