"""Runs killed with SIGKILL and rerun end with the same artefacts as uninterrupted runs: an ESPnet
enhancement training resumed with ``--resume true`` and ``enhance_sets`` rerun on a set."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import soundfile as sf
import torch
import yaml

from conftest import TINY_ARCH, write_enh_data
from test_enh_train_integration import SE_MODEL


def _cmd(args):
    return [sys.executable, "-m", *args]


def _kill_when(args, cwd, ready, timeout=300):
    """Start args, SIGKILL it as soon as ready() holds; assert it really was killed mid-way."""
    proc = subprocess.Popen(_cmd(args), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.time()
    while not ready():
        assert proc.poll() is None, f"{args[0]} ended (rc {proc.returncode}) before it could be killed"
        assert time.time() - start < timeout
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


def _run(args, cwd):
    res = subprocess.run(_cmd(args), cwd=cwd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]


def _train_args(data, exp):
    args = ["espnet_pise.bin.enh_train", "--config", "conf.yaml", "--output_dir", str(exp), "--ngpu", "0"]
    for split in ("train", "valid"):
        args += [
            f"--{split}_data_path_and_name_and_type", f"{data}/wav.scp,speech_mix,sound",
            f"--{split}_data_path_and_name_and_type", f"{data}/spk1.scp,speech_ref1,sound",
            f"--{split}_shape_file", f"{data}/speech_mix_shape",
        ]
    return args


def test_killed_training_and_enhancement_resume_to_the_same_artefacts(tmp_path):
    data = write_enh_data(tmp_path / "data", n_utts=4, min_len=4000, max_len=6000)
    conf = dict(
        SE_MODEL,
        criterions=[dict(name="ssl_mse", conf=dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH),
                         wrapper="fixed_order", wrapper_conf=dict(weight=1.0))],
        optim="adam", optim_conf=dict(lr=1e-3), max_epoch=2, batch_type="unsorted", batch_size=2,
        num_workers=0, use_tensorboard=False, seed=0,
    )
    (tmp_path / "conf.yaml").write_text(yaml.safe_dump(conf))
    # training: uninterrupted vs killed during epoch 2 and resumed
    ref_exp, exp = tmp_path / "exp_ref", tmp_path / "exp"
    _run(_train_args(data, ref_exp), tmp_path)
    _kill_when(_train_args(data, exp), tmp_path, lambda: (exp / "1epoch.pth").is_file())
    assert not (exp / "2epoch.pth").exists()
    _run([*_train_args(data, exp), "--resume", "true"], tmp_path)
    want, got = (torch.load(e / "2epoch.pth", map_location="cpu") for e in (ref_exp, exp))
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    reporter = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)["reporter"]
    assert sorted(reporter["stats"]) == [1, 2]  # each epoch once: nothing lost or duplicated

    # enhancement of a set: uninterrupted vs killed after its first file and rerun
    test = write_enh_data(tmp_path / "test", n_utts=40, seed=1, min_len=4000, max_len=6000)
    args = ["espnet_pise.bin.enhance_sets", "--train_config", str(exp / "config.yaml"),
            "--model_file", str(exp / "2epoch.pth"), "--device", "cpu", str(test)]
    _run([*args, "--out_root", str(tmp_path / "out_ref")], tmp_path)
    wavs = tmp_path / "out" / f"enhanced_{test.name}" / "wavs"
    _kill_when([*args, "--out_root", str(tmp_path / "out")], tmp_path, lambda: wavs.is_dir() and any(wavs.iterdir()))
    assert not (wavs.parent / "spk1.scp").exists()
    _run([*args, "--out_root", str(tmp_path / "out")], tmp_path)
    rows = {}
    for root in ("out_ref", "out"):
        scp = (tmp_path / root / f"enhanced_{test.name}" / "spk1.scp").read_text().splitlines()
        rows[root] = dict(line.split(" ", 1) for line in scp)
    assert list(rows["out"]) == list(rows["out_ref"]) and len(rows["out"]) == 40
    for uid, path in rows["out"].items():
        assert np.array_equal(sf.read(path)[0], sf.read(rows["out_ref"][uid])[0]), uid
