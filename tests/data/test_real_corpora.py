"""Real-corpus preparation on tiny fake trees in the official layouts."""
import numpy as np
import pytest
import soundfile as sf

from conftest import speechlike
from espnet_pise.data import librispeech_demand, voicebank_demand
from espnet_pise.data.kaldi import read_scp
from espnet_pise.data.validate import check_dir


def fake_librispeech(root, n_per_split=3):
    for k, split in enumerate(librispeech_demand.SPLITS.values()):
        for spk in (100 + k, 200 + k):
            chap = root / split / str(spk) / "10"
            chap.mkdir(parents=True)
            lines = []
            for u in range(n_per_split):
                uid = f"{spk}-10-{u:04d}"
                sf.write(chap / f"{uid}.flac", speechlike(16000 + 800 * u, seed=spk + u).numpy(), 16000)
                lines.append(f"{uid} HELLO WORLD JOHN'S TEST")
            (chap / f"{spk}-10.trans.txt").write_text("\n".join(lines) + "\n")


def fake_demand(root, fs=48000):
    rng = np.random.default_rng(0)
    for env in librispeech_demand.SEEN + librispeech_demand.UNSEEN:
        (root / env).mkdir(parents=True)
        sf.write(root / env / "ch01.wav", 0.1 * rng.standard_normal(fs * 4), fs)


def test_librispeech_demand(tmp_path):
    fake_librispeech(tmp_path / "LibriSpeech")
    fake_demand(tmp_path / "DEMAND")
    librispeech_demand.main(["--librispeech", str(tmp_path / "LibriSpeech"), "--demand", str(tmp_path / "DEMAND"),
                             "--data_dir", str(tmp_path / "data"), "--audio_dir", str(tmp_path / "audio"), "--nj", "1"])
    names = {p.name for p in (tmp_path / "data").iterdir()}
    assert names == {"train", "dev", "test_clean", "test_seen", "test_unseen", "test_seen_shift", "test_seen_speed",
                     "test_unseen_shift", "test_unseen_speed"}
    for name in names:
        assert check_dir(tmp_path / "data" / name) == [], name
    cats = read_scp(tmp_path / "data/train/utt2category")
    assert {c.split("_")[0] for c in cats.values()} <= set(librispeech_demand.SEEN)
    assert {c.split("_")[0] for c in read_scp(tmp_path / "data/test_unseen/utt2category").values()} <= set(librispeech_demand.UNSEEN)
    assert read_scp(tmp_path / "data/train/text")["100-10-0001"] == "HELLO WORLD JOHN'S TEST"
    assert read_scp(tmp_path / "data/train/utt2spk")["100-10-0001"] == "100"


def test_librispeech_errors(tmp_path):
    fake_librispeech(tmp_path / "LS")
    (tmp_path / "LS/train-clean-100/100/10/100-10-0001.flac").unlink()
    with pytest.raises(FileNotFoundError, match="100-10-0001.*audio missing"):
        librispeech_demand.read_librispeech(tmp_path / "LS", "train-clean-100")
    with pytest.raises(FileNotFoundError, match="DEMAND environment DKITCHEN missing"):
        librispeech_demand.demand_bank(tmp_path / "nothing", tmp_path / "bank", ["DKITCHEN"])


def fake_voicebank(root, fs=48000):
    for part, speakers in (("train", ("p226", "p230", "p287")), ("test", ("p232",))):
        clean_dir, noisy_dir, txt_dir = (root / d for d in voicebank_demand.LAYOUT[part])
        for d in (clean_dir, noisy_dir, txt_dir):
            d.mkdir(parents=True)
        for spk in speakers:
            for u in range(2):
                uid = f"{spk}_{u:03d}"
                clean = speechlike(fs, seed=u).numpy() * 0.5
                sf.write(clean_dir / f"{uid}.wav", clean, fs)
                sf.write(noisy_dir / f"{uid}.wav", clean + 0.01 * np.random.default_rng(u).standard_normal(fs), fs)
                (txt_dir / f"{uid}.txt").write_text("Please call Stella.\n")


def test_voicebank_demand(tmp_path):
    fake_voicebank(tmp_path / "vb")
    voicebank_demand.main(["--root", str(tmp_path / "vb"), "--data_dir", str(tmp_path / "data"),
                           "--audio_dir", str(tmp_path / "audio")])
    for name in ("train", "dev", "test_unseen", "test_clean"):
        assert check_dir(tmp_path / "data" / name) == [], name
    assert set(read_scp(tmp_path / "data/dev/utt2spk").values()) == {"p226", "p287"}
    assert set(read_scp(tmp_path / "data/train/utt2spk").values()) == {"p230"}
    assert read_scp(tmp_path / "data/test_unseen/text")["p232_000"] == "PLEASE CALL STELLA"
    x, fs = sf.read(read_scp(tmp_path / "data/train/wav.scp")["p230_000"])
    assert fs == 16000 and len(x) == 16000


def test_voicebank_missing_parallel_file(tmp_path):
    fake_voicebank(tmp_path / "vb")
    (tmp_path / "vb/noisy_trainset_28spk_wav/p230_001.wav").unlink()
    with pytest.raises(FileNotFoundError, match="p230_001.wav: missing"):
        voicebank_demand.read_part(tmp_path / "vb", "train")
