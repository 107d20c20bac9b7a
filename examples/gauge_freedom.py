"""Gauge freedom: theta and theta + c 1^T give the same probabilities (the note's footnote 2).

``softmax(x^T (theta + c 1^T)) = softmax(x^T theta)`` for any vector ``c`` of length m, because the
common term ``x^T c`` cancels between numerator and denominator. The log-likelihood is therefore
flat along ``c``, the maximiser is a line rather than a point, and solvers pin a *gauge*: dualmaxent
fixes the last class's column of theta to zero. In the primal the same redundancy appears as a
linearly dependent block of the balance equations (the k blocks sum to ``X^T 1 = X^T 1``);
``gauge="pivot"`` drops the last block, ``gauge="full"`` keeps it, and both certify.

Run: ``python examples/gauge_freedom.py``.
"""

import numpy as np

from dualmaxent import load_dataset, recover_primal, verify
from dualmaxent.cli import format_certificate
from dualmaxent.families import get_family

blobs = load_dataset("blobs")
cert = verify(blobs, gauge="pivot")
print(format_certificate(blobs, cert))
print()

theta = np.asarray(cert.dual.theta)
rng = np.random.default_rng(0)
c = rng.normal(size=(blobs.m, 1))  # one vector, added to every class column
shifted = theta + c
fam = get_family("categorical")
l0 = fam.canonical_loglik(blobs.Y, blobs.X @ theta, blobs.weights)
l1 = fam.canonical_loglik(blobs.Y, blobs.X @ shifted, blobs.weights)
dP = np.abs(recover_primal(blobs, shifted) - recover_primal(blobs, theta)).max()
print("theta* (last column pinned to 0):")
print(np.round(theta, 4))
print("theta* + c 1^T:")
print(np.round(shifted, 4))
print(f"max |P(theta* + c) - P(theta*)| = {dP:.1e};  l changes by {l1 - l0:+.1e} nats")
print()

full = verify(blobs, gauge="full")
print(f"{'primal gauge':<14} {'Clarabel iterations':>20} {'theta agreement':>16} {'verdict':>8}")
for name, cg in (("pivot", cert), ("full", full)):
    print(f"{name:<14} {cg.primal.iterations!s:>20} {cg.theta_agreement:>16.1e} "
          f"{'OK' if cg.ok else 'NOT OK':>8}")

print()
print(f"Interpretation: shifting every class's coefficients by the same vector changes no "
      f"probability (max change {dP:.0e}) and no likelihood, so theta* is only defined up to "
      f"that shift; pinning the last class makes it unique, and CVXPY's multipliers, converted "
      f"to the same gauge, match it whether or not the redundant block is kept.")
