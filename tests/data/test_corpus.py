import json

import numpy as np
import pytest

from espnet_pise.data import corpus, noise, voices
from espnet_pise.data.kaldi import read_scp
from espnet_pise.data.validate import check_dir


def test_plan_is_deterministic_and_disjoint():
    a, b = corpus.plan("small", seed=3), corpus.plan("small", seed=3)
    assert [u.uid for u in a["train"]] == [u.uid for u in b["train"]]
    assert [u.text for u in corpus.plan("small", seed=4)["train"]] != [u.text for u in a["train"]]
    texts = {name: {u.text for u in a[name]} for name in ("train", "dev", "test_seen", "test_unseen")}
    for x in texts:
        for y in texts:
            if x < y:
                assert texts[x].isdisjoint(texts[y]), (x, y)
    babble = {u.text for part in a["babble"].values() for u in part}
    assert babble.isdisjoint(set().union(*texts.values()))
    seen, unseen = voices.split_voices()
    assert {u.voice for u in a["test_unseen"]} <= {v.name for v in unseen}
    assert {u.voice for u in a["train"]} <= {v.name for v in seen}
    assert {u.noise for u in a["test_unseen"]} <= set(noise.UNSEEN_TYPES)
    assert {u.noise for u in a["train"]} <= set(noise.SEEN_TYPES)
    assert {u.snr for u in a["train"]} == set(corpus.TRAIN_SNRS)
    assert {u.snr for u in a["test_seen"]} == set(corpus.TEST_SNRS)
    # position-invariance copies: same utterances, only the offset / speed differ
    for base in corpus.NOISY_TESTS:
        for u, s, v in zip(a[base], a[f"{base}_shift"], a[f"{base}_speed"]):
            assert (u.uid, u.text, u.noise, u.snr) == (s.uid, s.text, s.noise, s.snr) == (v.uid, v.text, v.noise, v.snr)
            assert 0.1 <= s.shift_s <= 1.0 and v.speed in corpus.SPEEDS


def test_default_size_has_five_hours():
    n = corpus.SIZES["default"]["train"]
    # measured mean duration of a default training utterance: 4.95 h / 6500 = 2.74 s
    assert n * 2.74 / 3600 >= 5.05


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    records = corpus.build(root / "data", root / "audio", "tiny", seed=0, nj=2)
    return root, records


def test_tiny_corpus_valid(tiny):
    root, records = tiny
    for name in records:
        assert check_dir(root / "data" / name) == [], name
    shift = read_scp(root / "data/test_seen_shift/utt2dur")
    base = read_scp(root / "data/test_seen/utt2dur")
    cats = read_scp(root / "data/test_seen_shift/utt2category")
    for uid in base:
        offset = float(cats[uid].split("_shift")[1].rstrip("s"))
        assert float(shift[uid]) == pytest.approx(float(base[uid]) + offset, abs=0.002)
    assert read_scp(root / "data/test_clean/wav.scp") == read_scp(root / "data/test_clean/spk1.scp")


def test_rerun_is_idempotent_and_completes_interrupted_work(tiny):
    root, records = tiny
    before = {p: p.read_bytes() for p in (root / "data").rglob("*") if p.is_file()}
    # simulate an interruption: two utterances lost their record, one left a temp file
    lost = sorted((root / "audio" / "train").glob("*.json"))[:2]
    for p in lost:
        p.unlink()
    (root / "audio" / "train" / "junk.tmp.wav").write_bytes(b"partial")
    corpus.build(root / "data", root / "audio", "tiny", seed=0, nj=1)
    after = {p: p.read_bytes() for p in (root / "data").rglob("*") if p.is_file()}
    assert before == after  # same lists, same order, no duplicates
    assert all(p.is_file() for p in lost)
    with pytest.raises(ValueError, match="built with"):
        corpus.build(root / "data", root / "audio", "tiny", seed=1, nj=1)


def test_mixture_snr_in_records(tiny):
    root, _ = tiny
    import soundfile as sf
    from espnet_pise.data.mixing import active_level

    cats = read_scp(root / "data/test_seen/utt2category")
    for uid, cat in list(cats.items())[:4]:
        snr = float(cat.split("_")[1].rstrip("dB"))
        clean, _ = sf.read(read_scp(root / "data/test_seen/spk1.scp")[uid])
        noise_sig, _ = sf.read(read_scp(root / "data/test_seen/noise1.scp")[uid])
        assert 10 * np.log10(active_level(clean) / np.mean(noise_sig ** 2)) == pytest.approx(snr, abs=0.2)
    rec = json.loads(next((root / "audio" / "test_seen").glob("*.json")).read_text())
    assert {"uid", "spk", "text", "category", "dur", "noisy", "clean", "noise"} <= set(rec)
