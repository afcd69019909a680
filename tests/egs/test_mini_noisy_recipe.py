"""The whole egs/mini_noisy/pise1 recipe on the tiny corpus with tiny configs (CI end-to-end test)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import WHISPER_DIR

pytestmark = pytest.mark.timeout(2400)  # the module fixture runs all ten stages (about 10 min on 2 cores)

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "mini_noisy" / "pise1"
# run.sh's default front end: the pretrained GTCRN as is, with observation adding, fine-tuned, joint
SYSTEMS = ["noisy", "gtcrn", "gtcrn_obs_add", "gtcrn_ssl_mse", "gtcrn_ssl_mse_pad", "gtcrn_ssl_sdtw", "gtcrn_joint_ssl_sdtw"]
# run.sh's default: every test set; SE metrics where a clean reference differs from the input
TEST_SETS = ["test_clean", "test_seen", "test_seen_shift", "test_seen_speed", "test_unseen", "test_unseen_shift",
             "test_unseen_speed"]
REF_SETS = [s for s in TEST_SETS if s != "test_clean"]
MOVED = [s for s in TEST_SETS if s.endswith(("_shift", "_speed"))]
INTERVAL = r"[+-]\d+\.\d \[[+-]\d+\.\d, [+-]\d+\.\d\]"


def run(recipe: Path, *args: str) -> str:
    env = dict(os.environ, PISE_VENV=str(Path(sys.executable).parent.parent), PISE_WHISPER_DIR=str(WHISPER_DIR))
    res = subprocess.run(["bash", "run.sh", "--corpus_size", "tiny", "--nj", "2", *args], cwd=recipe, env=env,
                         capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, f"run.sh {args} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout + res.stderr


def table(results: str, title: str) -> dict:
    block = results.split(f"### {title}\n", 1)[1].lstrip("\n").split("\n\n", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("|")]
    header = lines[0].strip("|").split("|")[1:]
    return {row.strip("|").split("|")[0]: dict(zip(header, row.strip("|").split("|")[1:])) for row in lines[2:]}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, whisper_ckpt):
    dst = tmp_path_factory.mktemp("recipe") / "pise1"
    shutil.copytree(RECIPE, dst, symlinks=False, ignore=shutil.ignore_patterns("data", "exp", "corpus_*", "RESULTS.md"))
    log = run(dst, "--whisper_pad_to_s", "8")  # not the default 10 s: the joint model must follow the option
    return dst, log


def test_results_cover_every_system_and_test_set(recipe):
    dst, _ = recipe
    results = (dst / "RESULTS.md").read_text()
    wer = table(results, "WER")
    assert sorted(wer) == sorted(SYSTEMS)
    for system in SYSTEMS:
        for s in TEST_SETS:
            assert re.fullmatch(r"\d+\.\d \(\d+\.\d/\d+\.\d/\d+\.\d\)", wer[system][s]), (system, s, wer[system][s])
    for title in ("PESQ (wide band)", "STOI (x100)", "SI-SDR (dB)"):
        t = table(results, title)
        assert sorted(t) == sorted(SYSTEMS)
        for system in SYSTEMS:
            for s in REF_SETS:
                float(t[system][s])
    for base in ("noisy", "gtcrn", "gtcrn_ssl_mse"):  # paired bootstrap intervals against each baseline
        diffs = table(results, next(t for t in re.findall(r"### (WER difference to `" + base + r"`.*)", results)))
        assert sorted(diffs) == sorted(set(SYSTEMS) - {base})
        for system in diffs:
            for s in TEST_SETS:
                assert re.fullmatch(INTERVAL, diffs[system][s]), diffs[system][s]
    # the shift / speed copies: each system's change against its own unmoved set, and against ssl_mse's change
    change = table(results, next(t for t in re.findall(r"### (WER change on the moved copies.*)", results)))
    vs_mse = table(results, next(t for t in re.findall(r"### (That change minus `gtcrn_ssl_mse`.*)", results)))
    assert sorted(change) == sorted(SYSTEMS) and sorted(vs_mse) == sorted(set(SYSTEMS) - {"gtcrn_ssl_mse"})
    for rows in (change, vs_mse):
        for system in rows:
            assert sorted(rows[system]) == sorted(MOVED)
            for s in MOVED:
                assert re.fullmatch(INTERVAL, rows[system][s]), rows[system][s]
    snr = table(results, "test_seen: WER % by SNR")  # the SNRs of the set's utt2category, pooled
    assert sorted(snr) == sorted(SYSTEMS) and all(c.endswith(" dB") for c in snr["noisy"])
    assert "### Chosen on dev\n\n- `gtcrn_obs_add`: noisy_weight = " in results
    voices = table(results, "test_clean: WER % by speaker")  # the clean input, per synthetic voice
    assert voices and all(re.fullmatch(r"\d+\.\d", row["noisy"]) for row in voices.values())
    for png in ("wer.png", "cer.png", "wer_by_snr.png", "se_training_curves.png", "sdtw_alignment.png"):
        assert (dst / "exp" / "plots" / png).stat().st_size > 1000


def test_joint_model_reads_the_recognisers_window(recipe):
    import yaml

    dst, _ = recipe
    recogniser = yaml.safe_load((dst / "exp" / "asr_whisper" / "config.yaml").read_text())
    joint = yaml.safe_load((dst / "exp" / "gtcrn_joint_ssl_sdtw" / "config.yaml").read_text())
    assert recogniser["encoder_conf"]["pad_to_s"] == joint["asr_encoder_conf"]["pad_to_s"] == 8


def test_rerun_skips_finished_work(recipe):
    dst, _ = recipe
    models = {p: p.stat().st_mtime for p in (dst / "exp").rglob("valid.*.pth")}
    log = run(dst, "--stage", "2")
    assert "trained already, skipped" in log
    assert {p: p.stat().st_mtime for p in (dst / "exp").rglob("valid.*.pth")} == models


def test_switching_corpus_size_is_refused(recipe):
    dst, _ = recipe
    env = dict(os.environ, PISE_VENV=str(Path(sys.executable).parent.parent))
    res = subprocess.run(["bash", "run.sh", "--corpus_size", "small", "--stop_stage", "1"], cwd=dst, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "built with --corpus_size tiny" in res.stdout + res.stderr


def test_observation_adding_weight_is_chosen_on_dev(recipe):
    import json

    dst, _ = recipe
    choice = json.loads((dst / "exp" / "gtcrn_obs_add" / "dev_choice.json").read_text())
    wer = {float(w): v for w, v in choice["wer_by_noisy_weight"].items()}
    assert sorted(wer) == [0.0, 0.5, 1.0]  # the front end alone, the tiny corpus's one weight, the noisy input
    assert choice["noisy_weight"] == min(sorted(wer), key=lambda w: wer[w])
    dev_ids = (dst / "data" / "dev_obs" / "ids").read_text().split()
    assert 0 < len(dev_ids) <= 8 and set(dev_ids) <= {line.split()[0] for line in (dst / "data" / "dev" / "wav.scp").open()}


def test_a_second_training_seed_is_reported_as_a_second_run(recipe):
    dst, _ = recipe
    run(dst, "--stage", "4", "--stop_stage", "7", "--variants", "ssl_sdtw", "--train_seed", "1", "--tag", "_seed1",
        "--obs_add_weights", "", "--whisper_pad_to_s", "8")  # the recogniser of the first run
    assert "\nseed: 1\n" in (dst / "exp" / "gtcrn_ssl_sdtw_seed1" / "config.yaml").read_text()
    run(dst, "--stage", "10", "--run_tags", "_seed1")
    results = (dst / "RESULTS.md").read_text()
    means = table(results, next(t for t in re.findall(r"### (WER % over the recipe runs .*)", results)))
    assert sorted(means) == sorted(SYSTEMS)
    for s in TEST_SETS:
        assert means["noisy"][s].endswith("(same in every run)")  # decoding does not depend on the training seed
        assert re.fullmatch(r"\d+\.\d", means["gtcrn_ssl_mse"][s])  # trained once
        # two runs of ssl_sdtw: their mean, then each run's WER (or that they decoded alike)
        assert re.fullmatch(r"\d+\.\d \((\d+\.\d / \d+\.\d|same in every run)\)", means["gtcrn_ssl_sdtw"][s])
    diffs = table(results, next(t for t in re.findall(r"### (Mean WER difference to `noisy`.*)", results)))
    assert all(re.fullmatch(INTERVAL, diffs["gtcrn_ssl_sdtw"][s]) for s in TEST_SETS)
    moved = table(results, next(t for t in re.findall(r"### (WER change on the moved copies minus .*over the runs.*)", results)))
    assert all(re.fullmatch(INTERVAL, moved["gtcrn_ssl_sdtw"][s]) for s in MOVED)
