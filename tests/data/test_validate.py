"""The data validator names the file and the problem for every kind of bad input."""
import subprocess
import sys

import numpy as np
import soundfile as sf

from espnet_pise.data.synthetic import write_enh_data
from espnet_pise.data.validate import check_dir


def _good(tmp_path):
    d = write_enh_data(tmp_path / "d", n_utts=3)
    (d / "text_spk1").write_text("utt000 HELLO\nutt001 WORLD\nutt002 AGAIN\n")
    (d / "spk2utt").write_text("utt000 utt000\nutt001 utt001\nutt002 utt002\n")
    return d


def test_good_directory_passes(tmp_path):
    d = _good(tmp_path)
    assert check_dir(d) == []
    res = subprocess.run([sys.executable, "-m", "espnet_pise.data.validate", str(d)], capture_output=True, text=True)
    assert res.returncode == 0


def test_every_problem_is_reported(tmp_path):
    d = _good(tmp_path)
    wav = dict(line.split(" ", 1) for line in (d / "wav.scp").read_text().splitlines())
    clean = dict(line.split(" ", 1) for line in (d / "spk1.scp").read_text().splitlines())
    sf.write(wav["utt001"], np.zeros(1000, dtype=np.float32), 8000)              # wrong rate
    sf.write(clean["utt002"], np.zeros((500, 2), dtype=np.float32), 16000)      # stereo, short
    (d / "spk1.scp").write_text((d / "spk1.scp").read_text().replace(clean["utt000"], "/nope/missing.wav"))
    (d / "text_spk1").write_text("utt001 WORLD\nutt000 HELLO\nutt002 \n")        # unsorted, empty
    problems = "\n".join(check_dir(d))
    assert "missing file: /nope/missing.wav" in problems and "spk1.scp: utt000" in problems
    assert "sample rate 8000, expected 16000" in problems and "utt001" in problems
    assert "2 channels, expected mono" in problems
    assert "samples but the noisy signal has" in problems
    assert "ids not sorted" in problems and "empty transcript" in problems
    res = subprocess.run([sys.executable, "-m", "espnet_pise.data.validate", str(d)], capture_output=True, text=True)
    assert res.returncode == 1 and "missing.wav" in res.stdout


def test_mismatched_lists_and_duplicates(tmp_path):
    d = _good(tmp_path)
    lines = (d / "spk1.scp").read_text().splitlines()
    (d / "spk1.scp").write_text("\n".join(lines[:2] + [lines[1]]) + "\n")
    (d / "utt2spk").write_text("utt000 a\nutt001 b\nutt002 c\nutt003 d\n")
    problems = "\n".join(check_dir(d))
    assert "duplicate id 'utt001'" in problems
    assert "utterances of wav.scp missing" in problems and "['utt002']" in problems
    assert "not in wav.scp" in problems and "utt003" in problems
    assert "disagrees with utt2spk" in problems


def test_non_finite_short_and_silent_audio(tmp_path):
    d = _good(tmp_path)
    wav = dict(line.split(" ", 1) for line in (d / "wav.scp").read_text().splitlines())
    clean = dict(line.split(" ", 1) for line in (d / "spk1.scp").read_text().splitlines())
    n = sf.info(wav["utt000"]).frames
    noisy = sf.read(wav["utt000"], dtype="float32")[0]
    noisy[10], noisy[20] = np.nan, np.inf
    sf.write(wav["utt000"], noisy, 16000, subtype="FLOAT")
    sf.write(clean["utt001"], np.zeros(n, dtype=np.float32), 16000)
    sf.write(wav["utt002"], np.full(50, 0.1, dtype=np.float32), 16000)
    problems = check_dir(d)
    assert f"{d / 'wav.scp'}: utt000: 2 NaN/Inf samples (first at sample 10): {wav['utt000']}" in problems
    assert f"{d / 'spk1.scp'}: utt001: all samples are zero: {clean['utt001']}" in problems
    assert (f"{d / 'wav.scp'}: utt002: 50 samples, shorter than the minimum 400 (the SSL model's receptive "
            f"field): {wav['utt002']}") in problems
    res = subprocess.run([sys.executable, "-m", "espnet_pise.data.validate", str(d), "--min_samples", "40"],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "utt002: 50 samples" not in res.stdout and "NaN/Inf" in res.stdout
