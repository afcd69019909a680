"""Real-corpus preparation on tiny fake trees in the official layouts."""
import numpy as np
import pytest
import soundfile as sf

from conftest import speechlike
from espnet_pise.data import chime4, librispeech_demand, voicebank_demand
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


def fake_chime4(root, envs=chime4.ENVS):
    """The CHiME-4 1-channel layout with ESPnet's re-simulated isolated_ext references; 1 s files."""
    audio, trans = root / "data/audio/16kHz", root / "data/transcriptions"
    trans.mkdir(parents=True)
    dots = {}
    wsj0 = root / "data/WSJ0/si_tr_s/40n"
    wsj0.mkdir(parents=True)
    (wsj0 / "40n.dot").write_text("The \\COMMA quick *brown* fox [door_slam] (40na0101)\nJOHN'S dog~ barks (40na0102)\n")
    for split, kinds in (("tr05", ("simu",)), ("dt05", ("simu", "real")), ("et05", ("simu", "real"))):
        for kind in kinds:
            lines = []
            for k, env in enumerate(envs):
                folder = f"{split}_{env}_{kind}"
                track = "isolated" if split == "tr05" else "isolated_1ch_track"
                for u, utt in enumerate(("40NA0101", "40NA0102") if split == "tr05" else (f"05{k}C010{split[0]}",)):
                    base = f"F01_{utt}_{env.upper()}"
                    lines.append(f"HELLO <NOISE> WORLD {kind.upper()} ({base})")
                    channels = (1, 5) if split == "tr05" else (3 + u,)
                    for ch in channels:
                        clean = speechlike(16000, seed=u + ch).numpy() * 0.3
                        noise = 0.01 * np.random.default_rng(ch).standard_normal(16000)
                        (audio / track / folder).mkdir(parents=True, exist_ok=True)
                        sf.write(audio / track / folder / f"{base}.CH{ch}.wav", clean + noise, 16000)
                        if kind == "simu":
                            (audio / "isolated_ext" / folder).mkdir(parents=True, exist_ok=True)
                            sf.write(audio / "isolated_ext" / folder / f"{base}.CH{ch}.Clean.wav", clean, 16000)
                            sf.write(audio / "isolated_ext" / folder / f"{base}.CH{ch}.Noise.wav", noise, 16000)
            if split != "tr05":
                (trans / f"{split}_{kind}.dot_all").write_text("\n".join(lines) + "\n")


def test_chime4(tmp_path):
    fake_chime4(tmp_path / "CHiME4")
    chime4.main(["--chime4", str(tmp_path / "CHiME4"), "--data_dir", str(tmp_path / "data")])
    data = tmp_path / "data"
    for name in ("train", "dev", "test_simu", "test_clean", "dev_real", "test_real"):
        assert check_dir(data / name) == [], name
    # real recordings: decoded and WER-scored only, as in ESPnet
    assert not (data / "test_real/spk1.scp").exists() and (data / "test_simu/spk1.scp").is_file()
    train = read_scp(data / "train/wav.scp")
    assert len(train) == 8 and all(p.endswith(".CH5.wav") for p in train.values())  # channel 5 of tr05 simu
    text = read_scp(data / "train/text")
    assert text["F01_40NA0101_BUS_CH5_SIMU"] == "THE QUICK BROWN FOX" and text["F01_40NA0102_CAF_CH5_SIMU"] == "JOHN'S DOG BARKS"
    assert read_scp(data / "test_real/text")["F01_051C010e_CAF_CH3_REAL"] == "HELLO WORLD REAL"
    assert read_scp(data / "test_real/utt2category")["F01_051C010e_CAF_CH3_REAL"] == "caf_real"
    clean = read_scp(data / "test_clean/wav.scp")
    assert clean == read_scp(data / "test_simu/spk1.scp")


def test_chime4_missing_reference_and_transcript(tmp_path):
    fake_chime4(tmp_path / "CHiME4")
    ext = tmp_path / "CHiME4/data/audio/16kHz/isolated_ext/dt05_ped_simu/F01_052C010d_PED.CH3.Clean.wav"
    ext.unlink()
    with pytest.raises(FileNotFoundError, match="F01_052C010d_PED.CH3.Clean.wav: missing simulated clean reference"):
        chime4.main(["--chime4", str(tmp_path / "CHiME4"), "--data_dir", str(tmp_path / "data")])
    with pytest.raises(FileNotFoundError, match="no simulated clean references"):
        chime4.main(["--chime4", str(tmp_path / "CHiME4"), "--simu_refs", str(tmp_path / "nowhere"),
                     "--data_dir", str(tmp_path / "data")])
    (tmp_path / "CHiME4/data/WSJ0/si_tr_s/40n/40n.dot").write_text("only one (40na0101)\n")
    with pytest.raises(ValueError, match="F01_40NA0102_BUS.CH5.wav: no transcript for F01_40NA0102_BUS"):
        chime4.collect(tmp_path / "CHiME4", "tr05", "simu", None, lambda b: {"40na0101": "X"}.get(b.split("_")[1].lower()),
                       "isolated", channel=5)


@pytest.mark.parametrize("recipe", ["chime4", "voicebank_demand"])
def test_recipe_stage1_on_fake_tree(tmp_path, recipe):
    """run.sh --stop_stage 1 of a real-corpus recipe: data lists, validation, shapes, ASR lists."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "egs" / recipe / "pise1"
    dst = tmp_path / "pise1"
    shutil.copytree(src, dst, symlinks=False)
    if recipe == "chime4":
        fake_chime4(tmp_path / "corpus")
        opts = ["--chime4", str(tmp_path / "corpus")]
    else:
        fake_voicebank(tmp_path / "corpus")
        opts = ["--root", str(tmp_path / "corpus")]
    env = dict(os.environ, PISE_VENV=str(Path(sys.executable).parent.parent))
    res = subprocess.run(["bash", "run.sh", *opts, "--hubert", "unused.pt", "--master64", "unused.th", "--stop_stage", "1"],
                         cwd=dst, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    for name in ("train", "dev", "train_asr", "dev_asr"):
        assert check_dir(dst / "data" / name) == [], name
    assert (dst / "exp/stats/train_asr/speech_shape").stat().st_size > 0
