"""Packing: the free entries of theta's (m, q) table in beta's class-major order.

``DualObjective._pack`` copies the leading classes whose every row is free as one transposing
copy and the rest column by column; ``_unpack_into`` is its inverse. Both must agree with the
definition, the class-major flat index of every free entry (``Parameterization.free_flat``).
"""

from __future__ import annotations

import numpy as np
import pytest

from dualmaxent.data import Dataset
from dualmaxent.dual import DualObjective
from dualmaxent.params import make_penalty


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("penalty", [None, "l2", "l1"])
def test_pack_and_unpack_follow_the_free_entries(k, intercept, penalty):
    rng = np.random.default_rng(k)
    X = rng.standard_normal((60, 4))
    y = np.arange(60) % k
    ds = Dataset.from_arrays(X, y, intercept=intercept)
    pen = None if penalty is None else make_penalty(**{penalty: 0.5})
    obj = DualObjective(ds, pen)
    m, q = ds.m, obj.q
    T = rng.standard_normal((m, q))
    flat = obj.params.free_flat
    packed = obj._pack(T)
    assert np.array_equal(packed, T.T.ravel()[flat])
    back = np.full((m, q), np.nan)
    obj._unpack_into(packed, back, zero_pinned=True)
    want = np.zeros(m * q)
    want[flat] = T.T.ravel()[flat]
    assert np.array_equal(back, want.reshape(q, m).T)
    # theta(beta): the definition's unpacking (pinned entries 0), C-ordered for scipy's products
    theta = obj.theta(packed)
    assert np.array_equal(theta, obj.params.unpack(packed)) and theta.flags.c_contiguous
    assert np.array_equal(theta.reshape(m, q), want.reshape(q, m).T)


def test_row_selectors_take_the_marked_rows_and_leave_the_others():
    """The selectors of a segment read the same entries as its mask and its complement,
    whether they are slices (one run from the first row or to the last) or the masks."""
    from dualmaxent.objective import _row_selectors

    rng = np.random.default_rng(5)
    m = 9
    cases = [np.ones(m, bool), np.zeros(m, bool), np.arange(m) < m - 1, np.arange(m) >= 3,
             np.arange(m) == 4, (np.arange(m) > 1) & (np.arange(m) < 6)]
    cases += [rng.random(m) < 0.5 for _ in range(20)]
    T = rng.standard_normal((m, 3))
    for rows in cases:
        take, rest = _row_selectors(rows, m)
        assert np.array_equal(T[take], T[rows]) and np.array_equal(T[rest], T[~rows])
        idx = np.flatnonzero(rows)
        run = idx.size == 0 or (idx[-1] - idx[0] + 1 == idx.size
                                and (idx[0] == 0 or idx[-1] == m - 1))
        assert isinstance(take, slice) == bool(run)
