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


def _fairseq_state(model):
    """The model's weights under fairseq's parameter names."""
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
    return fairseq


def test_loads_fairseq_layout(tmp_path):
    model = _tiny_model()
    fairseq = _fairseq_state(model)
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


def _fairseq_cfg_as_released(model_cfg, task_normalize):
    """fairseq >= 0.10 stores its hydra config as an OmegaConf DictConfig."""
    from omegaconf import OmegaConf

    return OmegaConf.create({"common": {"seed": 1}, "model": {"_name": "hubert", **model_cfg},
                             "task": {"_name": "hubert_pretraining", "normalize": task_normalize, "labels": ["km"]}})


CONV = "[(16,10,5)] + [(16,3,2)] * 4 + [(16,2,2)] * 2"


def test_loads_fairseq_pretraining_checkpoint_as_released_without_fairseq(tmp_path, monkeypatch):
    import sys
    import types

    # fairseq pickles task_state = {"dictionaries": [fairseq.data.dictionary.Dictionary]}
    mod = types.ModuleType("fairseq.data.dictionary")

    class Dictionary:
        def __init__(self):
            self.symbols, self.count, self.indices = ["<s>", "<pad>", "0", "1"], [1, 1, 5, 7], {"0": 2, "1": 3}

    Dictionary.__module__, Dictionary.__qualname__ = "fairseq.data.dictionary", "Dictionary"
    mod.Dictionary = Dictionary
    for name in ("fairseq", "fairseq.data"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "fairseq.data.dictionary", mod)
    model = _tiny_model()
    cfg = _fairseq_cfg_as_released({"conv_feature_layers": CONV, "encoder_attention_heads": 4,
                                    "layer_norm_first": False}, task_normalize=True)
    torch.save({"model": _fairseq_state(model), "cfg": cfg, "task_state": {"dictionaries": [Dictionary()]},
                "optimizer_history": [{"criterion_name": "HubertCriterion", "num_updates": 10}],
                "extra_state": {"epoch": 2}}, tmp_path / "hubert_base_ls960.pt")
    for name in ("fairseq.data.dictionary", "fairseq.data", "fairseq"):
        monkeypatch.delitem(sys.modules, name)
    loaded = load_checkpoint(str(tmp_path / "hubert_base_ls960.pt"))
    assert _same_outputs(model, loaded)  # 4 heads from the DictConfig (shapes alone would give 0)
    up = build_upstream(str(tmp_path / "hubert_base_ls960.pt"))
    assert up.normalize_wav  # task.normalize honoured


def test_fine_tuned_fairseq_model_loads_its_encoder(tmp_path):
    model = _tiny_model()
    weights = {f"w2v_encoder.w2v_model.{k}": v for k, v in _fairseq_state(model).items()}
    weights["w2v_encoder.proj.weight"] = torch.zeros(10, 32)
    w2v_args = _fairseq_cfg_as_released({"conv_feature_layers": CONV, "encoder_attention_heads": 4}, False)
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"model": {"_name": "wav2vec_ctc", "w2v_args": w2v_args}, "task": {"normalize": False}})
    torch.save({"model": weights, "cfg": cfg}, tmp_path / "wav2vec_small_960h.pt")
    assert _same_outputs(model, load_checkpoint(str(tmp_path / "wav2vec_small_960h.pt")))


