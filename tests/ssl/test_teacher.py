"""SSL teacher: checkpoint layouts, layer selection, padding safety, errors naming the problem."""
import re

import pytest
import torch
import torchaudio
import yaml

from conftest import TINY_ARCH, speechlike
from espnet_pise.ssl import SSLTeacher, build_upstream, load_checkpoint
from espnet_pise.ssl.upstream import HUBERT_BASE_CONFIG


def _tiny_model():
    torch.manual_seed(0)
    return torchaudio.models.wav2vec2_model(**{**HUBERT_BASE_CONFIG, **TINY_ARCH})


def _same_outputs(a, b):
    wav = speechlike(8000, 0)[None]
    a.eval(), b.eval()
    with torch.no_grad():
        fa, _ = a.extract_features(wav)
        fb, _ = b.extract_features(wav)
    return all(torch.allclose(x, y) for x, y in zip(fa, fb))


def test_loads_pise_espnet_and_bare_torchaudio_checkpoints(tmp_path):
    model = _tiny_model()
    sd = model.state_dict()
    config = {**HUBERT_BASE_CONFIG, **TINY_ARCH}
    torch.save({"config": config, "state_dict": sd}, tmp_path / "pise.pth")
    assert _same_outputs(model, load_checkpoint(str(tmp_path / "pise.pth")))
    # ESPnet hubert_train layout: prefixed keys, sizes in config.yaml beside it
    espnet_dir = tmp_path / "exp" / "hubert"
    espnet_dir.mkdir(parents=True)
    torch.save({f"encoder.hubert_pretrain_model.wav2vec2.{k}": v for k, v in sd.items()}, espnet_dir / "valid.acc.best.pth")
    with open(espnet_dir / "config.yaml", "w") as f:
        yaml.safe_dump({"encoder": "torchaudio_hubert", "encoder_conf": {"encoder_num_heads": 4, **TINY_ARCH}}, f)
    assert _same_outputs(model, load_checkpoint(str(espnet_dir / "valid.acc.best.pth")))
    # bare state dict: sizes inferred from shapes, heads given as a hint
    torch.save(sd, tmp_path / "bare.pt")
    assert _same_outputs(model, load_checkpoint(str(tmp_path / "bare.pt"), {"encoder_num_heads": 4}))


def test_loads_fairseq_layout(tmp_path):
    model = _tiny_model()
    # rename torchaudio keys to fairseq's names (the inverse of torchaudio's importer)
    rules = [
        (r"feature_extractor\.conv_layers\.0\.layer_norm\.", "feature_extractor.conv_layers.0.2."),
        (r"feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
        (r"encoder\.feature_projection\.projection\.", "post_extract_proj."),
        (r"encoder\.feature_projection\.layer_norm\.", "layer_norm."),
        (r"encoder\.transformer\.pos_conv_embed\.conv\.parametrizations\.weight\.original0", "encoder.pos_conv.0.weight_g"),
        (r"encoder\.transformer\.pos_conv_embed\.conv\.parametrizations\.weight\.original1", "encoder.pos_conv.0.weight_v"),
        (r"encoder\.transformer\.pos_conv_embed\.conv\.bias", "encoder.pos_conv.0.bias"),
        (r"encoder\.transformer\.layer_norm\.", "encoder.layer_norm."),
        (r"encoder\.transformer\.layers\.(\d+)\.attention\.", r"encoder.layers.\1.self_attn."),
        (r"encoder\.transformer\.layers\.(\d+)\.layer_norm\.", r"encoder.layers.\1.self_attn_layer_norm."),
        (r"encoder\.transformer\.layers\.(\d+)\.feed_forward\.intermediate_dense\.", r"encoder.layers.\1.fc1."),
        (r"encoder\.transformer\.layers\.(\d+)\.feed_forward\.output_dense\.", r"encoder.layers.\1.fc2."),
        (r"encoder\.transformer\.layers\.(\d+)\.final_layer_norm\.", r"encoder.layers.\1.final_layer_norm."),
    ]
    fairseq = {}
    for k, v in model.state_dict().items():
        for pattern, repl in rules:
            new, n = re.subn("^" + pattern, repl, k)
            if n:
                fairseq[new] = v
                break
        else:
            raise AssertionError(f"no rule for {k}")
    conv = "[(16,10,5)] + [(16,3,2)] * 4 + [(16,2,2)] * 2"
    cfg = {"model": {"conv_feature_layers": conv, "encoder_attention_heads": 4, "layer_norm_first": False}}
    torch.save({"model": fairseq, "cfg": cfg}, tmp_path / "fairseq.pt")
    assert _same_outputs(model, load_checkpoint(str(tmp_path / "fairseq.pt")))


def test_errors_name_the_problem(tmp_path):
    missing = tmp_path / "nope" / "hubert.pt"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        SSLTeacher(source=str(missing))
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        build_upstream(str(bad))
    with pytest.raises(ValueError, match="unknown torchaudio SSL architecture"):
        build_upstream("torchaudio:hubert_tiny")
    with pytest.raises(ValueError, match="unknown SSL model 'no_such_upstream'"):
        build_upstream("no_such_upstream")
    with pytest.raises(ValueError, match="out of range"):
        SSLTeacher(source="torchaudio:custom", arch_conf=TINY_ARCH, layer=3)


def test_layer_selection_and_options():
    wav = speechlike(8000, 1)[None]
    last = SSLTeacher(source="torchaudio:custom", arch_conf=TINY_ARCH, layer=-1)
    l1 = SSLTeacher(source="torchaudio:custom", arch_conf=TINY_ARCH, layer=1)
    mix = SSLTeacher(source="torchaudio:custom", arch_conf=TINY_ARCH, layer=[1, 2], layer_weights=[1.0, 3.0])
    with torch.no_grad():
        f2, n = last(wav)
        f1, _ = l1(wav)
        fm, _ = mix(wav)
    assert f2.shape == (1, int(n), 32) and int(n) == (8000 - 400) // 320 + 1
    assert torch.allclose(fm, 0.25 * f1 + 0.75 * f2, atol=1e-6)
    proj = SSLTeacher(source="torchaudio:custom", arch_conf=TINY_ARCH, proj_dim=8, l2_normalize=True)
    fp, _ = proj(wav)
    assert fp.shape[-1] == 8 and torch.allclose(fp.norm(dim=-1), torch.ones(1, fp.shape[1]), atol=1e-5)
    # teachers with the same source share one frozen upstream
    assert last.upstream is l1.upstream


def test_batched_features_equal_single_utterance_features():
    teacher = SSLTeacher(source="torchaudio:custom", arch_conf=TINY_ARCH)
    a, b = speechlike(6000, 2), speechlike(10000, 3)
    batch = torch.zeros(2, 10000)
    batch[0, :6000], batch[1] = a, b
    with torch.no_grad():
        fb, nb = teacher(batch, torch.tensor([6000, 10000]))
        fa, na = teacher(a[None])
    assert int(nb[0]) == int(na[0])
    assert torch.allclose(fb[0, : int(na[0])], fa[0], atol=1e-5)
    assert (fb[0, int(na[0]) :] == 0).all()


def test_follows_input_dtype_and_stays_in_eval():
    teacher = SSLTeacher(source="torchaudio:custom", arch_conf=TINY_ARCH)
    teacher.upstream.train()
    f, _ = teacher(speechlike(4000, 4)[None].double())
    assert f.dtype == torch.float64 and not teacher.upstream.training
    teacher(speechlike(4000, 4)[None])  # and back
    assert next(teacher.upstream.parameters()).dtype == torch.float32
