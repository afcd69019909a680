"""register(): idempotent, fills ESPnet's tables, and publishes batch lengths to criterions."""
import subprocess
import sys

import torch
import yaml

import espnet_pise
from conftest import TINY_ARCH
from espnet_pise.losses.context import current_lengths

NAMES = ("ssl_mse", "ssl_mse_pad", "ssl_sdtw", "ssl_shift_mse")


def test_register_is_idempotent_and_fills_the_enh_tables():
    espnet_pise.register()
    espnet_pise.register()
    from espnet2.tasks import enh, enh_tse

    for name in NAMES:
        assert name in enh.criterion_choices.classes
        assert enh_tse.criterion_choices.get_class(name) is enh.criterion_choices.get_class(name)


def test_forward_loss_publishes_lengths_to_criterions():
    espnet_pise.register()
    from espnet2.enh.espnet_model import ESPnetEnhancementModel
    from espnet2.tasks.enh import EnhancementTask

    seen = []
    parser = EnhancementTask.get_parser()
    args = parser.parse_args([
        "--encoder", "conv", "--encoder_conf", "channel=8", "--encoder_conf", "kernel_size=16", "--encoder_conf", "stride=8",
        "--decoder", "conv", "--decoder_conf", "channel=8", "--decoder_conf", "kernel_size=16", "--decoder_conf", "stride=8",
        "--separator", "tcn", "--separator_conf", "num_spk=1", "--separator_conf", "layer=1", "--separator_conf", "stack=1",
        "--separator_conf", "bottleneck_dim=8", "--separator_conf", "hidden_dim=8",
    ])
    args.criterions = [dict(name="ssl_mse", conf=dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH), wrapper="fixed_order", wrapper_conf={})]
    model = EnhancementTask.build_model(args)
    assert isinstance(model, ESPnetEnhancementModel)
    criterion = model.loss_wrappers[0].criterion
    original = criterion.forward

    def spy(ref, inf, lengths=None):
        seen.append(current_lengths())
        return original(ref, inf, lengths)

    criterion.forward = spy
    lens = torch.tensor([8000, 5000])
    model(torch.randn(2, 8000), lens, speech_ref1=torch.randn(2, 8000))
    assert len(seen) == 1 and torch.equal(seen[0], lens)
    assert current_lengths() is None  # only while the loss runs
    # the SSL teacher is not part of the SE model
    assert not any("wav2vec2" in k or "teacher" in k or "transformer.layers" in k for k in model.state_dict())


def test_entry_modules_accept_our_names(tmp_path):
    """enh_s2t keeps deep copies of tables for its CLI: our criterion must still be accepted."""
    crit = [{"name": "ssl_sdtw", "conf": {"ssl_source": "torchaudio:hubert_base"}, "wrapper": "fixed_order", "wrapper_conf": {}}]
    for module, key in (("enh_train", "criterions"), ("enh_s2t_train", "enh_criterions")):
        conf = tmp_path / f"{module}.yaml"
        conf.write_text(yaml.safe_dump({key: crit}))
        res = subprocess.run(
            [sys.executable, "-m", f"espnet_pise.bin.{module}", "--config", str(conf), "--print_config"],
            capture_output=True, text=True, timeout=300,
        )
        assert res.returncode == 0, res.stderr[-3000:]
        printed = yaml.safe_load(res.stdout)
        assert printed[key][0]["name"] == "ssl_sdtw"
