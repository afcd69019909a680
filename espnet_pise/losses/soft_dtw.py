"""Soft-DTW (Cuturi & Blondel, 2017) for batches of variable-length feature sequences.

``soft_dtw(x, y, ...)`` is the public entry point.  It runs its own backward (the expected-
alignment recursion) instead of autograd through a Python DP loop:

* CPU: numba kernels (``_sdtw_cpu``), batch items in parallel, one (B, N, W) buffer reused for
  cost, DP table and gradient; with a Sakoe-Chiba band only the band cells are stored (W ~ 2w).
* CUDA: a Triton wavefront kernel (``_sdtw_cuda``), one program per utterance, no length limit.

The cost is the squared Euclidean distance between frames; a B x N x M x D tensor is never built.
"""
import math
from typing import Optional, Tuple

import numpy as np
import torch


def _lengths(lens: Optional[torch.Tensor], batch: int, full: int, name: str) -> np.ndarray:
    if lens is None:
        return np.full(batch, full, dtype=np.int64)
    lens_np = torch.as_tensor(lens).detach().to("cpu", torch.int64).numpy()
    if lens_np.shape != (batch,):
        raise ValueError(f"{name} must have shape ({batch},), got {tuple(lens_np.shape)}")
    if (lens_np < 1).any() or (lens_np > full).any():
        raise ValueError(f"{name} must be in [1, {full}], got {lens_np.tolist()}")
    return lens_np


def band_limits(
    nlen: np.ndarray, mlen: np.ndarray, n_max: int, bandwidth: Optional[float]
) -> Tuple[np.ndarray, np.ndarray]:
    """First and last allowed column of every row: (B, N) int64 arrays ``lo``, ``hi``.

    Without a bandwidth every column < m_b is allowed.  With a Sakoe-Chiba radius w, cell (i, j)
    is allowed when ``|j - i * (m - 1) / (n - 1)| <= w`` (or j is the column nearest to
    the diagonal): the band follows the scaled diagonal of
    each utterance's own lengths, so N != M works.  Where m is much larger than n that band can
    leave gaps between rows; each row is then extended just far enough (``hi[i] >= lo[i+1] - 1``)
    that a monotone path from (0, 0) to (n-1, m-1) exists.  Rows ``i >= n_b`` are empty (hi < lo).
    """
    B = len(nlen)
    lo = np.zeros((B, n_max), dtype=np.int64)
    hi = np.full((B, n_max), -1, dtype=np.int64)
    for b in range(B):
        n, m = int(nlen[b]), int(mlen[b])
        if bandwidth is None or n == 1:
            hi[b, :n] = m - 1
            continue
        centre = np.arange(n) * ((m - 1) / (n - 1))
        lo_b = np.clip(np.ceil(centre - bandwidth - 1e-9), 0, m - 1).astype(np.int64)
        hi_b = np.clip(np.floor(centre + bandwidth + 1e-9), 0, m - 1).astype(np.int64)
        nearest = np.rint(centre).astype(np.int64)  # a radius < 0.5 can miss every column
        lo_b, hi_b = np.minimum(lo_b, nearest), np.maximum(hi_b, nearest)
        hi_b[:-1] = np.maximum(hi_b[:-1], lo_b[1:] - 1)
        lo[b, :n], hi[b, :n] = lo_b, hi_b
    return lo, hi


def _dp_table(x, y, nlen, mlen, lo, hi, gamma, banded):
    """Soft-DTW values (B,) and the DP table R that the backward turns into the alignment."""
    if x.is_cuda:
        from espnet_pise.losses import _sdtw_cuda

        return _sdtw_cuda.forward(x, y, nlen, mlen, lo, hi, gamma)
    from espnet_pise.losses import _sdtw_cpu

    xd, yd = x.detach().contiguous(), y.detach().contiguous()
    if banded:
        width = int((hi - lo + 1).max())
        table = torch.from_numpy(_sdtw_cpu.band_cost(xd.numpy(), yd.numpy(), lo, hi, width))
        out = _sdtw_cpu.sdtw_forward(table.numpy(), lo, hi, nlen, mlen, *_scalars(table, gamma))
    else:
        # x y^T by BLAS; the kernel adds the norms as it copies each strip (one pass, no clamp
        # pass).  vector_norm reduces without the (B, N, D) temporary of x.pow(2) (at N = 250,
        # D = 768 that temporary was 3x the table and set the peak memory).
        xx = torch.linalg.vector_norm(xd, dim=-1).square()
        yy = torch.linalg.vector_norm(yd, dim=-1).square()
        table = torch.bmm(xd, yd.transpose(1, 2))
        out = _sdtw_cpu.sdtw_forward_dense(
            table.numpy(), xx.numpy(), yy.numpy(), nlen, mlen, *_scalars(table, gamma),
            _sdtw_cpu.poly_constants(table.numpy().dtype),
        )
    return torch.from_numpy(out).to(x.dtype), table


