"""Whisper base as the frozen teacher: exact encoder, frames and hop, lengths, gradients, errors."""
import pytest
import soundfile as sf
import torch

from conftest import flite_clip, speechlike
from espnet_pise.losses.ssl_losses import SSLMSELoss, SSLMSEPadLoss, SSLShiftMSELoss, SSLSoftDTWLoss
from espnet_pise.ssl.teacher import SSLTeacher
from espnet_pise.ssl.whisper_model import encoder_frames, encoder_states, load_whisper


@pytest.fixture(scope="module")
def fox(tmp_path_factory):
    path = flite_clip("the quick brown fox jumps over the lazy dog", tmp_path_factory.mktemp("w") / "fox.wav")
    return torch.tensor(sf.read(path, dtype="float32")[0])


def test_30s_window_is_openai_whispers_own_encoder(whisper_ckpt, fox):
    import whisper

    model = load_whisper(whisper_ckpt)
    window = whisper.pad_or_trim(fox)
    with torch.no_grad():
        ref = model.encoder(whisper.log_mel_spectrogram(window)[None])
        states, lens = encoder_states(model.encoder, fox[None], torch.tensor([len(fox)]), pad_to_s=30, whole_window=True)
        own, own_lens = encoder_states(model.encoder, fox[None], torch.tensor([len(fox)]), pad_to_s=30)
    assert len(states) == 7 and int(lens) == 1500
    assert torch.equal(states[-1], ref)
    assert int(own_lens) == (len(fox) // 160 + 1) // 2 and torch.equal(own[-1][0], ref[0, : int(own_lens)])


def test_teacher_frames_lengths_and_hiding(whisper_ckpt):
    teacher = SSLTeacher(f"whisper:{whisper_ckpt}", layer=4)
    assert teacher.hop == 320 and teacher.upstream.num_layers == 6 and teacher.out_dim == 512
    assert all(not p.requires_grad for p in teacher.upstream.parameters())
    holder = torch.nn.Module()
    holder.teacher = teacher
    assert not list(holder.state_dict()) and not list(holder.parameters())
    a, b = speechlike(16000, 1), speechlike(9000, 2)
    batch = torch.zeros(2, 16000)
    batch[0], batch[1, :9000] = a, b
    batch[1, 9000:] = 0.5  # garbage beyond the length must not change a feature
    with torch.no_grad():
        feats, lens = teacher(batch, torch.tensor([16000, 9000]))
        alone, alone_lens = teacher(b[None], torch.tensor([9000]))
    assert lens.tolist() == [50, 28] == encoder_frames(torch.tensor([16000, 9000])).tolist()
    assert torch.allclose(feats[1, :28], alone[0], atol=1e-5) and feats[1, 28:].abs().max() == 0


LOSSES = {
    "ssl_mse": lambda src: SSLMSELoss(ssl_source=src),
    "ssl_mse_pad": lambda src: SSLMSEPadLoss(ssl_source=src),
    "ssl_sdtw": lambda src: SSLSoftDTWLoss(ssl_source=src),
    "ssl_shift_mse": lambda src: SSLShiftMSELoss(ssl_source=src),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_with_whisper_teacher(whisper_ckpt, name):
    loss = LOSSES[name](f"whisper:{whisper_ckpt}")
    ref = torch.stack([speechlike(12000, 3), speechlike(12000, 4)])
    ref[1, 8000:] = 0
    inf = (ref + 0.05 * torch.randn_like(ref)).requires_grad_(True)
    ref.requires_grad_(True)
    value = loss(ref, inf, torch.tensor([12000, 8000]))
    assert value.shape == (2,) and torch.isfinite(value).all() and (value > 0).all()
    value.sum().backward()
    assert ref.grad is None  # gradient only to the enhanced speech, through the log-mel
    assert torch.isfinite(inf.grad).all() and inf.grad[0].abs().sum() > 0
    assert inf.grad[1, 8000:].abs().max() == 0  # padding gets no gradient


def test_identical_losses_share_one_whisper(whisper_ckpt):
    a, b = SSLMSELoss(ssl_source=f"whisper:{whisper_ckpt}"), SSLSoftDTWLoss(ssl_source=f"whisper:{whisper_ckpt}")
    assert a.teacher.upstream is b.teacher.upstream


def test_mse_pad_moves_whole_whisper_frames(whisper_ckpt):
    """Zero-padding by a multiple of the 320-sample hop shifts the clean frames by whole frames."""
    loss = SSLMSEPadLoss(ssl_source=f"whisper:{whisper_ckpt}")
    ref = speechlike(16000, 5)[None]
    moved, lens, front, back = loss.transform_reference(ref, torch.tensor([16000]))
    assert (lens - 16000).item() == 320 * (front + back).item() and front.item() >= 1


def test_bad_sources_and_inputs(whisper_ckpt, tmp_path):
    with pytest.raises(FileNotFoundError, match="whisper:/nonexistent/w.pt: no such Whisper checkpoint"):
        SSLTeacher("whisper:/nonexistent/w.pt")
    junk = tmp_path / "junk.pt"
    torch.save({"weights": torch.zeros(1)}, junk)
    with pytest.raises(ValueError, match="junk.pt: not an openai-whisper checkpoint"):
        SSLTeacher(f"whisper:{junk}")
    with pytest.raises(ValueError, match=r"unknown Whisper option\(s\) \['pad'\]"):
        SSLTeacher(f"whisper:{whisper_ckpt}", arch_conf={"pad": 1})
    teacher = SSLTeacher(f"whisper:{whisper_ckpt}")
    with pytest.raises(ValueError, match=r"31.0 s\): longer than Whisper's 30 s window"):
        teacher(torch.zeros(1, 31 * 16000))


def test_fitted_window_never_truncates_and_depends_on_the_utterance_only(whisper_ckpt):
    from espnet_pise.ssl.whisper_model import WINDOW_SAMPLES, window_samples

    lens = torch.tensor([400, 15999, 16000, 16001, 41000, WINDOW_SAMPLES - 100, WINDOW_SAMPLES])
    for margin, step in ((0.0, 1.0), (1.0, 1.0), (2.0, 0.5), (0.3, 7.0)):
        win = window_samples(lens, fit_margin_s=margin, fit_step_s=step)
        assert (win >= lens).all() and (win <= WINDOW_SAMPLES).all()
        inside = win < WINDOW_SAMPLES  # below the 30 s cap: length + margin, rounded up to the step
        assert (win[inside] >= lens[inside] + int(margin * 16000)).all()
        assert (win[inside] % int(step * 16000) == 0).all()
    with pytest.raises(ValueError, match="exclude each other"):
        window_samples(lens, pad_to_s=10, fit_margin_s=1.0)
    # features: each utterance's own frames, equal to a fixed window of its fitted length, in any batch
    model = load_whisper(whisper_ckpt)
    a, b = speechlike(20000, 7), speechlike(9000, 8)
    batch = torch.zeros(2, 20000)
    batch[0], batch[1, :9000] = a, b
    with torch.no_grad():
        states, flens = encoder_states(model.encoder, batch, torch.tensor([20000, 9000]), fit_margin_s=1.0)
        alone, _ = encoder_states(model.encoder, b[None], torch.tensor([9000]), pad_to_s=2.0)
    assert flens.tolist() == encoder_frames(torch.tensor([20000, 9000])).tolist()
    torch.testing.assert_close(states[-1][1, :28], alone[-1][0], atol=1e-4, rtol=1e-4)


def test_bf16_teacher_loss_is_finite_and_close_to_float32(whisper_ckpt):
    """compute_dtype bfloat16: finite loss within 2 % of float32, enhanced-speech gradient cosine > 0.98
    (bench/ssl_step.py measures the same on a training batch), weights stay float32."""
    ref = torch.stack([speechlike(16000, 9), speechlike(16000, 10)])
    ref[1, 12000:] = 0
    inf0 = ref + 0.05 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(0))
    out = {}
    for dtype in ("float32", "bfloat16"):
        loss = SSLMSELoss(ssl_source=f"whisper:{whisper_ckpt}", arch_conf={"pad_to_s": 4, "compute_dtype": dtype})
        inf = inf0.clone().requires_grad_(True)
        value = loss(ref, inf, torch.tensor([16000, 12000]))
        value.sum().backward()
        out[dtype] = (value.detach(), inf.grad.flatten())
        assert value.dtype == torch.float32 and torch.isfinite(value).all() and torch.isfinite(inf.grad).all()
        assert all(p.dtype == torch.float32 for p in loss.teacher.upstream.parameters())
    (v32, g32), (v16, g16) = out["float32"], out["bfloat16"]
    assert ((v16 - v32).abs() <= 0.02 * v32.abs()).all(), (v16, v32)
    assert torch.nn.functional.cosine_similarity(g16, g32, dim=0) > 0.98
    with pytest.raises(ValueError, match="compute_dtype must be one of"):
        SSLTeacher(f"whisper:{whisper_ckpt}", arch_conf={"compute_dtype": "float16"})
