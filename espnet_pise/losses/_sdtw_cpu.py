"""Numba CPU kernels for soft-DTW on a banded cost layout.

Layout shared by all kernels: a cost tensor ``C`` of shape (B, N, W) where row ``i`` of
utterance ``b`` holds columns ``lo[b, i] .. hi[b, i]`` (inclusive) at offsets ``0 .. hi - lo``.
The dense case is ``W = M`` with ``lo = 0``.  Rows ``i >= n_b`` are empty (``hi < lo``).

The forward overwrites ``C`` with the DP table ``R`` and the backward overwrites ``R`` with the
expected alignment ``E = dR[n-1, m-1] / dC``, so one (B, N, W) buffer is all the memory the
recursion needs.  The backward needs ``R`` alone: the weight of the edge p -> s is the soft-min
probability of predecessor p at cell s, so the cost never has to be kept or recomputed.
Batch items run in parallel (``prange``).
"""
import math

import numpy as np
from numba import njit, prange


@njit(inline="always")
def _get(C, b, i, j, lo, hi, inf):
    """R[i, j] in band layout, +inf outside the band (or before the table)."""
    if i < 0 or j < 0:
        return inf
    lj = lo[b, i]
    if j < lj or j > hi[b, i]:
        return inf
    return C[b, i, j - lj]


@njit(inline="always")
def _exp_term(d, inv_gamma, cut):
    """exp(d / gamma) for d <= 0, or exactly 0 below exp(cut) (d = -inf and NaN included).

    Branch-free (the exponential of a clamped argument, then a select): no branch depends on
    which neighbour is the minimum, which is random to the CPU's branch predictor."""
    t = d * inv_gamma
    e = math.exp(max(t, cut))
    return e if t > cut else inv_gamma - inv_gamma  # a zero of the dtype


@njit(inline="always")
def _softmin_terms(a, b, c, inv_gamma, cut):
    """Stable soft-min pieces of (a, b, c): the minimum m and exp(-(x - m)/gamma) for each.

    The minimum's own term is exp(0) = 1 exactly; a term below exp(cut) (a quarter of the
    dtype's epsilon) is exactly 0: added to the 1 it cannot change the sum in the working
    precision, and it keeps the expected alignment sparse (with gamma = 0.1 most cells have no
    other term left).  An infinite argument gives a 0 term (inf - inf = NaN fails the cut-off
    test too); the caller checks m for inf first.
    """
    m = min(min(a, b), c)
    return m, _exp_term(m - a, inv_gamma, cut), _exp_term(m - b, inv_gamma, cut), _exp_term(m - c, inv_gamma, cut)


@njit(inline="always")
def _softmin(a, b, c, inv_gamma, one, inf, cut):
    """Soft-min -gamma log(sum exp(-x / gamma)) of (a, b, c), stable, for the forward.

    A min/max network sorts the three without branches (which neighbour is the minimum is
    random to the branch predictor); the minimum's term is 1 and the others are at most 1,
    the smaller one is 0 whenever the middle one is (below the cut-off, see ``_softmin_terms``).
    """
    lo1, hi1 = min(a, b), max(a, b)
    m, mid, top = min(lo1, c), min(hi1, max(lo1, c)), max(hi1, c)
    if m == inf:
        return inf
    t_mid = (m - mid) * inv_gamma
    if not t_mid > cut:  # no other term survives: log(1) = 0
        return m
    return m - math.log(one + math.exp(t_mid) + _exp_term(m - top, inv_gamma, cut)) / inv_gamma


@njit(parallel=True, cache=True)
def sdtw_forward(C, lo, hi, nlen, mlen, inv_gamma, one, inf, cut):
    """In place: C <- R. Returns R[n_b - 1, m_b - 1] per batch item (shape (B,)).

    ``inv_gamma``, ``one``, ``inf`` and ``cut`` (see ``_softmin_terms``) carry C's dtype so that
    float32 tables use float32 math.
    """
    B = C.shape[0]
    out = np.empty(B, dtype=C.dtype)
    for b in prange(B):
        n = nlen[b]
        for i in range(n):
            li = lo[b, i]
            lp = lo[b, i - 1] if i > 0 else 0
            hp = hi[b, i - 1] if i > 0 else -1
            left = inf
            for j in range(li, hi[b, i] + 1):
                cost = C[b, i, j - li]
                if i == 0 and j == 0:
                    left = cost  # R[0, 0] = C[0, 0]
                    continue
                up = C[b, i - 1, j - lp] if lp <= j <= hp else inf
                diag = C[b, i - 1, j - 1 - lp] if lp <= j - 1 <= hp else inf
                left = cost + _softmin(up, left, diag, inv_gamma, one, inf, cut)
                C[b, i, j - li] = left
        out[b] = _get(C, b, n - 1, mlen[b] - 1, lo, hi, inf)
    return out


