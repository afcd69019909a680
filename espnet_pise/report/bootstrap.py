"""Paired bootstrap confidence intervals of corpus-level WER differences (scipy.stats.bootstrap).

Two systems decode the same utterances; resampling utterances (with their per-utterance word
errors in both systems) gives the distribution of WER(a) - WER(b) = (sum e_a - sum e_b) / sum n.
``seed_wer_difference`` adds a level for systems trained more than once (training seeds).
"""
from typing import Dict, List, Sequence, Tuple

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


def seed_wer_difference(a_runs: Sequence[Dict[str, List[int]]], b_runs: Sequence[Dict[str, List[int]]],
                        n_resamples: int = 2000, confidence: float = 0.95,
                        seed: int = 0) -> Tuple[float, float, float]:
    """Mean-over-runs WER(a) - WER(b) in %, with an interval over training runs and utterances.

    a_runs, b_runs: each system's runs (one per training seed; ``per_utt.json`` of each), all on
    the same utterances.  A two-level bootstrap: every resample draws each system's runs with
    replacement, then the utterances (paired: the same draw for both systems); the statistic is
    the difference of the drawn runs' mean WERs; percentile interval.  With one run per system it
    is the paired bootstrap over utterances.  With few runs the spread between seeds is sampled
    from those few: two seeds show whether the training draw matters, not how much it can.
    """
    runs = list(a_runs) + list(b_runs)
    if not a_runs or not b_runs:
        raise ValueError("each system needs at least one run")
    ids = sorted(runs[0])
    for r in runs[1:]:
        if set(r) != set(ids):
            raise ValueError(f"the runs were scored on different utterances ({len(set(r) ^ set(ids))} differ)")
    n = np.array([runs[0][i][1] for i in ids], float)
    ea = np.array([[r[i][0] for i in ids] for r in a_runs], float)  # (runs, utterances)
    eb = np.array([[r[i][0] for i in ids] for r in b_runs], float)
    point = float(100.0 * (ea.mean(0).sum() - eb.mean(0).sum()) / n.sum())
    rng = np.random.default_rng(seed)
    utts = rng.integers(0, len(ids), (n_resamples, len(ids)))

    def drawn_mean_errors(e):  # (resamples,): the mean over drawn runs of each run's errors on the drawn utterances
        per_run = e[:, utts].sum(-1).T  # (resamples, runs)
        pick = rng.integers(0, e.shape[0], per_run.shape)
        return np.take_along_axis(per_run, pick, axis=1).mean(1)

    diff = 100.0 * (drawn_mean_errors(ea) - drawn_mean_errors(eb)) / n[utts].sum(-1)
    tail = 100.0 * (1 - confidence) / 2
    low, high = np.percentile(diff, [tail, 100.0 - tail])
    return point, float(low), float(high)
