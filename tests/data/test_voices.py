import shutil

import pytest
import soundfile as sf

from espnet_pise.data import voices


def test_inventory_and_donor_split():
    assert len(voices.VOICES) >= 24
    assert len({v.engine for v in voices.VOICES.values()}) >= 4
    seen, unseen = voices.split_voices()
    assert unseen and {v.donor for v in seen}.isdisjoint({v.donor for v in unseen})
    slt = [v for v in voices.VOICES.values() if v.donor == "slt"]
    assert len(slt) == 3 and all(v in seen for v in slt)  # one donor, three engines, one side


def test_missing_program_names_the_package(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda p: None if p == "pico2wave" else "/usr/bin/" + p)
    with pytest.raises(RuntimeError, match="libttspico-utils"):
        voices.check_programs(voices.VOICES.values())


@pytest.mark.parametrize("engine", sorted({v.engine for v in voices.VOICES.values()}))
def test_each_engine_speaks(tmp_path, engine):
    voice = next(v for v in voices.VOICES.values() if v.engine == engine)
    voices.check_programs([voice])  # tools/install.sh installs every engine
    out = tmp_path / "x.wav"
    voices.synthesize(voice, "AND GOD SAW THE LIGHT", out, tempo=1.1, pitch_cents=100)
    x, fs = sf.read(out)
    assert fs == 16000 and x.ndim == 1 and 0.5 < len(x) / fs < 4 and abs(x).max() > 0.05
