"""Numba CPU kernels for soft-DTW on a banded cost layout.

Layout shared by all kernels: a cost tensor ``C`` of shape (B, N, W) where row ``i`` of
utterance ``b`` holds columns ``lo[b, i] .. hi[b, i]`` (inclusive) at offsets ``0 .. hi - lo``.
The dense case is ``W = M`` with ``lo = 0``.  Rows ``i >= n_b`` are empty (``hi < lo``).

The forward overwrites ``C`` with the DP table ``R`` and the backward overwrites ``R`` with the
expected alignment ``E = dR[n-1, m-1] / dC``, so one (B, N, W) buffer is all the memory the
recursion needs.  The backward is written in "pull" form from ``R`` alone: the weight of the edge
p -> s is the soft-min probability of predecessor p at cell s, ``exp((smin_s - R_p) / gamma)``,
so the cost never has to be kept or recomputed.  Batch items run in parallel (``prange``).
"""
import math

import numpy as np
from numba import njit, prange

INF = np.inf


@njit(inline="always")
def _softmin3(a, b, c, gamma):
    """-gamma * log(exp(-a/g) + exp(-b/g) + exp(-c/g)), stable (log-sum-exp around the min)."""
    m = min(a, b, c)
    if m == INF:
        return INF
    s = math.exp((m - a) / gamma) + math.exp((m - b) / gamma) + math.exp((m - c) / gamma)
    return m - gamma * math.log(s)


@njit(inline="always")
def _get(C, b, i, j, lo, hi):
    """R[i, j] in band layout, +inf outside the band (or before the table)."""
    if i < 0 or j < 0:
        return INF
    lj = lo[b, i]
    if j < lj or j > hi[b, i]:
        return INF
    return C[b, i, j - lj]


@njit(parallel=True, cache=True)
def sdtw_forward(C, lo, hi, nlen, mlen, gamma):
    """In place: C <- R. Returns R[n_b - 1, m_b - 1] per batch item (float64, shape (B,))."""
    B = C.shape[0]
    out = np.empty(B, dtype=np.float64)
    for b in prange(B):
        n = nlen[b]
        for i in range(n):
            li = lo[b, i]
            for j in range(li, hi[b, i] + 1):
                if i == 0 and j == 0:
                    smin = 0.0
                else:
                    left = C[b, i, j - 1 - li] if j - 1 >= li else INF
                    smin = _softmin3(
                        _get(C, b, i - 1, j, lo, hi), left, _get(C, b, i - 1, j - 1, lo, hi), gamma
                    )
                C[b, i, j - li] = C[b, i, j - li] + smin
        out[b] = _get(C, b, n - 1, mlen[b] - 1, lo, hi)
    return out


@njit(parallel=True, cache=True)
def sdtw_backward(C, lo, hi, nlen, mlen, gamma):
    """In place: C (holding R) <- E, the gradient of R[n-1, m-1] w.r.t. every cost cell.

    Cells outside the band and rows beyond the length are set to 0.
    """
    B, N, W = C.shape
    for b in prange(B):
        n = nlen[b]
        m = mlen[b]
        for i in range(n, N):
            C[b, i, :] = 0.0
        r_cur = np.empty(W, dtype=np.float64)
        smin_cur = np.empty(W, dtype=np.float64)
        smin_next = np.empty(W, dtype=np.float64)
        for i in range(n - 1, -1, -1):
            li = lo[b, i]
            hi_i = hi[b, i]
            width = hi_i - li + 1
            for k in range(width):
                r_cur[k] = C[b, i, k]
            # soft-min of each cell's predecessors (row i-1 is still R in C, row i is in r_cur)
            for j in range(li, hi_i + 1):
                if i == 0 and j == 0:
                    smin_cur[0] = 0.0
                else:
                    left = r_cur[j - 1 - li] if j - 1 >= li else INF
                    smin_cur[j - li] = _softmin3(
                        _get(C, b, i - 1, j, lo, hi), left, _get(C, b, i - 1, j - 1, lo, hi), gamma
                    )
            for k in range(width, W):
                C[b, i, k] = 0.0
            has_next = i + 1 < n
            ln = lo[b, i + 1] if has_next else 0
            hn = hi[b, i + 1] if has_next else -1
            for j in range(hi_i, li - 1, -1):
                r = r_cur[j - li]
                if i == n - 1 and j == m - 1:
                    e = 1.0
                elif r == INF:
                    e = 0.0
                else:
                    e = 0.0
                    if j + 1 <= hi_i:  # successor (i, j+1): already E in C
                        e += C[b, i, j + 1 - li] * math.exp((smin_cur[j + 1 - li] - r) / gamma)
                    if ln <= j <= hn:  # successor (i+1, j)
                        e += C[b, i + 1, j - ln] * math.exp((smin_next[j - ln] - r) / gamma)
                    if ln <= j + 1 <= hn:  # successor (i+1, j+1)
                        e += C[b, i + 1, j + 1 - ln] * math.exp((smin_next[j + 1 - ln] - r) / gamma)
                C[b, i, j - li] = e
            smin_cur, smin_next = smin_next, smin_cur


@njit(parallel=True, cache=True)
def band_cost(x, y, lo, hi, W):
    """Squared-Euclidean cost of the band cells only: (B, N, W); O(N * W * D), not O(N * M * D)."""
    B, N, D = x.shape
    C = np.zeros((B, N, W), dtype=x.dtype)
    for bi in prange(B * N):
        b = bi // N
        i = bi % N
        li = lo[b, i]
        for j in range(li, hi[b, i] + 1):
            acc = 0.0
            for d in range(D):
                diff = x[b, i, d] - y[b, j, d]
                acc += diff * diff
            C[b, i, j - li] = acc
    return C


@njit(parallel=True, cache=True)
def band_grad(E, x, y, lo, hi):
    """Gradients of sum(E * C) w.r.t. x and y for the band cost: 2 * sum_j E_ij (x_i - y_j)."""
    B, N, D = x.shape
    gx = np.zeros_like(x)
    gy = np.zeros_like(y)
    for b in prange(B):
        for i in range(N):
            li = lo[b, i]
            for j in range(li, hi[b, i] + 1):
                e = 2.0 * E[b, i, j - li]
                if e != 0.0:
                    for d in range(D):
                        g = e * (x[b, i, d] - y[b, j, d])
                        gx[b, i, d] += g
                        gy[b, j, d] -= g
    return gx, gy
