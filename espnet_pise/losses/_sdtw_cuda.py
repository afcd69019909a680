"""Triton wavefront kernels for soft-DTW on CUDA.

One program per utterance sweeps the anti-diagonals of the dense (N, M) table, BLOCK cells of a
diagonal at a time (longer diagonals loop, so there is no length limit), with a CTA barrier
between diagonals.  As on the CPU, the cost buffer is overwritten by R in the forward and by the
expected alignment E in the backward; the backward keeps the soft-min pieces of the last three diagonals
in a small (B, 6, N) scratch buffer.  Set TRITON_INTERPRET=1 to run these kernels on CPU tensors.
"""
import numpy as np
import torch
import triton
import triton.language as tl

from espnet_pise.losses.frame_cost import pairwise_sq_dist

BLOCK = 256


@triton.jit
def _softmin_pieces(a, b, c, gamma):
    """min(a, b, c), that minimum with inf replaced by 0, and sum_k exp((min - x_k) / gamma)."""
    m = tl.minimum(tl.minimum(a, b), c)
    m_safe = tl.where(m == float("inf"), 0.0, m)
    z = tl.exp((m_safe - a) / gamma) + tl.exp((m_safe - b) / gamma) + tl.exp((m_safe - c) / gamma)
    return m, m_safe, z


@triton.jit
def _softmin3(a, b, c, gamma):
    _, m_safe, z = _softmin_pieces(a, b, c, gamma)
    return m_safe - gamma * tl.log(z)


@triton.jit
def _load_r(C, lo_ptr, hi_ptr, i, j, M, ok):
    """R[i, j] with +inf outside the table or the band."""
    inside = ok & (i >= 0) & (j >= 0)
    lo = tl.load(lo_ptr + i, mask=inside, other=0)
    hi = tl.load(hi_ptr + i, mask=inside, other=-1)
    inside = inside & (j >= lo) & (j <= hi)
    return tl.load(C + i * M + j, mask=inside, other=float("inf"))


@triton.jit
def _weight(S, slot, N, row, r, gamma, ok):
    """Soft-min weight of a predecessor with table value r at the successor stored in slot/row."""
    m = tl.load(S + (2 * slot) * N + row, mask=ok, other=0.0)
    z = tl.load(S + (2 * slot + 1) * N + row, mask=ok, other=1.0)
    return tl.exp((m - r) / gamma) / z


@triton.jit
def _forward_kernel(C_ptr, lo_ptr, hi_ptr, nlen_ptr, mlen_ptr, out_ptr, N, M, gamma, BLOCK: tl.constexpr):
    b = tl.program_id(0)
    C = C_ptr + b * N * M
    lo_b = lo_ptr + b * N
    hi_b = hi_ptr + b * N
    n = tl.load(nlen_ptr + b)
    m = tl.load(mlen_ptr + b)
    offs = tl.arange(0, BLOCK)
    # loop bounds use the padded sizes N, M (scalars); per-utterance lengths only mask
    for d in range(0, N + M - 1):
        i_first = tl.maximum(0, d - M + 1)
        i_last = tl.minimum(N - 1, d)
        for start in range(i_first, i_last + 1, BLOCK):
            i = start + offs
            j = d - i
            ok = (i <= i_last) & (i < n) & (j < m)
            lo = tl.load(lo_b + i, mask=ok, other=0)
            hi = tl.load(hi_b + i, mask=ok, other=-1)
            cell = ok & (j >= lo) & (j <= hi)
            up = _load_r(C, lo_b, hi_b, i - 1, j, M, cell)
            left = _load_r(C, lo_b, hi_b, i, j - 1, M, cell)
            diag = _load_r(C, lo_b, hi_b, i - 1, j - 1, M, cell)
            smin = _softmin3(up, left, diag, gamma)
            smin = tl.where((i == 0) & (j == 0), 0.0, smin)
            cost = tl.load(C + i * M + j, mask=cell, other=0.0)
            tl.store(C + i * M + j, cost + smin, mask=cell)
        tl.debug_barrier()
    last_lo = tl.load(lo_b + n - 1)
    last_hi = tl.load(hi_b + n - 1)
    val = tl.load(C + (n - 1) * M + (m - 1))
    val = tl.where((m - 1 >= last_lo) & (m - 1 <= last_hi), val, float("inf"))
    tl.store(out_ptr + b, val)