def _scalars(table: torch.Tensor, gamma: float):
    """1/gamma, 1, inf and the soft-min cut-off log(eps / 4) in the table's dtype: float32 tables
    get float32 math in the kernels."""
    kind = np.float32 if table.dtype == torch.float32 else np.float64
    return kind(1.0 / gamma), kind(1.0), kind(np.inf), kind(np.log(np.finfo(kind).eps / 4))


class _SoftDTWFunction(torch.autograd.Function):
    # autocast (AMP, CPU bf16) would run the cost bmm in half precision: the DP table and the
    # gradient stay in the inputs' float32/float64 (soft_dtw() upcasts lower precisions)
    @staticmethod
    def forward(ctx, x, y, nlen, mlen, lo, hi, gamma, banded):
        with torch.autocast(x.device.type, enabled=False):
            return _SoftDTWFunction._forward(ctx, x, y, nlen, mlen, lo, hi, gamma, banded)

    @staticmethod
    def _forward(ctx, x, y, nlen, mlen, lo, hi, gamma, banded):
        out, table = _dp_table(x, y, nlen, mlen, lo, hi, gamma, banded)
        ctx.save_for_backward(x, y)
        ctx.table, ctx.nlen, ctx.mlen, ctx.lo, ctx.hi = table, nlen, mlen, lo, hi
        ctx.gamma, ctx.banded = gamma, banded
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        with torch.autocast(grad_out.device.type, enabled=False):
            return _SoftDTWFunction._backward(ctx, grad_out)

    @staticmethod
    def _backward(ctx, grad_out):
        x, y = ctx.saved_tensors
        table = ctx.table
        ctx.table = None  # the DP table becomes the gradient buffer (in place) ...
        if table is None:  # ... so a second backward (retain_graph) recomputes it
            table = _dp_table(x, y, ctx.nlen, ctx.mlen, ctx.lo, ctx.hi, ctx.gamma, ctx.banded)[1]
        if x.is_cuda:
            from espnet_pise.losses import _sdtw_cuda

            align = _sdtw_cuda.backward(table, x, y, ctx.nlen, ctx.mlen, ctx.lo, ctx.hi, ctx.gamma)
        else:
            from espnet_pise.losses import _sdtw_cpu

            nnz = _sdtw_cpu.sdtw_backward(
                table.numpy(), ctx.lo, ctx.hi, ctx.nlen, ctx.mlen, *_scalars(table, ctx.gamma)
            )
            align = table
        align.mul_(grad_out.to(align.dtype).view(-1, 1, 1))
        need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        gx = gy = None
        if not x.is_cuda and (ctx.banded or _is_sparse(nnz, ctx.nlen, ctx.mlen)):
            xd, yd = x.detach().contiguous(), y.detach().contiguous()
            gx, gy = torch.empty_like(xd), torch.empty_like(yd)  # zeroed in the kernel
            _sdtw_cpu.sparse_cost_grad(
                align.numpy(), xd.numpy(), yd.numpy(), ctx.lo, ctx.hi, gx.numpy(), gy.numpy()
            )
        else:
            # d/dx_i sum_j E_ij |x_i - y_j|^2 = 2 (x_i sum_j E_ij - sum_j E_ij y_j); skipped when
            # not needed (the clean SSL features in the losses carry no gradient)
            if need_x:
                gx = 2.0 * (x * align.sum(2, keepdim=True) - torch.bmm(align, y))
            if need_y:
                gy = 2.0 * (y * align.sum(1).unsqueeze(-1) - torch.bmm(align.transpose(1, 2), x))
        return gx, gy, None, None, None, None, None, None


# Below this share of non-zero alignment cells a loop over those cells beats the two dense
# (B, N, M) x (B, M, D) products of the gradient (crossover measured at about 0.2 for B = 8,
# N = M = 250, D = 768 on 2 cores); small gamma makes E nearly a hard path (density ~1 %)
SPARSE_GRAD_DENSITY = 0.15


