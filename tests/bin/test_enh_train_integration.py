"""A tiny SE model trained for a few steps through ESPnet's trainer with each SSL loss, then
reloaded for inference, all through the espnet_pise entry modules."""
import subprocess
import sys

import pytest
import soundfile as sf
import torch
import yaml

from conftest import TINY_ARCH, write_enh_data

DEMUCS = dict(
    encoder="same", decoder="same", separator="demucs",
    separator_conf=dict(hidden=8, depth=3, kernel_size=8, stride=4, resample=2, causal=True),
)
SE_MODEL = dict(
    encoder="conv",
    encoder_conf=dict(channel=16, kernel_size=16, stride=8),
    decoder="conv",
    decoder_conf=dict(channel=16, kernel_size=16, stride=8),
    separator="tcn",
    separator_conf=dict(num_spk=1, layer=2, stack=1, bottleneck_dim=16, hidden_dim=32, kernel=3, causal=False, norm_type="gLN", nonlinear="relu"),
)
CONFS = {
    "ssl_mse": {},
    "ssl_mse_pad": {"pad_min": 0.02, "pad_max": 0.05},
    "ssl_sdtw": {"gamma": 0.1, "bandwidth": 30},
    "ssl_shift_mse": {"max_shift": 1},
}


def _run(args, cwd):
    res = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    return res


@pytest.mark.parametrize(
    "model, loss", [("tcn", name) for name in CONFS] + [("demucs", "ssl_sdtw")]
)
def test_train_and_enhance(tmp_path, model, loss):
    data = write_enh_data(tmp_path / "data")
    conf = dict(
        DEMUCS if model == "demucs" else SE_MODEL,
        criterions=[dict(
            name=loss,
            conf=dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH, **CONFS[loss]),
            wrapper="fixed_order",
            wrapper_conf=dict(weight=1.0),
        )],
        optim="adam",
        optim_conf=dict(lr=1e-3),
        max_epoch=2,
        batch_type="unsorted",
        batch_size=2,
        num_workers=0,
        use_tensorboard=False,
        seed=0,
    )
    (tmp_path / "conf.yaml").write_text(yaml.safe_dump(conf))
    exp = tmp_path / "exp"
    data_args = []
    for split in ("train", "valid"):
        data_args += [
            f"--{split}_data_path_and_name_and_type", f"{data}/wav.scp,speech_mix,sound",
            f"--{split}_data_path_and_name_and_type", f"{data}/spk1.scp,speech_ref1,sound",
            f"--{split}_shape_file", f"{data}/speech_mix_shape",
        ]
    _run(["espnet_pise.bin.enh_train", "--config", "conf.yaml", "--output_dir", str(exp), "--ngpu", "0", *data_args], tmp_path)
    log = (exp / "train.log").read_text() if (exp / "train.log").exists() else ""
    ckpt = torch.load(exp / "2epoch.pth", map_location="cpu")
    assert ckpt and not any("hubert" in k or "wav2vec2" in k or "teacher" in k for k in ckpt), "SSL weights leaked into the SE checkpoint"
    # the loss was really computed and logged by ESPnet's reporter for both epochs
    stats = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)["reporter"]
    epochs = stats["stats"]
    assert set(epochs) >= {1, 2}, log[-2000:]
    values = [epochs[e]["train"][loss] for e in (1, 2)]
    assert all(torch.isfinite(torch.tensor(float(v))) for v in values)

    out = tmp_path / "enhanced"
    _run([
        "espnet_pise.bin.enh_inference", "--ngpu", "0", "--batch_size", "1", "--fs", "16000",
        "--data_path_and_name_and_type", f"{data}/wav.scp,speech_mix,sound",
        "--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "2epoch.pth"),
        "--output_dir", str(out),
    ], tmp_path)
    scp = (out / "spk1.scp").read_text().split("\n")
    rows = [r.split(maxsplit=1) for r in scp if r.strip()]
    assert len(rows) == 4
    for uid, path in rows:
        wav, fs = sf.read(path)
        noisy, _ = sf.read(f"{data}/wav/{uid}_noisy.wav")
        assert fs == 16000 and len(wav) == len(noisy)
