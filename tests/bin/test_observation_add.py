"""Observation adding of the noisy input and an enhancer's output, per test set."""
import numpy as np
import pytest
import soundfile as sf
import torch

from espnet_pise.bin.observation_add import main
from espnet_pise.data.kaldi import read_scp
from espnet_pise.enh.dsp import observation_add


def _set(tmp_path, name, lengths, seed):
    rng = np.random.default_rng(seed)
    d = tmp_path / name
    (d / "wavs").mkdir(parents=True)
    lines = []
    for i, n in enumerate(lengths):
        p = d / "wavs" / f"u{i}.wav"
        sf.write(p, (0.1 * rng.standard_normal(n)).astype(np.float32), 16000, subtype="FLOAT")
        lines.append(f"u{i} {p}\n")
    return d, "".join(lines)


def test_weighted_sum_and_bounds():
    x, y = torch.ones(2, 5), torch.zeros(2, 5)
    assert torch.allclose(observation_add(x, y, 0.25), torch.full((2, 5), 0.25))
    assert torch.equal(observation_add(x, y, 0.0), y) and torch.equal(observation_add(x, y, 1.0), x)
    with pytest.raises(ValueError, match="noisy_weight"):
        observation_add(x, y, 1.5)
    with pytest.raises(ValueError, match="equal shapes"):
        observation_add(x, y[:, :4], 0.5)


def test_sets_written_in_enhance_sets_layout(tmp_path):
    data, noisy_lines = _set(tmp_path, "data/test_a", [800, 1200], 0)
    (data / "wav.scp").write_text(noisy_lines)
    enh, enh_lines = _set(tmp_path, "exp/enh/enhanced_test_a", [800, 1200], 1)
    (enh / "spk1.scp").write_text(enh_lines)
    main(["--noisy_weight", "0.3", "--enhanced_root", str(tmp_path / "exp/enh"), "--out_root", str(tmp_path / "exp/oa"),
          str(data)])
    out = read_scp(tmp_path / "exp/oa/enhanced_test_a/spk1.scp")
    assert sorted(out) == ["u0", "u1"]
    for uid, path in out.items():
        got = sf.read(path, dtype="float32")[0]
        x = sf.read(read_scp(data / "wav.scp")[uid], dtype="float32")[0]
        y = sf.read(read_scp(enh / "spk1.scp")[uid], dtype="float32")[0]
        np.testing.assert_allclose(got, 0.3 * x + 0.7 * y, atol=1e-7)


def test_missing_or_shorter_enhanced_audio_is_refused_by_name(tmp_path):
    data, noisy_lines = _set(tmp_path, "data/test_a", [800, 1200], 0)
    (data / "wav.scp").write_text(noisy_lines)
    enh, enh_lines = _set(tmp_path, "exp/enh/enhanced_test_a", [800, 1000], 1)
    (enh / "spk1.scp").write_text(enh_lines.splitlines(keepends=True)[0])
    args = ["--noisy_weight", "0.3", "--enhanced_root", str(tmp_path / "exp/enh"), "--out_root", str(tmp_path / "oa"), str(data)]
    with pytest.raises(ValueError, match=r"spk1.scp: no enhanced audio for 1 utterances.*first: u1"):
        main(args)
    (enh / "spk1.scp").write_text(enh_lines)
    with pytest.raises(ValueError, match=r"u1: noisy .*u1.wav has 1200 samples, enhanced .*u1.wav has 1000"):
        main(args)
    assert not (tmp_path / "oa/enhanced_test_a/spk1.scp").exists()


def test_a_set_rebuilt_larger_is_added_again(tmp_path):
    data, noisy_lines = _set(tmp_path, "data/test_a", [800, 1200, 900], 0)
    enh, enh_lines = _set(tmp_path, "exp/enh/enhanced_test_a", [800, 1200, 900], 1)
    args = ["--noisy_weight", "0.5", "--enhanced_root", str(tmp_path / "exp/enh"), "--out_root", str(tmp_path / "oa"), str(data)]
    (data / "wav.scp").write_text("".join(noisy_lines.splitlines(keepends=True)[:2]))
    (enh / "spk1.scp").write_text("".join(enh_lines.splitlines(keepends=True)[:2]))
    main(args)
    assert list(read_scp(tmp_path / "oa/enhanced_test_a/spk1.scp")) == ["u0", "u1"]
    (data / "wav.scp").write_text(noisy_lines)
    (enh / "spk1.scp").write_text(enh_lines)
    main(args)
    assert list(read_scp(tmp_path / "oa/enhanced_test_a/spk1.scp")) == ["u0", "u1", "u2"]
