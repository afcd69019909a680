"""Joint SE + ASR: the enhanced speech goes through the shared frozen SSL model once."""
import torch

from conftest import TINY_ARCH, TINY_SSL, speechlike
from espnet_pise.losses.ssl_losses import SSLMSELoss
from espnet_pise.ssl import one_pass
from espnet_pise.ssl.frontend import SSLFrontend
from espnet_pise.ssl.upstream import TorchaudioUpstream


def count_calls(monkeypatch):
    calls = []
    orig = TorchaudioUpstream.forward

    def counted(self, wav, wav_lens, max_layer=None):
        calls.append(max_layer)
        return orig(self, wav, wav_lens, max_layer)

    monkeypatch.setattr(TorchaudioUpstream, "forward", counted)
    return calls


def test_loss_and_frontend_share_one_pass_with_correct_gradients(monkeypatch):
    one_pass.clear()
    loss_fn = SSLMSELoss(**TINY_SSL)
    frontend = SSLFrontend(ssl_source=TINY_SSL["ssl_source"], arch_conf=TINY_ARCH, layer=None)
    torch.manual_seed(0)
    frontend.layer_logits.data.normal_()
    clean = torch.stack([speechlike(16000, seed=1), speechlike(16000, seed=2)])
    lens = torch.tensor([16000, 16000])

    def joint_loss(enh):
        loss = loss_fn(clean, enh).mean()  # the criterion: clean branch + enhanced branch
        feats, _ = frontend(enh, lens)  # the ASR frontend on the same enhanced tensor
        return loss + feats.pow(2).mean()

    base = (clean + 0.1 * torch.randn_like(clean))
    enh = base.clone().requires_grad_(True)
    calls = count_calls(monkeypatch)
    joint_loss(enh).backward()
    assert len(calls) == 2  # clean reference + enhanced speech once (three without sharing)
    shared_grad = enh.grad.clone()

    # reference: no sharing (a fresh clone per consumer), same value and gradient
    monkeypatch.setattr(one_pass, "run_once", lambda key, wav, lens, n, fwd: fwd(n))
    enh2 = base.clone().requires_grad_(True)
    joint_loss(enh2).backward()
    assert len(calls) == 5
    torch.testing.assert_close(shared_grad, enh2.grad)


def test_no_sharing_for_other_data_or_inplace_change():
    one_pass.clear()
    runs = []

    def fwd(n):
        runs.append(n)
        return [torch.zeros(1)], torch.ones(1)

    x, lens = torch.randn(1, 100), torch.tensor([100])
    one_pass.run_once("m", x, lens, None, fwd)
    one_pass.run_once("m", x, lens, 1, fwd)  # fewer layers: reuse
    assert len(runs) == 1
    one_pass.run_once("other", x, lens, None, fwd)  # other model
    x.mul_(2)  # in-place change bumps the version
    one_pass.run_once("other", x, lens, None, fwd)
    one_pass.run_once("other", x.clone(), lens, None, fwd)
    one_pass.run_once("other", x, torch.tensor([50]), None, fwd)
    assert len(runs) == 5
