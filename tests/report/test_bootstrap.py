"""Paired bootstrap intervals of WER differences, and the per-utterance counts they are built on."""
import json

import numpy as np
import pytest

from espnet_pise.bin.score_wer import score
from espnet_pise.report.bootstrap import seed_wer_difference, wer_difference


def _systems(n=200, seed=0):
    rng = np.random.default_rng(seed)
    a = {f"u{i}": [int(rng.integers(0, 5)), 10] for i in range(n)}
    return a, rng


def test_a_system_better_on_every_utterance_has_an_interval_below_zero():
    a, rng = _systems()
    b = {u: [e + 1, n] for u, (e, n) in a.items()}  # one more error everywhere: +10 points
    point, lo, hi = wer_difference(a, b)
    assert point == pytest.approx(-10.0) and lo <= point <= hi < 0


def test_noise_only_differences_contain_zero_and_shrink_with_more_utterances():
    widths = []
    for n in (100, 1600):
        a, rng = _systems(n, seed=1)
        b = {u: [max(0, e + int(rng.integers(-1, 2))), m] for u, (e, m) in a.items()}
        point, lo, hi = wer_difference(a, b)
        assert lo <= point <= hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2.5  # ~1/sqrt(n)


def test_identical_systems_and_mismatched_utterances():
    a, _ = _systems(50)
    assert wer_difference(a, dict(a)) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="scored on different utterances"):
        wer_difference(a, {k: v for k, v in list(a.items())[:-1]})


def test_per_utterance_counts_add_up_to_the_corpus_errors(tmp_path):
    (tmp_path / "ref").write_text("a AND GOD SAID LET THERE BE LIGHT\nb IN HIS FAVOUR IS LIFE\nc THE LORD\n")
    (tmp_path / "hyp").write_text("a And God said, let there be a light.\nb In his favor, his life.\nc\n")
    res = score(tmp_path / "ref", tmp_path / "hyp", "whisper_en")
    per = res["per_utt"]
    assert per == {"a": [1, 7], "b": [1, 5], "c": [2, 2]}  # 'favour' = 'favor' after normalisation
    assert sum(e for e, _ in per.values()) == res["sub"] + res["del"] + res["ins"]
    assert sum(n for _, n in per.values()) == res["wrd"]
    json.dumps(res)


def test_seed_difference_with_one_run_each_matches_the_paired_bootstrap():
    a, rng = _systems(400, seed=2)
    b = {u: [max(0, e + int(rng.integers(-1, 3))), m] for u, (e, m) in a.items()}
    point, lo, hi = seed_wer_difference([a], [b])
    p2, lo2, hi2 = wer_difference(a, b)
    assert point == pytest.approx(p2)
    assert lo == pytest.approx(lo2, abs=0.3) and hi == pytest.approx(hi2, abs=0.3)


def test_seed_difference_is_the_mean_over_runs_and_widens_with_the_spread_between_runs():
    a, rng = _systems(400, seed=3)
    b = {u: [max(0, e + int(rng.integers(-1, 2))), m] for u, (e, m) in a.items()}
    # two runs of b that agree with each other, and two that differ by +/-1 error on every 4th utterance
    close = [b, dict(b)]
    far = [{u: [e + (1 if k % 4 == 0 else 0), m] for k, (u, (e, m)) in enumerate(b.items())},
           {u: [max(0, e - (1 if k % 4 == 0 else 0)), m] for k, (u, (e, m)) in enumerate(b.items())}]
    p_close, lo_close, hi_close = seed_wer_difference([a], close)
    p_far, lo_far, hi_far = seed_wer_difference([a], far)
    mean_far = np.mean([wer_difference(a, r)[0] for r in far])
    assert p_far == pytest.approx(mean_far)
    assert lo_close <= p_close <= hi_close and lo_far <= p_far <= hi_far
    assert hi_far - lo_far > 1.5 * (hi_close - lo_close)


def test_seed_difference_refuses_runs_on_other_utterances():
    a, _ = _systems(50)
    with pytest.raises(ValueError, match="different utterances"):
        seed_wer_difference([a], [a, {k: v for k, v in list(a.items())[:-1]}])