@njit(parallel=True, cache=True)
def sdtw_backward(C, lo, hi, nlen, mlen, inv_gamma, one, inf, cut):
    """In place: C (holding R) <- E, the gradient of R[n-1, m-1] w.r.t. every cost cell.

    "Push" form: going backwards, each cell's finished E is shared among its predecessors in
    proportion to their soft-min weights, which are the normalised exponentials of the
    soft-min at that cell (exponentials only, no logarithm).  E of the current and of
    the previous row accumulate in two row buffers; a row of R is overwritten by its E only
    once no later cell needs it.  Cells outside the band and rows beyond the length become 0.
    Returns the number of non-zero cells of E per batch item (B,): the gradient picks its
    method by it without another pass over E.
    """
    B, N, W = C.shape
    zero = one - one
    nnz = np.zeros(B, dtype=np.int64)
    for b in prange(B):
        n = nlen[b]
        m_len = mlen[b]
        for i in range(n, N):
            C[b, i, :] = zero
        acc = np.zeros((2, W), dtype=C.dtype)  # E accumulators: rows i and i-1 alternate
        if n > 0:
            acc[(n - 1) % 2, m_len - 1 - lo[b, n - 1]] = one
        for i in range(n - 1, -1, -1):
            e_cur = acc[i % 2]
            e_prev = acc[(i + 1) % 2]
            li = lo[b, i]
            hi_i = hi[b, i]
            lp = lo[b, i - 1] if i > 0 else 0
            hp = hi[b, i - 1] if i > 0 else -1
            for j in range(hi_i, li - 1, -1):
                e = e_cur[j - li]
                if e == zero or (i == 0 and j == 0):
                    continue
                left = C[b, i, j - 1 - li] if j - 1 >= li else inf
                up = C[b, i - 1, j - lp] if lp <= j <= hp else inf
                diag = C[b, i - 1, j - 1 - lp] if lp <= j - 1 <= hp else inf
                m, e_up, e_left, e_diag = _softmin_terms(up, left, diag, inv_gamma, cut)
                if m == inf:
                    continue
                share = e / (e_up + e_left + e_diag)
                if j - 1 >= li:
                    e_cur[j - 1 - li] += share * e_left
                if lp <= j <= hp:
                    e_prev[j - lp] += share * e_up
                if lp <= j - 1 <= hp:
                    e_prev[j - 1 - lp] += share * e_diag
            for k in range(W):
                e = e_cur[k] if k <= hi_i - li else zero
                C[b, i, k] = e
                nnz[b] += e != zero
                e_cur[k] = zero  # becomes row i-2's accumulator
    return nnz


# reassociation lets LLVM split the sum over D into SIMD partial sums (no NaN/inf assumptions)
@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def band_cost(x, y, lo, hi, W):
    """Squared-Euclidean cost of the band cells only: (B, N, W); O(N * W * D), not O(N * M * D)."""
    B, N, D = x.shape
    C = np.zeros((B, N, W), dtype=x.dtype)
    for bi in prange(B * N):
        b = bi // N
        i = bi % N
        li = lo[b, i]
        xi, ci = x[b, i], C[b, i]  # row views: the inner loop vectorises
        for j in range(li, hi[b, i] + 1):
            yj = y[b, j]
            acc = ci[j - li]  # a zero of the input dtype: float32 sums stay float32 SIMD
            for d in range(D):
                diff = xi[d] - yj[d]
                acc += diff * diff
            ci[j - li] = acc
    return C


@njit(parallel=True, cache=True)
def sparse_cost_grad(E, x, y, lo, hi):
    """Gradients of sum(E * C) w.r.t. x and y: 2 * sum_j E_ij (x_i - y_j), over the non-zero E only.

    Any layout (the dense one is lo = 0, hi = m - 1): O(nnz(E) * D) plus one pass over E.
    """
    B, N, D = x.shape
    gx = np.zeros_like(x)
    gy = np.zeros_like(y)
    for b in prange(B):
        for i in range(N):
            li = lo[b, i]
            xi, gxi = x[b, i], gx[b, i]  # row views: the inner loop then vectorises (2x faster)
            for j in range(li, hi[b, i] + 1):
                e = E[b, i, j - li]
                if e != 0:
                    e = e + e  # stays in E's dtype (2.0 * e would be float64 math)
                    yj, gyj = y[b, j], gy[b, j]
                    for d in range(D):
                        g = e * (xi[d] - yj[d])
                        gxi[d] += g
                        gyj[d] -= g
    return gx, gy
