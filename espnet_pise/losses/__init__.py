"""Position-invariant SSL losses and the soft-DTW core."""
from espnet_pise.losses.soft_dtw import soft_dtw

__all__ = ["soft_dtw"]
