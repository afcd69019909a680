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


def test_set_size_options():
    base = corpus.plan("small", seed=3)
    a = corpus.plan("small", seed=3, n_train=20, n_dev=5, n_test=7)
    assert (len(a["train"]), len(a["dev"])) == (20, 5)
    for name in ("test_clean", "test_seen", "test_unseen", "test_seen_shift", "test_unseen_speed"):
        assert len(a[name]) == 7, name
    # the dev sentences depend neither on the test nor on the training size; test sizes up to the
    # reserve do not move the training sentences
    texts = lambda p, s: [u.text for u in p[s]]  # noqa: E731
    default = corpus.plan("default", seed=0)
    bigger = corpus.plan("default", seed=0, n_test=corpus.SIZES["default"]["test_reserve"])
    assert texts(bigger, "dev") == texts(default, "dev") and texts(bigger, "train") == texts(default, "train")
    assert texts(bigger, "test_seen")[:100] == texts(default, "test_seen")
    large = corpus.plan("large", seed=0)  # more training sentences, the same dev and test utterances
    assert len(large["train"]) == 6700 and len(default["train"]) == 2000
    for name in ("dev", "test_clean", "test_seen", "test_unseen", "test_seen_shift", "test_unseen_speed"):
        assert large[name] == default[name], name
    assert texts(corpus.plan("small", seed=3, n_test=300), "dev") == texts(base, "dev")
    # a test set larger than the reserve grows the reserve; still no sentence in two sets
    big = corpus.plan("small", seed=3, n_test=250)
    sets = [set(texts(big, s)) for s in ("train", "dev", "test_seen", "test_unseen")]
    assert sum(map(len, sets)) == len(set().union(*sets)) and len(sets[2]) == 250
    with pytest.raises(ValueError, match="at least 1"):
        corpus.set_sizes("small", n_test=0)
    with pytest.raises(ValueError, match="sentences needed"):
        corpus.plan("small", seed=0, n_train=20000)


@pytest.mark.parametrize("voice_set", sorted(voices.VOICE_SETS))
def test_voice_set_option(voice_set):
    p = corpus.plan("tiny", seed=0, voice_set=voice_set)
    names = set(voices.VOICE_SETS[voice_set])
    by_name = voices.VOICES
    for s in ("train", "dev", "test_seen", "test_unseen"):
        assert {u.voice for u in p[s]} <= names, s
    assert {u.voice for part in p["babble"].values() for u in part} <= names
    heard = {by_name[u.voice].donor for s in ("train", "dev") for u in p[s]}
    heard |= {by_name[u.voice].donor for part in p["babble"].values() for u in part}
    assert heard.isdisjoint({by_name[u.voice].donor for u in p["test_unseen"]})
    assert {by_name[u.voice].donor for u in p["test_seen"]} <= heard


def test_large_size_has_five_hours():
    n = corpus.SIZES["large"]["train"]
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
    with pytest.raises(ValueError, match="built with"):
        corpus.build(root / "data", root / "audio", "tiny", seed=0, nj=1, voice_set="hard")
    with pytest.raises(ValueError, match="built with"):
        corpus.build(root / "data", root / "audio", "tiny", seed=0, nj=1, n_test=3)


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
