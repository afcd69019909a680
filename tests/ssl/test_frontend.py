"""The SSL ASR frontend: registered, learned layer weights, frozen upstream, lengths."""
import torch

import espnet_pise
from conftest import TINY_ARCH, speechlike
from espnet_pise.ssl.frontend import SSLFrontend


def test_registered_for_asr_and_enh_s2t():
    espnet_pise.register()
    from espnet2.tasks import asr, enh_s2t

    assert asr.frontend_choices.get_class("pise_ssl") is SSLFrontend
    assert enh_s2t.frontend_choices.get_class("pise_ssl") is SSLFrontend


def test_learned_weighted_sum_trains_only_the_weights():
    fe = SSLFrontend(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH)
    wav = torch.stack([speechlike(8000, 1), speechlike(8000, 2)])
    wav[1, 5000:] = 0
    feats, lens = fe(wav, torch.tensor([8000, 5000]))
    assert feats.shape == (2, int(lens[0]), fe.output_size()) and int(lens[1]) == (5000 - 400) // 320 + 1
    feats.sum().backward()
    trainable = [n for n, p in fe.named_parameters() if p.requires_grad]
    assert trainable == ["layer_logits"] and fe.layer_logits.grad.abs().sum() > 0
    # the upstream is part of the ASR model (saved with it), unlike the loss teacher
    assert any(k.startswith("upstream.") for k in fe.state_dict())


def test_single_layer():
    fe = SSLFrontend(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH, layer=1)
    feats, _ = fe(speechlike(4000, 3)[None], torch.tensor([4000]))
    assert feats.shape[-1] == 32 and fe.layer_logits is None
