"""The frame cost of soft-DTW: squared Euclidean distances between the frames of two batches.

Used by the CUDA path of ``soft_dtw`` (``_sdtw_cuda``, which ``soft_dtw`` imports) and by the
report's alignment figure; it imports neither, so the import graph stays one-way.  (The CPU
paths form the same cost inside their numba kernels.)
"""
import torch


def pairwise_sq_dist(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B, N, M) squared Euclidean distances, built in place in one buffer (bmm, then in-place
    terms: 7.7 ms at B = 8, N = M = 250, D = 768 on 2 cores, where baddbmm_ into the norms took 11)."""
    cost = torch.bmm(x, y.transpose(1, 2))
    cost.mul_(-2.0)
    cost.add_(x.pow(2).sum(-1).unsqueeze(2))
    cost.add_(y.pow(2).sum(-1).unsqueeze(1))
    return cost.clamp_(min=0.0)