@triton.jit
def _backward_kernel(C_ptr, S_ptr, lo_ptr, hi_ptr, nlen_ptr, mlen_ptr, N, M, gamma, BLOCK: tl.constexpr):
    b = tl.program_id(0)
    C = C_ptr + b * N * M
    # for every cell s of the last three diagonals: the minimum m_s of its predecessors' R and
    # Z_s = sum_k exp((m_s - R_k) / gamma); the weight of predecessor p is exp((m_s - R_p)/gamma) / Z_s,
    # a difference of neighbouring R values (accurate in float32, unlike R_p - softmin_s)
    S = S_ptr + b * 6 * N  # slot d % 3: m at [2 * slot], Z at [2 * slot + 1], indexed by row
    lo_b = lo_ptr + b * N
    hi_b = hi_ptr + b * N
    n = tl.load(nlen_ptr + b)
    m = tl.load(mlen_ptr + b)
    offs = tl.arange(0, BLOCK)
    for step in range(0, N + M - 1):
        d = N + M - 2 - step
        i_first = tl.maximum(0, d - M + 1)
        i_last = tl.minimum(N - 1, d)
        # phase 1: soft-min pieces of every cell on diagonal d (reads R of d-1, d-2)
        for start in range(i_first, i_last + 1, BLOCK):
            i = start + offs
            j = d - i
            ok = (i <= i_last) & (i < n) & (j < m)
            up = _load_r(C, lo_b, hi_b, i - 1, j, M, ok)
            left = _load_r(C, lo_b, hi_b, i, j - 1, M, ok)
            diag = _load_r(C, lo_b, hi_b, i - 1, j - 1, M, ok)
            lowest, _, z = _softmin_pieces(up, left, diag, gamma)
            tl.store(S + (2 * (d % 3)) * N + i, lowest, mask=ok)
            tl.store(S + (2 * (d % 3) + 1) * N + i, z, mask=ok)
        tl.debug_barrier()
        # phase 2: E on diagonal d from E and soft-min of the successors on d+1 and d+2
        for start in range(i_first, i_last + 1, BLOCK):
            i = start + offs
            j = d - i
            ok = (i <= i_last) & (i < n) & (j < m)
            lo = tl.load(lo_b + i, mask=ok, other=0)
            hi = tl.load(hi_b + i, mask=ok, other=-1)
            cell = ok & (j >= lo) & (j <= hi)
            r = tl.load(C + i * M + j, mask=cell, other=float("inf"))
            finite = cell & (r < float("inf"))
            s1 = (d + 1) % 3
            s2 = (d + 2) % 3
            # successor (i, j+1), on diagonal d+1
            ok_r = finite & (j + 1 <= hi)
            e_r = tl.load(C + i * M + j + 1, mask=ok_r, other=0.0)
            w_r = _weight(S, s1, N, i, r, gamma, ok_r)
            # successors (i+1, j) on d+1 and (i+1, j+1) on d+2
            ok_n = finite & (i + 1 < n)
            lo_n = tl.load(lo_b + i + 1, mask=ok_n, other=0)
            hi_n = tl.load(hi_b + i + 1, mask=ok_n, other=-1)
            ok_d = ok_n & (j >= lo_n) & (j <= hi_n)
            e_d = tl.load(C + (i + 1) * M + j, mask=ok_d, other=0.0)
            w_d = _weight(S, s1, N, i + 1, r, gamma, ok_d)
            ok_g = ok_n & (j + 1 >= lo_n) & (j + 1 <= hi_n)
            e_g = tl.load(C + (i + 1) * M + j + 1, mask=ok_g, other=0.0)
            w_g = _weight(S, s2, N, i + 1, r, gamma, ok_g)
            e = tl.where(ok_r, e_r * w_r, 0.0) + tl.where(ok_d, e_d * w_d, 0.0) + tl.where(ok_g, e_g * w_g, 0.0)
            e = tl.where((i == n - 1) & (j == m - 1), 1.0, e)
            tl.store(C + i * M + j, tl.where(finite, e, 0.0), mask=cell)
        tl.debug_barrier()


def _to_device(a: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=torch.int32)


def forward(x, y, nlen, mlen, lo, hi, gamma):
    B, N, _ = x.shape
    M = y.shape[1]
    table = pairwise_sq_dist(x.detach().contiguous(), y.detach().contiguous())
    dev = x.device
    args = [_to_device(a, dev) for a in (lo, hi, nlen, mlen)]
    out = torch.empty(B, device=dev, dtype=x.dtype)
    _forward_kernel[(B,)](table, *args, out, N, M, float(gamma), BLOCK=BLOCK)
    return out, table


def backward(table, x, y, nlen, mlen, lo, hi, gamma):
    B, N, M = table.shape
    dev = table.device
    lo_t, hi_t, n_t, m_t = [_to_device(a, dev) for a in (lo, hi, nlen, mlen)]
    scratch = torch.empty(B, 6, N, device=dev, dtype=table.dtype)
    _backward_kernel[(B,)](table, scratch, lo_t, hi_t, n_t, m_t, N, M, float(gamma), BLOCK=BLOCK)
    # cells outside the band / lengths were never written: zero them
    cols = torch.arange(M, device=dev)
    valid = (cols >= lo_t.unsqueeze(-1)) & (cols <= hi_t.unsqueeze(-1))
    table.masked_fill_(~valid, 0.0)
    return table
