"""Numba CPU kernels for soft-DTW on a banded cost layout.

Layout shared by all kernels: a cost tensor ``C`` of shape (B, N, W) where row ``i`` of
utterance ``b`` holds columns ``lo[b, i] .. hi[b, i]`` (inclusive) at offsets ``0 .. hi - lo``.
The dense case is ``W = M`` with ``lo = 0``.  Rows ``i >= n_b`` are empty (``hi < lo``).

The forward overwrites ``C`` with the DP table ``R`` and the backward overwrites ``R`` with the
expected alignment ``E = dR[n-1, m-1] / dC``, so one (B, N, W) buffer is all the memory the
recursion needs.  The backward needs ``R`` alone: the weight of the edge p -> s is the soft-min
probability of predecessor p at cell s, so the cost never has to be kept or recomputed.
Batch items run in parallel (``prange``).

The dense forward (``sdtw_forward_dense``) is the fast path: strips of rows swept by
anti-diagonals, whose cells are independent, so the soft-min of a whole anti-diagonal runs as
SIMD vectors with branch-free polynomial exp/log (libm calls do not vectorise).  The row kernel
``sdtw_forward`` serves the banded layout.
"""
import functools
import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload


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
def sparse_cost_grad(E, x, y, lo, hi, gx, gy):
    """Gradients of sum(E * C) w.r.t. x and y: 2 * sum_j E_ij (x_i - y_j), over the non-zero E only.

    Written into gx, gy (shapes of x, y; any content: each batch item's rows are zeroed by its
    own thread, so the caller can pass uninitialised tensors from its allocator, whose pages are
    usually already mapped, instead of fresh zeroed ones).  Any layout (the dense one is lo = 0,
    hi = m - 1): O(nnz(E) * D) plus one pass over E.
    """
    B, N, D = x.shape
    for b in prange(B):
        gx[b] = 0
        gy[b] = 0
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


# ---- dense forward: vectorised anti-diagonal sweep -------------------------------------------

_EXP, _LOG, _K = 0, 16, 32  # offsets in the constant vector (see poly_constants)


@functools.lru_cache(maxsize=None)
def poly_constants(dtype) -> np.ndarray:
    """Constants of the vectorised exp/log, in the table's dtype (float32 tables keep float32 SIMD).

    [exp Taylor coefficients 1/q! | log series coefficients 2/(2q+1) | log2(e), ln2 split in a
    high part (exact times small integers) and a low part, ln2, 1.5, 0.5].  Terms used: 8 for
    float32 (truncation 0.347^8/8! = 5e-9), 16 for float64 (2e-21); unused slots are 0."""
    dtype = np.dtype(dtype)
    terms = _terms_of(dtype)
    exp_c = [1.0 / math.factorial(q) if q < terms else 0.0 for q in range(16)]
    log_c = [2.0 / (2 * q + 1) if q < terms else 0.0 for q in range(16)]
    ln2_hi, ln2_lo = (0.693359375, -2.12194440e-4) if dtype == np.float32 else (
        6.93147180369123816490e-01, 1.90821492927058770002e-10)
    scal = [1.4426950408889634, ln2_hi, ln2_lo, math.log(2.0), 1.5, 0.5]
    out = np.array(exp_c + log_c + scal, dtype=dtype)
    out.flags.writeable = False
    return out


def _terms_of(dtype) -> int:
    return 8 if dtype == np.float32 else 16


def _terms(x):
    """Polynomial terms for x's float type (compile-time constant inside the kernels)."""
    return _terms_of(np.float32 if isinstance(x, np.float32) else np.float64)


@overload(_terms, inline="always")
def _terms_overload(x):
    n = _terms_of(np.float32 if x == types.float32 else np.float64)
    return lambda x: n


@intrinsic
def _pow2(typingctx, nf):
    """2**nf for an integer-valued float nf in the normal exponent range, by writing the exponent
    bits (a libm ldexp call would stop the loop from vectorising)."""
    bits, mantissa, bias = (32, 23, 127) if nf == types.float32 else (64, 52, 1023)

    def codegen(context, builder, sig, args):
        ity = ir.IntType(bits)
        biased = builder.add(builder.fptosi(args[0], ity), ir.Constant(ity, bias))
        return builder.bitcast(builder.shl(biased, ir.Constant(ity, mantissa)), args[0].type)

    return nf(nf), codegen


@njit(inline="always")
def _horner(x, c, offset, nterms):
    p = c[offset + nterms - 1]
    for q in range(nterms - 2, -1, -1):
        p = p * x + c[offset + q]
    return p


@njit(inline="always")
def _exp_nonpos(t, c):
    """exp(t) for cut <= t <= 0: 2^n exp(r) with n = round(t / ln2), |r| <= ln2 / 2."""
    nf = np.floor(t * c[_K] + c[_K + 5])
    r = (t - nf * c[_K + 1]) - nf * c[_K + 2]
    return _horner(r, c, _EXP, _terms(r)) * _pow2(nf)


