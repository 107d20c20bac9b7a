"""Binary logistic regression is the maximum-entropy model of the balance equations.

With ``x_j`` the features of observation ``j`` (intercept last) and ``y_j`` in {0, 1}, the
Bernoulli family's primal is

    maximise    H(p) = -sum_j [ p_j log p_j + (1 - p_j) log(1 - p_j) ]      (nats)
    subject to  sum_j x_j p_j = sum_j x_j y_j                                (balance equations)

and its Lagrange dual is the logistic log-likelihood

    l(theta) = sum_j [ y_j x_j^T theta - log(1 + exp(x_j^T theta)) ],

with ``p*_j = sigmoid(x_j^T theta*)`` and ``H(p*) = -l(theta*)`` (the note's equations (1), (6)
and (8) with k = 2). The same data as a two-class *categorical* model give the same probabilities
and likelihood; its theta has two columns whose difference is the Bernoulli theta (the gauge).

Run: ``python examples/binary_logistic.py`` (``DUALMAXENT_FAST=1`` for a smaller data set).
"""

import os

import numpy as np

from dualmaxent import Dataset, verify
from dualmaxent.cli import format_certificate

FAST = os.environ.get("DUALMAXENT_FAST") == "1"
n = 200 if FAST else 1000

# Seeded data: two features, a known logistic model.
rng = np.random.default_rng(42)
Z = rng.normal(size=(n, 2))
p_true = 1.0 / (1.0 + np.exp(-(0.5 + 2.0 * Z[:, 0] - 1.0 * Z[:, 1])))
y = np.where(rng.random(n) < p_true, "sick", "healthy")  # the second sorted label is "1"

binary = Dataset.from_arrays(Z, y, feature_names=["z1", "z2"], family="bernoulli",
                             name="binary")
cert = verify(binary)
print(format_certificate(binary, cert))

# The same data as a k = 2 categorical model: same likelihood, theta up to the gauge.
two_class = Dataset.from_arrays(Z, y, feature_names=["z1", "z2"], name="two classes")
cert2 = verify(two_class)
theta_cat = np.asarray(cert2.dual.theta)
print()
print(f"categorical k=2: -l(theta*) = {cert2.neg_loglik:.10f} nats, verdict ok = {cert2.ok}")
print(f"bernoulli theta*            = {np.round(cert.dual.theta, 6)}")
print(f"categorical theta*[:, 1] - theta*[:, 0] = {np.round(theta_cat[:, 1] - theta_cat[:, 0], 6)}")

print()
print(f"Interpretation: the most uncertain probabilities that keep the feature totals of each "
      f"class have entropy {cert.entropy:.4f} nats, exactly the negative log-likelihood "
      f"{cert.neg_loglik:.4f} nats of the logistic fit (gap {cert.duality_gap:+.1e}); "
      f"the two-class "
      f"softmax model is the same model, its theta differing from the binary one only by the "
      f"gauge.")