def test_unclear_formats_get_errors_naming_file_format_and_fix(tmp_path, caplog):
    model = _tiny_model()
    espnet = {f"encoder.hubert_pretrain_model.wav2vec2.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model": espnet, "reporter": {"epoch": 3}, "optimizers": [{}], "schedulers": [None],
                "scaler": None}, tmp_path / "checkpoint.pth")
    with pytest.raises(ValueError, match=r"checkpoint.pth: an ESPnet training resume file .* valid.acc.best.pth"):
        load_checkpoint(str(tmp_path / "checkpoint.pth"))
    torch.save({"model": {"encoder.global_step": torch.tensor(3)}, "cfg": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other.pt: a \{'model', 'cfg'\} file that is not a fairseq HuBERT / wav2vec 2.0 model \(Unexpected key: encoder.global_step\)"):
        load_checkpoint(str(tmp_path / "other.pt"))
    # a pickled class outside the allow-list is refused, not executed
    torch.save({"model": {}, "cfg": torch.nn.Identity()}, tmp_path / "code.pt")
    with pytest.raises(ValueError, match=r"code.pt: SSL checkpoint pickles a class .*torch.nn.modules.linear.Identity"):
        load_checkpoint(str(tmp_path / "code.pt"))
    # no head count anywhere: a warning says what was assumed and how to set it
    from espnet_pise.ssl.upstream import config_from_state_dict

    with caplog.at_level("WARNING"):
        assert config_from_state_dict(model.state_dict())["encoder_num_heads"] == 0
    assert "assuming 0 (32 dims / 64" in caplog.text and "encoder_num_heads" in caplog.text


@pytest.mark.parametrize("pre_ln", [False, True])
def test_s3prl_layer_convention(pre_ln):
    """s3prl: layer 0 after the positional convolution, last layer of pre-LN models after the final
    LayerNorm (what torchaudio's full forward returns); pise: before / raw block output."""
    arch = {**TINY_ARCH, "encoder_layer_norm_first": pre_ln, "extractor_mode": "layer_norm" if pre_ln else "group_norm"}
    wav = speechlike(4000, 0)[None]
    pise = SSLTeacher(source="torchaudio:custom", arch_conf=arch, layer=-1)
    s3prl = SSLTeacher(source="torchaudio:custom", arch_conf=arch, layer=-1, layer_convention="s3prl")
    model = pise.upstream.model
    with torch.no_grad():
        full, _ = model(wav)  # torchaudio's forward: the encoder output as s3prl's last hidden state
        raw, _ = model.extract_features(wav)
        assert torch.allclose(s3prl(wav)[0], full, atol=1e-5)
        assert torch.allclose(pise(wav)[0], raw[-1], atol=1e-5)
        assert torch.allclose(pise(wav)[0], full, atol=1e-5) != pre_ln  # they differ only for pre-LN
        x, lens = model.feature_extractor(wav, None)
        x = model.encoder.feature_projection(x)
        first = SSLTeacher(source="torchaudio:custom", arch_conf=arch, layer=0, layer_convention="s3prl")(wav)[0]
        assert torch.allclose(first, model.encoder.transformer._preprocess(x), atol=1e-5)
        assert torch.allclose(SSLTeacher(source="torchaudio:custom", arch_conf=arch, layer=0)(wav)[0], x, atol=1e-5)
    with pytest.raises(ValueError, match="layer_convention must be 'pise' or 's3prl', got 'hf'"):
        SSLTeacher(source="torchaudio:custom", arch_conf=arch, layer_convention="hf")


def test_s3prl_converted_checkpoint_reads_its_task_normalize(tmp_path):
    """s3prl's fairseq converter writes {"task_cfg", "model_cfg", "model_weight"} (plain dicts)."""
    model = _tiny_model()
    for normalize in (False, True):
        torch.save({"task_cfg": {"normalize": normalize, "sample_rate": 16000},
                    "model_cfg": {"conv_feature_layers": CONV, "encoder_attention_heads": 4},
                    "model_weight": _fairseq_state(model)}, tmp_path / "converted.pt")
        assert _same_outputs(model, load_checkpoint(str(tmp_path / "converted.pt")))
        assert build_upstream(str(tmp_path / "converted.pt")).normalize_wav == normalize


def _fairseq_args(**settings):
    """The argparse Namespace older fairseq (before hydra, e.g. the first wav2vec 2.0 files) saved
    as "args": one flat namespace; task is the task's name, its settings attributes of args."""
    import argparse

    return argparse.Namespace(arch="wav2vec2", task="audio_pretraining", criterion="wav2vec",
                              optimizer="adam", sample_rate=16000, max_sample_size=250000,
                              encoder_layers=2, encoder_embed_dim=32, extractor_mode="default",
                              conv_bias=False, conv_pos=128, conv_pos_groups=16, **settings)


def _save_state_of_older_fairseq(path, args, weights):
    """What fairseq's checkpoint_utils.save_state wrote before hydra: args, no cfg."""
    torch.save({"args": args, "model": weights,
                "optimizer_history": [{"criterion_name": "Wav2vecCriterion", "optimizer_name": "FairseqAdam",
                                       "lr_scheduler_state": {"best": 3.2}, "num_updates": 400000}],
                "extra_state": {"train_iterator": {"epoch": 5}, "val_loss": 3.2},
                "last_optimizer_state": {"state": {}, "param_groups": [{"lr": 0.0}]}}, path)


@pytest.mark.parametrize("normalize", [False, True])
def test_loads_older_fairseq_args_checkpoint_as_its_cfg_twin(tmp_path, normalize):
    """An {"args": Namespace} file gives the features of the same weights saved with a hydra cfg."""
    model = _tiny_model()
    settings = {"conv_feature_layers": CONV, "encoder_attention_heads": 4, "layer_norm_first": False}
    _save_state_of_older_fairseq(tmp_path / "wav2vec_small.pt", _fairseq_args(normalize=normalize, **settings),
                                 _fairseq_state(model))
    torch.save({"model": _fairseq_state(model), "cfg": _fairseq_cfg_as_released(settings, normalize)},
               tmp_path / "cfg.pt")
    assert _same_outputs(model, load_checkpoint(str(tmp_path / "wav2vec_small.pt")))
    old, new = build_upstream(str(tmp_path / "wav2vec_small.pt")), build_upstream(str(tmp_path / "cfg.pt"))
    assert old.normalize_wav == new.normalize_wav == normalize  # args.normalize honoured
    wav = torch.stack([speechlike(8000, 0), speechlike(8000, 1)]) * 3.0
    lens = torch.tensor([8000, 6000])
    with torch.no_grad():
        (f_old, n_old), (f_new, n_new) = old(wav, lens), new(wav, lens)
    assert torch.equal(n_old, n_new) and len(f_old) == len(f_new) == 3
    assert all(torch.equal(a, b) for a, b in zip(f_old, f_new))


def test_fine_tuned_older_fairseq_args_checkpoint_loads_its_encoder(tmp_path):
    model = _tiny_model()
    weights = {f"w2v_encoder.w2v_model.{k}": v for k, v in _fairseq_state(model).items()}
    weights["w2v_encoder.proj.weight"] = torch.zeros(10, 32)
    w2v_args = _fairseq_args(normalize=True, conv_feature_layers=CONV, encoder_attention_heads=4)
    args = _fairseq_args(normalize=True, w2v_args=w2v_args)
    args.arch, args.task = "wav2vec_ctc", "audio_finetuning"
    _save_state_of_older_fairseq(tmp_path / "wav2vec_small_960h.pt", args, weights)
    assert _same_outputs(model, load_checkpoint(str(tmp_path / "wav2vec_small_960h.pt")))
    assert build_upstream(str(tmp_path / "wav2vec_small_960h.pt")).normalize_wav


def test_loader_failures_name_file_and_layout(tmp_path):
    model = _tiny_model()
    args = _fairseq_args(normalize=False, conv_feature_layers="[(16,10,5)] + [(16,3", encoder_attention_heads=4)
    _save_state_of_older_fairseq(tmp_path / "broken.pt", args, _fairseq_state(model))
    with pytest.raises(ValueError, match=r"broken.pt: read as a fairseq checkpoint \{'model', 'args'\} "
                                         r"\(argparse Namespace, older fairseq\), it failed: SyntaxError"):
        load_checkpoint(str(tmp_path / "broken.pt"))
    sd = dict(model.state_dict())
    sd.pop("encoder.transformer.layers.0.feed_forward.intermediate_dense.weight")
    torch.save(sd, tmp_path / "bare.pt")
    with pytest.raises(ValueError, match=r"bare.pt: read as a bare torchaudio Wav2Vec2Model state dict .*KeyError"):
        load_checkpoint(str(tmp_path / "bare.pt"), {"encoder_num_heads": 4})
    config = {**HUBERT_BASE_CONFIG, **TINY_ARCH, "encoder_num_layers": 3}
    torch.save({"config": config, "state_dict": model.state_dict()}, tmp_path / "pise.pth")
    with pytest.raises(ValueError, match=r"pise.pth: read as an espnet_pise export \{'config', 'state_dict'\}, "
                                         r"its weights do not match .*missing \['encoder.transformer.layers.2"):
        load_checkpoint(str(tmp_path / "pise.pth"))
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other.pt: unrecognised checkpoint layout \(keys: \['weights'\]\); "
                                         r"readable layouts: .*\{'model', 'args'\}"):
        load_checkpoint(str(tmp_path / "other.pt"))
