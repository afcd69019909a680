"""The SSL losses: padding invariance, real position changes, length mismatch, gradient flow."""
import pytest
import torch

from conftest import TINY_SSL, speechlike
from espnet_pise.losses.context import batch_lengths
from espnet_pise.losses.ssl_losses import SSLMSELoss, SSLMSEPadLoss, SSLShiftMSELoss, SSLSoftDTWLoss

# deterministic settings so that the same utterance gets the same perturbation in any batch
LOSSES = {
    "ssl_mse": lambda: SSLMSELoss(**TINY_SSL),
    "ssl_mse_pad": lambda: SSLMSEPadLoss(pad_min=0.04, pad_max=0.04, **TINY_SSL),
    "ssl_sdtw": lambda: SSLSoftDTWLoss(speed_factors=[0.9], **TINY_SSL),
    "ssl_sdtw_pad_band": lambda: SSLSoftDTWLoss(speed_factors=[1.1], pad=True, pad_min=0.03, pad_max=0.03, bandwidth=20, **TINY_SSL),
    "ssl_shift_mse": lambda: SSLShiftMSELoss(pad_min=0.04, pad_max=0.04, **TINY_SSL),
}


def _pair(seed, n):
    ref = speechlike(n, seed)
    return ref, ref + 0.05 * torch.randn(n, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_of_an_utterance_ignores_longer_batch_mates(name):
    loss = LOSSES[name]()
    ref0, inf0 = _pair(1, 9000)
    ref1, inf1 = _pair(2, 16000)
    alone = loss(ref0[None], inf0[None])
    ref = torch.zeros(2, 16000)
    inf = torch.full((2, 16000), 0.3)  # garbage in the padded region must not matter
    ref[0, :9000], inf[0, :9000] = ref0, inf0
    ref[1], inf[1] = ref1, inf1
    lens = torch.tensor([9000, 16000])
    batched = loss(ref, inf, lens)
    assert batched[0].item() == pytest.approx(alone.item(), rel=1e-4, abs=1e-5)
    # inside ESPnet the lengths arrive through the context instead of the argument
    with batch_lengths(lens):
        assert loss(ref, inf)[0].item() == pytest.approx(alone.item(), rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradient_reaches_enhanced_speech_only(name):
    loss = LOSSES[name]()
    ref, inf = _pair(3, 8000)
    inf = inf[None].clone().requires_grad_()
    lens = torch.tensor([6000])
    loss(ref[None], inf, lens).sum().backward()
    assert inf.grad is not None and inf.grad[0, :6000].abs().sum() > 0
    assert (inf.grad[0, 6000:] == 0).all()
    upstream = loss.teacher.upstream
    assert all(not p.requires_grad and p.grad is None for p in upstream.parameters())
    # the teacher is invisible to module trees: nothing to save, move or optimise
    assert len(list(loss.parameters())) == 0 and len(loss.state_dict()) == 0
    assert not upstream.training


def test_pad_variant_really_moves_the_reference():
    loss = SSLMSEPadLoss(pad_min=0.06, pad_max=0.06, **TINY_SSL)
    ref = speechlike(16000, 4)[None]
    lens = torch.tensor([16000])
    moved, moved_lens, front, back = loss.transform_reference(ref, lens)
    hop = loss.teacher.hop
    assert front.item() == back.item() == round(0.06 * 16000 / hop) == 3
    start = int(front) * hop
    assert int(moved_lens) == 16000 + (int(front) + int(back)) * hop
    assert torch.equal(moved[0, start : start + 16000], ref[0]) and (moved[0, :start] == 0).all()
    # same content at other absolute positions gives other features: the loss of a perfect
    # estimate is no longer 0, unlike plain SSL-MSE
    assert SSLMSELoss(**TINY_SSL)(ref, ref.clone()).item() == 0.0
    assert loss(ref, ref.clone()).item() > 0.0


def test_pad_fractions_are_drawn_in_range():
    loss = SSLMSEPadLoss(pad_min=0.02, pad_max=0.05, **TINY_SSL)
    hop = loss.teacher.hop
    lens = torch.full((200,), 32000)
    torch.manual_seed(0)
    _, _, front, back = loss.transform_reference(torch.randn(200, 32000) * 0, lens)
    frac = torch.cat([front, back]).double() * hop / 32000
    assert frac.min() >= 0.02 - hop / 32000 and frac.max() <= 0.05 + hop / 32000
    assert len(torch.unique(front)) > 1  # really random


def test_sdtw_accepts_length_mismatch():
    loss = SSLSoftDTWLoss(speed_factors=[0.8], **TINY_SSL)
    ref = speechlike(16000, 5)[None]
    moved, moved_lens, _, _ = loss.transform_reference(ref, torch.tensor([16000]))
    assert abs(int(moved_lens) - 20000) <= 2  # factor 0.8 -> 1.25x longer
    value = loss(ref, ref.clone())
    assert torch.isfinite(value).all()
    # feature sequences of different lengths go straight into the distance
    x, y = torch.randn(1, 30, 32), torch.randn(1, 41, 32)
    assert torch.isfinite(loss.distance(x, torch.tensor([30]), y, torch.tensor([41]))).all()


def test_sdtw_identity_perturbation_of_perfect_estimate_is_zero():
    loss = SSLSoftDTWLoss(speed_factors=[1.0], **TINY_SSL)
    ref = speechlike(12000, 6)[None]
    assert abs(loss(ref, ref.clone()).item()) < 1e-4
    noisy = ref + 0.1 * torch.randn_like(ref)
    assert loss(ref, noisy).item() > 1e-3


def test_shift_variant_tolerates_a_delay():
    shift = SSLShiftMSELoss(pad_min=0.0, pad_max=0.0, max_shift=2, **TINY_SSL)
    mse = SSLMSELoss(**TINY_SSL)
    ref = speechlike(16000, 7)[None]
    delayed = torch.nn.functional.pad(ref, (320, 0))[:, :16000]  # one SSL frame late
    assert shift(ref, delayed).item() < 0.5 * mse(ref, delayed).item()


def test_default_speed_factors_follow_the_paper():
    assert SSLSoftDTWLoss(**TINY_SSL).speed_factors == [0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2]


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="pad_min"):
        SSLMSEPadLoss(pad_min=0.1, pad_max=0.05, **TINY_SSL)
    with pytest.raises(ValueError, match="gamma"):
        SSLSoftDTWLoss(gamma=0.0, **TINY_SSL)
    with pytest.raises(ValueError, match="ref and inf"):
        SSLMSELoss(**TINY_SSL)(torch.zeros(1, 100), torch.zeros(1, 90))


@pytest.mark.parametrize("name", ["ssl_mse", "ssl_sdtw"])
def test_utterance_shorter_than_the_cnn_is_padded_to_its_receptive_field(name, caplog):
    loss = LOSSES[name]()
    ref = torch.stack([speechlike(3200, 0), torch.cat([speechlike(50, 1), torch.zeros(3150)])])
    inf = (ref + 0.01 * torch.randn_like(ref)).requires_grad_(True)
    with caplog.at_level("WARNING"):
        value = loss(ref, inf, torch.tensor([3200, 50]))
    assert torch.isfinite(value).all() and value.shape == (2,)
    assert "batch positions [1] have [50] samples, fewer than the 400 its CNN needs" in caplog.text
    value.sum().backward()
    assert inf.grad[1, 50:].abs().max() == 0  # padding stays padding


def test_non_finite_input_is_refused_with_batch_items():
    loss = LOSSES["ssl_mse"]()
    ref = torch.stack([speechlike(3200, 0), speechlike(3200, 1)])
    inf = ref.clone()
    inf[1, 100] = float("nan")
    with pytest.raises(ValueError, match=r"ssl_mse: NaN/Inf samples in the enhanced waveform of batch items \[1\] \(lengths \[3200\]\)"):
        loss(ref, inf)
    inf[1, 100] = 0.0
    inf[0, 3100] = float("inf")  # beyond the valid length: padding, ignored
    assert torch.isfinite(loss(ref, inf, torch.tensor([3000, 3200]))).all()
