"""Rounding constants written from their definitions for the tests (the checker's own are the
code under test): the unit round-off of float64 and ``gamma(L) = L u / (1 - L u)``, the
worst-case relative error of a sum of ``L`` terms in any order."""

from __future__ import annotations

U = 2.0 ** -53


def gamma(length: float, u: float = U) -> float:
    return length * u / (1 - length * u)
