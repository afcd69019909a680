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
