"""GTCRN: the converted whole-utterance model equals the authors' streaming ONNX graph run frame by
frame by onnxruntime; causality, padding, gradients through the SSL losses, short input, ONNX
files and checkpoints refused by name, and training/inference through ESPnet."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from conftest import SE_MODELS_DIR, TINY_ARCH, TINY_SSL, flite_clip, se_model, speechlike, write_enh_data
from espnet_pise.enh.gtcrn import GTCRN, GTCRNWaveform, gtcrn_from_onnx, onnx_stream
from espnet_pise.enh.gtcrn_separator import GTCRNSeparator
from espnet_pise.enh.pretrained import save_converted
from espnet_pise.losses.ssl_losses import SSLMSELoss, SSLMSEPadLoss, SSLSoftDTWLoss

FS = 16000


@pytest.fixture(scope="module")
def ckpt():
    return str(se_model("gtcrn"))


@pytest.fixture(scope="module")
def onnx_path(ckpt):
    return SE_MODELS_DIR / "onnx" / "gtcrn_simple.onnx"  # kept by get_se_models beside the checkpoint


def _noisy(n: int, seed: int = 0, snr_db: float = 5.0) -> torch.Tensor:
    speech = speechlike(n, seed)
    noise = torch.randn(n, generator=torch.Generator().manual_seed(seed + 100))
    return (speech + noise * speech.std() / noise.std() * 10 ** (-snr_db / 20)).float()


def _si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    ref = ref - ref.mean()
    est = est - est.mean()
    target = (est @ ref) / (ref @ ref) * ref
    return float(10 * np.log10((target @ target) / ((est - target) @ (est - target))))


@pytest.mark.parametrize("periodic", [True, False], ids=["periodic_hann", "symmetric_hann"])
def test_equals_streaming_onnx_graph_frame_by_frame(ckpt, onnx_path, tmp_path, periodic):
    """Speech (flite) in white noise at 5 dB SNR: the separator on the whole utterance vs the
    fasr wheel's pipeline (librosa STFT, zero-padded centring, the ONNX graph one frame per call
    with its caches carried, librosa inverse STFT) with the same window and framing."""
    import librosa

    clean, fs = sf.read(flite_clip("The birch canoe slid on the smooth planks, glue the sheet to the dark blue "
                                   "background.", tmp_path / "clip.wav"), dtype="float32")
    assert fs == FS
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(len(clean)).astype(np.float32)
    noisy = clean + noise * clean.std() / noise.std() * 10 ** (-5 / 20)
    window = (np.hanning(513)[:-1] if periodic else np.hanning(512)) ** 0.5
    # GTCRNWaveform zero-pads to a whole number of hops, so that the last samples get two frames
    padded = np.pad(noisy, (0, -len(noisy) % 256))
    spec = librosa.stft(padded, n_fft=512, hop_length=256, win_length=512, window=window, center=True,
                        pad_mode="constant")
    enh = onnx_stream(onnx_path, torch.from_numpy(spec[None].astype(np.complex64)))[0].numpy()
    want = librosa.istft(enh, hop_length=256, win_length=512, n_fft=512, window=window, center=True,
                         length=len(noisy))
    sep = GTCRNSeparator(init_checkpoint=ckpt, periodic_window=periodic).eval()
    with torch.no_grad():
        (got,), _, _ = sep(torch.from_numpy(noisy)[None], torch.tensor([len(noisy)]))
    err = float(np.abs(got[0].numpy() - want).max())
    snr_in, snr_out = _si_sdr(noisy, clean), _si_sdr(got[0].numpy(), clean)
    print(f"\nGTCRN vs streaming ONNX ({'periodic' if periodic else 'symmetric'} sqrt-Hann, {len(noisy) / FS:.2f} s): "
          f"max abs error {err:.3g} (peak {np.abs(want).max():.3f}); SI-SDR {snr_in:.2f} -> {snr_out:.2f} dB")
    assert err < 1e-4
    assert snr_out > snr_in + 3  # it enhances: the real DNS3 weights, not an identity


def test_causal_up_to_one_window_ahead(ckpt):
    sep = GTCRNSeparator(init_checkpoint=ckpt).eval()
    x = _noisy(12000, seed=1)[None]
    t = 5000
    cut = t + sep.model.lookahead + 1
    y = x.clone()
    y[:, cut:] = torch.randn(1, x.shape[1] - cut)
    lens = torch.tensor([x.shape[1]])
    with torch.no_grad():
        a, b = sep(x, lens)[0][0], sep(y, lens)[0][0]
    assert torch.allclose(a[:, : t + 1], b[:, : t + 1], rtol=0, atol=1e-6)
    assert not torch.allclose(a[:, cut:], b[:, cut:], atol=1e-3)  # the change is seen later


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train_frozen_bn"])
def test_batch_with_padding_equals_each_utterance_alone(ckpt, training):
    sep = GTCRNSeparator(init_checkpoint=ckpt).train(training)
    assert all(not m.training for m in sep.modules() if isinstance(m, torch.nn.BatchNorm2d))
    lens = [3001, 9000, 100]
    batch = torch.full((3, 9000), 0.3)  # garbage in the padding must not matter
    utts = [_noisy(n, seed=k) for k, n in enumerate(lens)]
    for k, u in enumerate(utts):
        batch[k, : len(u)] = u
    with torch.no_grad():
        (out,), olens, _ = sep(batch, torch.tensor(lens))
        for k, u in enumerate(utts):
            alone = sep(u[None], torch.tensor([len(u)]))[0][0][0]
            assert torch.allclose(out[k, : len(u)], alone, rtol=0, atol=1e-5), k
            assert (out[k, len(u):] == 0).all()
    assert olens.tolist() == lens


def test_unfrozen_batchnorm_trains_its_statistics(ckpt):
    sep = GTCRNSeparator(init_checkpoint=ckpt, freeze_batchnorm=False).train()
    assert all(m.training for m in sep.modules() if isinstance(m, torch.nn.BatchNorm2d))


LOSSES = {
    "ssl_mse": lambda: SSLMSELoss(**TINY_SSL),
    "ssl_mse_pad": lambda: SSLMSEPadLoss(pad_min=0.04, pad_max=0.04, **TINY_SSL),
    "ssl_sdtw": lambda: SSLSoftDTWLoss(bandwidth=20, **TINY_SSL),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradient_of_each_ssl_loss_reaches_every_trained_parameter(ckpt, name):
    torch.manual_seed(0)
    sep = GTCRNSeparator(init_checkpoint=ckpt).train()
    loss = LOSSES[name]()
    lens = torch.tensor([8000, 6000])
    noisy = torch.stack([_noisy(8000, 2), torch.cat([_noisy(6000, 3), torch.zeros(2000)])])
    clean = torch.stack([speechlike(8000, 2), torch.cat([speechlike(6000, 3), torch.zeros(2000)])])
    (est,), _, _ = sep(noisy, lens)
    loss(clean, est, lens).mean().backward()
    trained = {k: p for k, p in sep.named_parameters() if p.requires_grad}
    frozen = sorted(k for k, p in sep.named_parameters() if not p.requires_grad)
    assert frozen == ["model.gtcrn.erb.erb_fc.weight", "model.gtcrn.erb.ierb_fc.weight"]  # fixed ERB filters
    assert trained and all(p.grad is not None and torch.isfinite(p.grad).all() for p in trained.values())
    zero = [k for k, p in trained.items() if not p.grad.abs().sum() > 0]
    assert not zero, zero


@pytest.mark.parametrize("n", [1, 100, 257, 511])
def test_utterance_shorter_than_a_frame(ckpt, n):
    sep = GTCRNSeparator(init_checkpoint=ckpt).eval()
    with torch.no_grad():
        (out,), _, _ = sep(0.1 * torch.randn(1, n, generator=torch.Generator().manual_seed(n)), torch.tensor([n]))
    assert out.shape == (1, n) and torch.isfinite(out).all()


# ------------------------------------------------------------------ bad files refused by name
def _edited_copy(onnx_path, tmp_path, edit):
    import onnx

    model = onnx.load(str(onnx_path))
    edit(model)
    out = tmp_path / "edited.onnx"
    onnx.save(model, str(out))
    return out


def _initializer(model, name):
    return next(t for t in model.graph.initializer if t.name == name)


def test_onnx_with_a_renamed_tensor_is_refused_naming_file_and_tensor(onnx_path, tmp_path):
    def rename(model):
        _initializer(model, "dpgrnn1.intra_ln.weight").name = "dpgrnn1.intra_ln.scale"

    bad = _edited_copy(onnx_path, tmp_path, rename)
    with pytest.raises(ValueError, match=r"edited.onnx: ONNX tensor 'dpgrnn1.intra_ln.weight' is missing"):
        gtcrn_from_onnx(bad)


def test_onnx_with_a_wrong_shape_is_refused_naming_file_and_tensor(onnx_path, tmp_path):
    from onnx import numpy_helper

    def reshape(model):  # the first Conv node's kernel: the encoder's first convolution
        name = next(n for n in model.graph.node if n.op_type == "Conv").input[1]
        t = _initializer(model, name)
        t.CopyFrom(numpy_helper.from_array(np.zeros((16, 9, 1, 3), np.float32), name))

    bad = _edited_copy(onnx_path, tmp_path, reshape)
    with pytest.raises(ValueError, match=r"edited.onnx: ONNX tensor 'onnx::Conv_\d+' has shape \(16, 9, 1, 3\), "
                                         r"expected \(16, 9, 1, 5\)"):
        gtcrn_from_onnx(bad)


def test_onnx_with_an_unexplained_or_altered_constant_is_refused(onnx_path, tmp_path):
    from onnx import numpy_helper

    def extra(model):
        model.graph.initializer.append(numpy_helper.from_array(np.ones((3, 3), np.float32), "stray"))

    with pytest.raises(ValueError, match=r"edited.onnx: initializers that the GTCRN conversion does not explain: "
                                         r"\['stray \[3, 3\]"):
        gtcrn_from_onnx(_edited_copy(onnx_path, tmp_path, extra))

    def erb(model):  # the band-merging matrix is fixed by the architecture
        name = next(n for n in model.graph.node if n.op_type == "MatMul").input[1]
        arr = numpy_helper.to_array(_initializer(model, name)) * 1.01
        _initializer(model, name).CopyFrom(numpy_helper.from_array(arr, name))

    with pytest.raises(ValueError, match=r"edited.onnx: the ERB matrix of erb.erb_fc.weight differs"):
        gtcrn_from_onnx(_edited_copy(onnx_path, tmp_path, erb))


def test_damaged_onnx_and_checkpoints_are_refused_naming_the_file(ckpt, onnx_path, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.onnx"):
        gtcrn_from_onnx(tmp_path / "nowhere.onnx")
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(onnx_path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="cut.onnx"):
        gtcrn_from_onnx(cut)
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        GTCRNSeparator(init_checkpoint=str(tmp_path / "nowhere.pt"))
    half = tmp_path / "half.pt"
    data = open(ckpt, "rb").read()
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="half.pt"):
        GTCRNSeparator(init_checkpoint=str(half))
    kwargs, state = gtcrn_from_onnx(onnx_path)
    small = dict(kwargs, channels=8)
    save_converted(tmp_path / "small.pt", "gtcrn", small, GTCRN(**small).state_dict(), {})
    with pytest.raises(ValueError, match=r"small.pt: GTCRN converted with channels=8, but channels=16 was set"):
        GTCRNSeparator(init_checkpoint=str(tmp_path / "small.pt"))
    assert GTCRNSeparator(init_checkpoint=str(tmp_path / "small.pt"), channels=8).model.gtcrn.dpgrnn1 is not None
    save_converted(tmp_path / "other.pt", "nsnet2", kwargs, state, {})
    with pytest.raises(ValueError, match=r"other.pt: a converted 'nsnet2' checkpoint, not 'gtcrn'"):
        GTCRNSeparator(init_checkpoint=str(tmp_path / "other.pt"))
    wrong = dict(state)
    wrong.pop("dpgrnn2.inter_fc.bias")
    save_converted(tmp_path / "wrong.pt", "gtcrn", kwargs, wrong, {})
    with pytest.raises(ValueError, match=r"wrong.pt: does not fit GTCRN"):
        GTCRNSeparator(init_checkpoint=str(tmp_path / "wrong.pt"))


def test_architecture_settings_are_checked():
    with pytest.raises(ValueError, match="erb_low_bins \\+ erb_bands = 4 k \\+ 1"):
        GTCRN(erb_bands=63)
    with pytest.raises(ValueError, match="num_spk must be 1"):
        GTCRNSeparator(num_spk=2)
    model = GTCRNWaveform(GTCRN())
    with pytest.raises(ValueError, match=r"\(B, T\) waveforms"):
        model(torch.zeros(1, 1, 100))


# ------------------------------------------------------------------------------ through ESPnet
def _run(args, cwd):
    res = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    return res


def test_espnet_trains_and_enhances_with_pretrained_gtcrn(ckpt, tmp_path):
    """enh_train (separator gtcrn from the converted checkpoint, encoder/decoder same, ssl_sdtw
    through a tiny teacher) for one epoch of two steps, then enh_inference with the result."""
    data = write_enh_data(tmp_path / "data")
    conf = dict(
        encoder="same", decoder="same", separator="gtcrn", separator_conf=dict(init_checkpoint=ckpt),
        criterions=[dict(name="ssl_sdtw", conf=dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH, gamma=0.1,
                                                     bandwidth=30),
                         wrapper="fixed_order", wrapper_conf=dict(weight=1.0))],
        optim="adam", optim_conf=dict(lr=1e-3), max_epoch=1, batch_type="unsorted", batch_size=2, num_workers=0,
        use_tensorboard=False, seed=0,
    )
    (tmp_path / "conf.yaml").write_text(yaml.safe_dump(conf))
    exp = tmp_path / "exp"
    data_args = []
    for split in ("train", "valid"):
        data_args += [f"--{split}_data_path_and_name_and_type", f"{data}/wav.scp,speech_mix,sound",
                      f"--{split}_data_path_and_name_and_type", f"{data}/spk1.scp,speech_ref1,sound",
                      f"--{split}_shape_file", f"{data}/speech_mix_shape"]
    _run(["espnet_pise.bin.enh_train", "--config", "conf.yaml", "--output_dir", str(exp), "--ngpu", "0", *data_args],
         tmp_path)
    stats = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)["reporter"]["stats"]
    assert np.isfinite(float(stats[1]["train"]["ssl_sdtw"]))
    trained = torch.load(exp / "1epoch.pth", map_location="cpu")
    start = GTCRNSeparator(init_checkpoint=ckpt).state_dict()
    moved = [k for k, v in start.items() if not torch.equal(trained[f"separator.{k}"], v)]
    assert moved and "model.gtcrn.encoder.en_convs.0.conv.weight" in moved  # it was fine-tuned
    # batch-norm statistics frozen, ERB filters fixed
    assert all(torch.equal(trained[f"separator.{k}"], start[k]) for k in start if "running_" in k or "erb_fc" in k)
    out = tmp_path / "enhanced"
    _run(["espnet_pise.bin.enh_inference", "--ngpu", "0", "--batch_size", "1", "--fs", str(FS),
          "--data_path_and_name_and_type", f"{data}/wav.scp,speech_mix,sound",
          "--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "1epoch.pth"),
          "--output_dir", str(out)], tmp_path)
    rows = [r.split(maxsplit=1) for r in (out / "spk1.scp").read_text().splitlines() if r.strip()]
    assert len(rows) == 4
    for uid, path in rows:
        wav, fs = sf.read(path)
        noisy, _ = sf.read(f"{data}/wav/{uid}_noisy.wav")
        assert fs == FS and len(wav) == len(noisy) and np.isfinite(wav).all()