def _is_sparse(nnz: np.ndarray, nlen: np.ndarray, mlen: np.ndarray) -> bool:
    """nnz: (B,) non-zero alignment cells per batch item (from the backward kernel)."""
    return float(nnz.sum()) < SPARSE_GRAD_DENSITY * float((nlen * mlen).sum())


def _soft_dtw_raw(x, y, nlen, mlen, gamma, bandwidth):
    lo, hi = band_limits(nlen, mlen, x.shape[1], bandwidth)
    return _SoftDTWFunction.apply(x, y, nlen, mlen, lo, hi, float(gamma), bandwidth is not None)


def soft_dtw(
    x: torch.Tensor,
    y: torch.Tensor,
    x_lens: Optional[torch.Tensor] = None,
    y_lens: Optional[torch.Tensor] = None,
    gamma: float = 0.1,
    bandwidth: Optional[float] = None,
    normalize: bool = False,
) -> torch.Tensor:
    """Soft-DTW discrepancy between two batches of feature sequences.

    Args:
        x: (B, N, D) features; frames beyond ``x_lens[b]`` are ignored.
        y: (B, M, D) features; frames beyond ``y_lens[b]`` are ignored.
        x_lens, y_lens: (B,) int lengths (default: full length).
        gamma: soft-min temperature (> 0); gamma -> 0 gives hard DTW.
        bandwidth: Sakoe-Chiba radius in frames around the scaled diagonal (None: no band).
        normalize: return the divergence sdtw(x, y) - (sdtw(x, x) + sdtw(y, y)) / 2, which is 0
            for identical inputs and (for these costs) positive otherwise.
    Returns:
        (B,) soft-DTW values, differentiable w.r.t. x and y.
    """
    if x.dim() != 3 or y.dim() != 3:
        raise ValueError(f"x and y must be (B, N, D) and (B, M, D); got {tuple(x.shape)}, {tuple(y.shape)}")
    if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise ValueError(f"batch/feature sizes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
    if not gamma > 0 or not math.isfinite(gamma):
        raise ValueError(f"gamma must be a positive finite number, got {gamma}")
    if bandwidth is not None and bandwidth < 0:
        raise ValueError(f"bandwidth must be >= 0 or None, got {bandwidth}")
    if x.dtype != y.dtype:
        raise ValueError(f"x and y dtypes differ: {x.dtype} vs {y.dtype}")
    if x.shape[1] == 0 or y.shape[1] == 0:
        raise ValueError(f"soft_dtw needs at least one frame per sequence; got x {tuple(x.shape)}, y {tuple(y.shape)}")
    for name, t in (("x", x), ("y", y)):
        finite = torch.isfinite(t.detach()).flatten(1).all(1)
        if not bool(finite.all()):
            raise ValueError(f"soft_dtw: {name} has NaN/Inf values in batch items {(~finite).nonzero().flatten().tolist()}")
    if x.dtype not in (torch.float32, torch.float64):  # half / bf16 (AMP): accumulate in float32
        x, y = x.float(), y.float()
    batch = x.shape[0]
    nlen = _lengths(x_lens, batch, x.shape[1], "x_lens")
    mlen = _lengths(y_lens, batch, y.shape[1], "y_lens")
    value = _soft_dtw_raw(x, y, nlen, mlen, gamma, bandwidth)
    if normalize:
        value = value - 0.5 * (
            _soft_dtw_raw(x, x, nlen, nlen, gamma, bandwidth)
            + _soft_dtw_raw(y, y, mlen, mlen, gamma, bandwidth)
        )
    return value


def soft_alignment(x: torch.Tensor, y: torch.Tensor, gamma: float = 0.1) -> torch.Tensor:
    """Expected soft-DTW alignment E = d sdtw / d cost, (B, N, M), for plots and analysis (CPU).

    Row i of E says how much frame i of ``x`` is matched to each frame of ``y``; with gamma -> 0
    it becomes the hard DTW path.
    """
    from espnet_pise.losses import _sdtw_cpu

    x, y = x.detach().cpu().double().contiguous(), y.detach().cpu().double().contiguous()
    b, n, m = x.shape[0], x.shape[1], y.shape[1]
    nlen, mlen = np.full(b, n, dtype=np.int64), np.full(b, m, dtype=np.int64)
    lo, hi = band_limits(nlen, mlen, n, None)
    _, table = _dp_table(x, y, nlen, mlen, lo, hi, float(gamma), False)
    _sdtw_cpu.sdtw_backward(table.numpy(), lo, hi, nlen, mlen, *_scalars(table, gamma))
    return table
