"""Mixed precision: under CPU bf16 autocast (what use_amp does on a GPU with fp16/bf16) the SSL
teacher and soft-DTW run in float32, the loss is finite and the enhancer gets gradients close to
the float32 ones."""
import pytest
import torch

from conftest import TINY_ARCH, speechlike

import espnet_pise

ENH_ARGS = [
    "--encoder", "conv", "--encoder_conf", "channel=8", "--encoder_conf", "kernel_size=16", "--encoder_conf", "stride=8",
    "--decoder", "conv", "--decoder_conf", "channel=8", "--decoder_conf", "kernel_size=16", "--decoder_conf", "stride=8",
    "--separator", "tcn", "--separator_conf", "num_spk=1", "--separator_conf", "layer=1", "--separator_conf", "stack=1",
    "--separator_conf", "bottleneck_dim=8", "--separator_conf", "hidden_dim=8",
]


def _model(name, conf):
    espnet_pise.register()
    from espnet2.tasks.enh import EnhancementTask

    args = EnhancementTask.get_parser().parse_args(ENH_ARGS)
    args.criterions = [dict(name=name, conf=dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH, **conf),
                            wrapper="fixed_order", wrapper_conf={})]
    torch.manual_seed(0)
    return EnhancementTask.build_model(args)


def _step(model, autocast):
    torch.manual_seed(1)
    clean = torch.stack([speechlike(8000, k, 16000) for k in range(2)])
    noisy = clean + 0.05 * torch.randn_like(clean)
    lens = torch.tensor([8000, 6400])
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss, stats, _ = model(noisy, lens, speech_ref1=clean)
    loss.backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    return loss, grads


@pytest.mark.parametrize("name, conf", [("ssl_sdtw", dict(speed_factors=[1.1], gamma=0.1)),
                                        ("ssl_sdtw", dict(speed_factors=[0.9], bandwidth=5)),
                                        ("ssl_mse", {})])
def test_bf16_autocast_loss_is_finite_and_gradients_reach_the_enhancer(name, conf):
    model = _model(name, conf)
    loss32, g32 = _step(model, autocast=False)
    loss16, g16 = _step(model, autocast=True)
    assert loss16.dtype == torch.float32 and torch.isfinite(loss16)
    assert torch.isfinite(g16).all() and g16.abs().sum() > 0
    assert g16.numel() == sum(p.numel() for p in model.parameters())  # every enhancer weight
    # only the enhancer runs in bf16 (8-bit mantissa): close to, not equal to, float32
    assert abs(float(loss16) - float(loss32)) <= 0.05 * abs(float(loss32)), (float(loss16), float(loss32))
    # (measured 0.95-1.0 here: the TCN backward also runs in bf16)
    assert torch.nn.functional.cosine_similarity(g16, g32, dim=0) > 0.9
    # the shared frozen teacher was not converted to half precision by the bf16 call
    teacher = model.loss_wrappers[0].criterion.teacher
    assert all(p.dtype == torch.float32 for p in teacher.upstream.parameters())


def test_soft_dtw_accumulates_in_float32_under_autocast():
    from espnet_pise.losses.soft_dtw import soft_dtw

    torch.manual_seed(0)
    x = torch.randn(2, 30, 16, requires_grad=True)
    y = torch.randn(2, 25, 16)
    ref = soft_dtw(x, y, gamma=0.1, normalize=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = soft_dtw(x, y, gamma=0.1, normalize=True)
        low = soft_dtw(x.bfloat16(), y.bfloat16(), gamma=0.1)
    assert got.dtype == torch.float32 and low.dtype == torch.float32
    torch.testing.assert_close(got, ref)  # autocast does not touch the float32 cost table
    (gx,) = torch.autograd.grad(got.sum(), x)
    (rx,) = torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(gx, rx)
