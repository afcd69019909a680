"""The vectorised exp/log of the dense CPU soft-DTW kernel against numpy, in both precisions."""
import numpy as np
import pytest
from numba import njit

from espnet_pise.losses import _sdtw_cpu


@njit
def _apply_exp(t, c):
    out = np.empty_like(t)
    for i in range(t.size):
        out[i] = _sdtw_cpu._exp_nonpos(t[i], c)
    return out


@njit
def _apply_log(s, c, one):
    out = np.empty_like(s)
    for i in range(s.size):
        out[i] = _sdtw_cpu._log_1to3(s[i], c, one)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polynomial_exp_and_log_are_accurate_to_a_few_ulp(dtype):
    eps = np.finfo(dtype).eps
    cut = np.log(eps / 4)  # the kernel never asks for exp below its cut-off
    c = _sdtw_cpu.poly_constants(dtype)
    t = np.concatenate([np.linspace(cut, 0.0, 20001), [0.0, -np.log(2) / 2, -1e-9]]).astype(dtype)
    want = np.exp(t.astype(np.float64))
    got = _apply_exp(t, c)
    assert got.dtype == dtype and got[-3] == 1.0  # exp(0) exactly 1: the minimum's own term
    assert np.max(np.abs(got - want) / want) <= 4 * eps
    s = np.concatenate([np.linspace(1.0, 3.0, 20001), [1.5, np.nextafter(1.5, 2)]]).astype(dtype)
    want = np.log(s.astype(np.float64))
    got = _apply_log(s, c, dtype(1))
    assert got.dtype == dtype and got[0] == 0.0  # log(1) exactly 0: cells with one live term
    assert np.max(np.abs(got - want)) <= 4 * eps * np.log(3)
