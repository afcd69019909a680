"""ESPnet's collect-stats pass (``--collect_stats true``: espnet2.main_funcs.collect_stats, which
runs the model's collect_feats) never runs the SSL teacher of our criterions."""
import numpy as np
import torch

import espnet_pise
from conftest import TINY_ARCH, speechlike

ENH_ARGS = [
    "--encoder", "same", "--decoder", "same", "--separator", "demucs", "--separator_conf", "hidden=8",
    "--separator_conf", "depth=3", "--separator_conf", "kernel_size=8", "--separator_conf", "stride=4",
    "--separator_conf", "resample=2",
]


def test_collect_stats_does_not_run_the_teacher(tmp_path):
    espnet_pise.register()
    from espnet2.main_funcs.collect_stats import collect_stats
    from espnet2.tasks.enh import EnhancementTask

    args = EnhancementTask.get_parser().parse_args(ENH_ARGS)
    args.criterions = [dict(name=name, conf=dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH),
                            wrapper="fixed_order", wrapper_conf={}) for name in ("ssl_sdtw", "ssl_mse_pad")]
    model = EnhancementTask.build_model(args)
    calls = []
    for wrapper in model.loss_wrappers:
        up = wrapper.criterion.teacher.upstream
        original = up.forward
        up.forward = lambda *a, _o=original, **k: (calls.append(1), _o(*a, **k))[1]
    wav = torch.stack([speechlike(8000, k, 16000) for k in range(2)])
    lens = torch.tensor([8000, 7000])
    batches = [(["a", "b"], dict(speech_mix=wav, speech_mix_lengths=lens, speech_ref1=wav,
                                 speech_ref1_lengths=lens))] * 3
    collect_stats(model=model, train_iter=batches, valid_iter=batches, output_dir=tmp_path, ngpu=0,
                  log_interval=None, write_collected_feats=False)
    assert calls == [], f"the SSL teacher ran {len(calls)} times in collect stats"
    shapes = (tmp_path / "train" / "speech_mix_shape").read_text().split()
    assert shapes[:2] == ["a", "8000"]
    assert np.load(tmp_path / "train" / "feats_stats.npz")["count"] > 0
    # the spy works: one training forward runs the teacher
    model(wav, lens, speech_ref1=wav)
    assert calls, "spy not reached"
