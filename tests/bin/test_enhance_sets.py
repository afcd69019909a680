"""enhance_sets: the pretrained NSNet2 (as pretrained_enh_model writes it) enhances a set; an 8 kHz,
a stereo and a missing file are each refused by list, utterance and file before anything is written."""
import numpy as np
import pytest
import soundfile as sf

from conftest import se_model, write_enh_data
from espnet_pise.bin import enhance_sets, pretrained_enh_model


@pytest.fixture(scope="module")
def nsnet2_exp(tmp_path_factory):
    exp = tmp_path_factory.mktemp("exp") / "enh_nsnet2"
    pretrained_enh_model.main(["--separator", "nsnet2", "--separator_conf", f"init_checkpoint={se_model('nsnet2')}",
                               "--out_dir", str(exp)])
    return exp


def _args(exp, out_root, *dirs):
    return ["--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "valid.loss.best.pth"),
            "--device", "cpu", "--out_root", str(out_root), *map(str, dirs)]


def test_enhances_a_set(nsnet2_exp, tmp_path):
    data = write_enh_data(tmp_path / "test", n_utts=2)
    enhance_sets.main(_args(nsnet2_exp, tmp_path / "out", data))
    rows = [r.split() for r in (tmp_path / "out" / "enhanced_test" / "spk1.scp").read_text().splitlines()]
    assert len(rows) == 2
    for uid, path in rows:
        out, fs = sf.read(path)
        noisy, _ = sf.read(data / "wav" / f"{uid}_noisy.wav")
        assert fs == 16000 and out.shape == noisy.shape and np.isfinite(out).all() and 0 < np.std(out) < np.std(noisy)


def test_bad_inputs_are_named_and_nothing_is_written(nsnet2_exp, tmp_path):
    good = write_enh_data(tmp_path / "good", n_utts=2)
    bad = write_enh_data(tmp_path / "bad", n_utts=3)
    uids = [r.split()[0] for r in (bad / "wav.scp").read_text().splitlines()]
    paths = {u: bad / "wav" / f"{u}_noisy.wav" for u in uids}
    wav, _ = sf.read(paths[uids[0]])
    sf.write(paths[uids[0]], wav[::2], 8000)
    sf.write(paths[uids[1]], np.stack([wav, wav], axis=1), 16000)
    paths[uids[2]].unlink()
    scp = bad / "wav.scp"
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as err:
        enhance_sets.main(_args(nsnet2_exp, out, good, bad))
    msg = str(err.value)
    assert f"{scp}: {uids[0]}: sample rate 8000, expected 16000: {paths[uids[0]]}" in msg
    assert f"{scp}: {uids[1]}: 2 channels, expected mono: {paths[uids[1]]}" in msg
    assert f"{scp}: {uids[2]}: missing file: {paths[uids[2]]}" in msg
    assert "3 input problem(s), nothing enhanced" in msg and not out.exists()
    with pytest.raises(SystemExit, match=rf"{tmp_path / 'nowhere'}: no wav.scp"):
        enhance_sets.main(_args(nsnet2_exp, out, tmp_path / "nowhere"))
