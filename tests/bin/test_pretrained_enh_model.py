"""An ESPnet enhancement experiment directory for a front end used without training."""
import numpy as np
import pytest
import torch

from espnet_pise.bin.pretrained_enh_model import main


def test_written_dir_is_what_espnet_inference_and_init_param_read(tmp_path):
    from espnet2.bin.enh_inference import SeparateSpeech
    from espnet2.tasks.enh import EnhancementTask

    out = tmp_path / "enh_demucs"
    main(["--separator", "demucs", "--separator_conf", "hidden=8", "--separator_conf", "depth=2", "--out_dir", str(out)])
    sep = SeparateSpeech(train_config=str(out / "config.yaml"), model_file=str(out / "valid.loss.best.pth"))
    wav = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    est = sep(wav[None], fs=16000)[0]
    assert est.shape == (1, 8000) and np.isfinite(est).all()
    # the same weights as the model the config builds
    model, _ = EnhancementTask.build_model_from_file(out / "config.yaml", out / "valid.loss.best.pth")
    saved = torch.load(out / "valid.loss.best.pth")
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(SystemExit, match="nowhere.pt: no such checkpoint"):
        main(["--separator", "demucs", "--separator_conf", f"init_checkpoint={tmp_path}/nowhere.pt",
              "--out_dir", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()
