"""Paired bootstrap intervals of WER differences, and the per-utterance counts they are built on."""
import json

import numpy as np
import pytest

from espnet_pise.bin.score_wer import score
from espnet_pise.report.bootstrap import wer_difference


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
