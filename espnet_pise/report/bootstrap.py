"""Paired bootstrap confidence intervals of corpus-level WER differences (scipy.stats.bootstrap).

Two systems decode the same utterances; resampling utterances (with their per-utterance word
errors in both systems) gives the distribution of WER(a) - WER(b) = (sum e_a - sum e_b) / sum n.
"""
from typing import Dict, List, Tuple

import numpy as np
from scipy.stats import bootstrap


def wer_difference(a: Dict[str, List[int]], b: Dict[str, List[int]], n_resamples: int = 2000,
                   confidence: float = 0.95, seed: int = 0) -> Tuple[float, float, float]:
    """WER(a) - WER(b) in % and its paired bootstrap (BCa) interval.

    a, b: ``{utt_id: [word_errors, reference_words]}`` over the same utterances (``per_utt.json``
    of ``espnet_pise.bin.score_wer``).
    """
    if set(a) != set(b):
        raise ValueError(f"the two systems were scored on different utterances ({len(set(a) ^ set(b))} differ)")
    ids = sorted(a)
    ea = np.array([a[i][0] for i in ids], float)
    eb = np.array([b[i][0] for i in ids], float)
    n = np.array([a[i][1] for i in ids], float)

    def diff(x, y, w, axis=-1):
        return 100.0 * (x.sum(axis) - y.sum(axis)) / w.sum(axis)

    point = float(diff(ea, eb, n))
    if np.all(ea == eb):
        return point, point, point
    for method in ("BCa", "percentile"):  # BCa is undefined when every resample gives the same value
        res = bootstrap((ea, eb, n), diff, paired=True, vectorized=True, n_resamples=n_resamples,
                        confidence_level=confidence, method=method, random_state=np.random.default_rng(seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            break
    return point, low, high