@njit(inline="always")
def _log_1to3(s, c, one):
    """log(s) for 1 <= s <= 3: halve s above 1.5 (adding ln2), then the atanh series
    log(s) = 2 atanh(z), z = (s - 1) / (s + 1), |z| <= 0.2.  Horner: Estrin's scheme was slower
    here, and its high powers of z can underflow to slow subnormals in float32."""
    zero = one - one
    big = s > c[_K + 4]
    halved = s * c[_K + 5]
    ln2 = c[_K + 3]
    s = halved if big else s  # both arms computed first: a select, not a branch
    z = (s - one) / (s + one)
    return z * _horner(z * z, c, _LOG, _terms(z)) + (ln2 if big else zero)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _antidiagonal(cur, p1, p2, cost, lo, count, inv_gamma, one, cut, c):
    """cur[lo + 1 + q] = cost[lo + q] + softmin(p1[lo + q], p1[lo + 1 + q], p2[lo + q]), q < count.

    One anti-diagonal: p1 holds the previous one (up and left neighbours), p2 the one before
    (diagonal neighbour).  Branch-free and on views starting at lo, so numba adds no
    negative-index checks and LLVM turns the loop into SIMD (~2.5 ns per cell, float32, vs ~14
    for the scalar row recursion with libm).  Same soft-min and eps/4 cut-off as ``_softmin``.
    """
    zero = one - one
    ups, lefts, diags, costs, out = p1[lo:], p1[lo + 1:], p2[lo:], cost[lo:], cur[lo + 1:]
    for q in range(count):
        up, left, diag = ups[q], lefts[q], diags[q]
        lo1, hi1 = min(up, left), max(up, left)
        m, mid, top = min(lo1, diag), min(hi1, max(lo1, diag)), max(hi1, diag)
        t_mid = (m - mid) * inv_gamma
        t_top = (m - top) * inv_gamma
        e_mid = _exp_nonpos(max(t_mid, cut), c)
        e_top = _exp_nonpos(max(t_top, cut), c)
        total = one + (e_mid if t_mid > cut else zero) + (e_top if t_top > cut else zero)
        out[q] = costs[q] + (m - _log_1to3(total, c, one) / inv_gamma)


STRIP = 64  # rows per strip: its anti-diagonals are the SIMD loops of the sweep
PAD = 32  # anti-diagonal loops are padded to a multiple of this (no scalar remainder loop)


@njit(cache=True, error_model="numpy")
def _forward_strips(G, xx, yy, n, m, inv_gamma, one, inf, cut, c):
    """One utterance: G (N, M) holds x y^T on entry and R on exit (cells i < n, j < m).

    Each strip of STRIP rows is copied into a skewed layout where anti-diagonal k is a
    contiguous row, S[k + 2, r + 1] = cell (r, k - r), costs formed on the way
    (|x|^2 + |y|^2 - 2 x.y, clamped at 0); slot 0 holds the row above the strip.  Padded cells
    only ever see +inf neighbours or lie below the strip, so they never touch valid ones.
    """
    zero = one - one
    width = STRIP + 1 + PAD
    R = np.empty((m + STRIP + 1, width), dtype=G.dtype)
    cost = np.full((m + STRIP + 1, width), inf, dtype=G.dtype)
    above = np.full(m + 1, inf, dtype=G.dtype)  # R of the row above the strip, column j at j + 1
    above[0] = zero  # R[-1, -1] = 0: the first cell's diagonal predecessor
    for i0 in range(0, n, STRIP):
        h = min(STRIP, n - i0)
        R[: m + h + 1] = inf
        R[: m + 1, 0] = above
        for r in range(h):
            xr, row = xx[i0 + r], G[i0 + r]
            for j in range(m):
                g = row[j]
                cost[r + j + 2, r + 1] = max(xr + yy[j] - (g + g), zero)
        for k in range(m + h - 1):
            r_lo, r_hi = max(0, k - m + 1), min(k, h - 1)
            count = ((r_hi - r_lo + PAD) // PAD) * PAD
            _antidiagonal(R[k + 2], R[k + 1], R[k], cost[k + 2, 1:], r_lo, count, inv_gamma, one, cut, c)
        for r in range(h):
            row = G[i0 + r]
            for j in range(m):
                row[j] = R[r + j + 2, r + 1]
        above[0] = inf
        above[1:] = G[i0 + h - 1, :m]
    return G[n - 1, m - 1]


@njit(parallel=True, cache=True)
def sdtw_forward_dense(G, xx, yy, nlen, mlen, inv_gamma, one, inf, cut, c):
    """In place: G (B, N, M) = x y^T <- R, the dense DP table; returns R[n_b - 1, m_b - 1] (B,).

    xx (B, N) and yy (B, M) are the squared norms of the frames; c = ``poly_constants``.
    The layout afterwards is the dense band layout (lo = 0, hi = m_b - 1) that
    ``sdtw_backward`` expects; cells beyond the lengths keep x y^T and are never read.
    """
    B = G.shape[0]
    out = np.empty(B, dtype=G.dtype)
    for b in prange(B):
        out[b] = _forward_strips(G[b], xx[b], yy[b], nlen[b], mlen[b], inv_gamma, one, inf, cut, c)
    return out
