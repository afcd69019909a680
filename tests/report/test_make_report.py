import json

import pytest

from espnet_pise.bin import make_report, score_enh, score_wer
from espnet_pise.report.plots import epoch_losses


def test_score_wer_counts(tmp_path):
    (tmp_path / "ref").write_text("u1 A B C D\nu2 E F\n")
    (tmp_path / "hyp").write_text("u1 A X C D E\nu2\n")
    r = score_wer.score(tmp_path / "ref", tmp_path / "hyp")
    assert (r["sub"], r["del"], r["ins"], r["wrd"]) == (1, 2, 1, 6)
    assert r["wer"] == pytest.approx(100 * 4 / 6)
    # characters: "A B C D" -> "A X C D E" is 1 substitution + 2 insertions, "E F" -> "" 3 deletions
    assert r["cer"] == pytest.approx(100 * 6 / 10)
    (tmp_path / "hyp2").write_text("u1 A\n")
    with pytest.raises(ValueError, match="without hypothesis"):
        score_wer.score(tmp_path / "ref", tmp_path / "hyp2")
    (tmp_path / "ref2").write_text("u1 \n")
    with pytest.raises(ValueError, match="empty reference"):
        score_wer.score(tmp_path / "ref2", tmp_path / "hyp")


def test_si_sdr_known_values():
    import numpy as np

    rng = np.random.default_rng(0)
    ref = rng.standard_normal(16000)
    noise = rng.standard_normal(16000)
    noise -= (noise @ ref) / (ref @ ref) * ref  # orthogonal to the reference
    est = 3.0 * ref + noise * np.sqrt((ref @ ref) / (noise @ noise)) * 0.3  # 20 dB below the scaled target
    assert score_enh.si_sdr(ref, est) == pytest.approx(20.0, abs=0.05)


def test_report_refuses_missing_results(tmp_path):
    with pytest.raises(SystemExit, match="results missing"):
        make_report.main(["--asr_exp", str(tmp_path), "--systems", "noisy", "--test_sets", "test_seen",
                          "--out", str(tmp_path / "R.md"), "--plot_dir", str(tmp_path)])


def test_report_tables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "test_seen").mkdir(parents=True)
    (tmp_path / "data" / "test_seen" / "spk1.scp").write_text("u1 clean.wav\n")
    (tmp_path / "data" / "test_real").mkdir(parents=True)  # a real recording: no clean reference, WER only
    for system, w in (("noisy", 30.0), ("enh_x", 20.0)):
        for test_set in ("test_seen", "test_real"):
            d = tmp_path / "asr" / f"decode_{system}" / test_set / "score_wer"
            d.mkdir(parents=True)
            d.joinpath("wer.json").write_text(json.dumps({"wer": w, "cer": w / 2, "wrd": 10, "sub": 2, "del": 1, "ins": 0}))
        s = tmp_path / system / "scoring_test_seen"
        s.mkdir(parents=True)
        s.joinpath("metrics.json").write_text(json.dumps({"pesq_wb": 1.5, "stoi": 0.8, "si_sdr": 5.0, "n": 1}))
    (tmp_path / "enh_x" / "train.log").write_text(
        "1epoch results: [train] loss=3.0, [valid] loss=2.0, [att_plot] x\n2epoch results: [train] loss=2.5, [valid] loss=1.5,\n")
    (tmp_path / "choice.json").write_text(json.dumps({"dev_set": "dev_obs", "wer_by_noisy_weight": {"0": 31.0, "1": 30.0},
                                                      "noisy_weight": 1.0}))
    make_report.main(["--asr_exp", "asr", "--systems", "noisy", "enh_x", "--se_exps", "noisy:noisy", "enh_x:enh_x",
                      "--test_sets", "test_seen", "test_real", "--out", "R.md", "--plot_dir", "plots",
                      "--dev_choices", "enh_x:choice.json"])
    text = (tmp_path / "R.md").read_text()
    assert "### Chosen on dev\n\n- `enh_x`: noisy_weight = 1, the lowest WER on `dev_obs`" in text
    assert "|enh_x|20.0 (20.0/10.0/0.0)|20.0 (20.0/10.0/0.0)|" in text  # WER on both sets
    assert "|system|test_seen|\n" in text.split("### PESQ")[1]  # SE metrics only where a reference exists
    assert "|enh_x|20.0 (20.0/10.0/0.0)|" in text and "### CER\n" in text and "|enh_x|10.0|" in text and "|enh_x|1.50|" in text and "|enh_x|80.0|" in text
    assert (tmp_path / "plots" / "wer.png").is_file() and (tmp_path / "plots" / "cer.png").is_file() and (tmp_path / "plots" / "se_training_curves.png").is_file()
    assert epoch_losses(tmp_path / "enh_x" / "train.log") == {"train": [3.0, 2.5], "valid": [2.0, 1.5]}


def test_report_adds_the_runs_of_other_seeds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    per_utt = {f"u{i}": [1, 10] for i in range(20)}
    for run, system, errors in (("asr", "noisy", 3), ("asr", "enh_x", 1), ("asr_seed1", "enh_x", 2)):
        d = tmp_path / run / f"decode_{system}" / "test_seen" / "score_wer"
        d.mkdir(parents=True)
        d.joinpath("wer.json").write_text(json.dumps({"wer": 10.0 * errors, "cer": 1.0, "wrd": 200, "sub": 20 * errors,
                                                      "del": 0, "ins": 0}))
        d.joinpath("per_utt.json").write_text(json.dumps({u: [errors, n] for u, (_, n) in per_utt.items()}))
    args = ["--asr_exp", "asr", "--systems", "noisy", "enh_x", "--test_sets", "test_seen", "--out", "R.md",
            "--plot_dir", "plots", "--allow_missing", "--baselines", "noisy"]
    make_report.main(args)
    assert "over recipe runs" not in (tmp_path / "R.md").read_text()
    make_report.main(args + ["--run_asr_exps", "asr_seed1"])
    text = (tmp_path / "R.md").read_text().split("## ASR over recipe runs (training seeds)")[1]
    assert "`asr`, `asr_seed1`" in text and "|enh_x|15.0 (10.0 / 20.0)|" in text and "|noisy|30.0|" in text
    assert "|enh_x|-15.0 [-20.0, -10.0]|" in text  # the runs' differences to noisy: -20 and -10 points
