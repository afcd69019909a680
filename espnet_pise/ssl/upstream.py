"""SSL upstream models (HuBERT / wav2vec 2.0 / WavLM) from names, local checkpoints or configs.

Every upstream returns its hidden states as a list ``[layer0, layer1, ..., layerL]`` where layer 0
is the projected CNN output that enters the transformer and layer k the output of transformer
block k, each (B, T, D), plus frame lengths (B,).  Padding never leaks into a valid frame: the
group-norm CNN of Base models normalises over time, so it runs per utterance (on its own length).
"""
import ast
import contextlib
import logging
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
import torchaudio
import yaml

from espnet_pise.checkpoint import load_checkpoint_file, to_plain
from espnet_pise.ssl.abs_upstream import AbsSSLUpstream

# torchaudio.models builders usable with random weights (tests, smoke runs).
TORCHAUDIO_ARCHS = (
    "hubert_base", "hubert_large", "hubert_xlarge", "wav2vec2_base", "wav2vec2_large",
    "wav2vec2_large_lv60k", "wavlm_base", "wavlm_large",
)
# torchaudio.models.wav2vec2_model kwargs of HuBERT/wav2vec 2.0 Base; `torchaudio:custom` overrides.
HUBERT_BASE_CONFIG = dict(
    extractor_mode="group_norm",
    extractor_conv_layer_config=[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2,
    extractor_conv_bias=False,
    encoder_embed_dim=768,
    encoder_projection_dropout=0.0,
    encoder_pos_conv_kernel=128,
    encoder_pos_conv_groups=16,
    encoder_num_layers=12,
    encoder_num_heads=12,
    encoder_attention_dropout=0.0,
    encoder_ff_interm_features=3072,
    encoder_ff_interm_dropout=0.0,
    encoder_dropout=0.0,
    encoder_layer_norm_first=False,
    encoder_layer_drop=0.0,
    aux_num_out=None,
)
# Standard wav2vec 2.0 CNN strides by kernel size, for state dicts that do not carry a config.
_DEFAULT_STRIDE = {10: 5, 3: 2, 2: 2}


class TorchaudioUpstream(AbsSSLUpstream):
    """A torchaudio ``Wav2Vec2Model`` (HuBERT, wav2vec 2.0 and WavLM share it)."""

    def __init__(self, model: torchaudio.models.Wav2Vec2Model, normalize_wav: bool = False):
        super().__init__()
        self.model = model
        self.normalize_wav = normalize_wav
        convs = model.feature_extractor.conv_layers
        self._hop = 1
        for layer in convs:
            self._hop *= layer.stride
        # group norm (Base models) normalises over time: run the CNN per utterance then
        norm = convs[0].layer_norm
        self._time_norm = isinstance(norm, torch.nn.GroupNorm)
        self._dim = model.encoder.feature_projection.projection.out_features
        self._layers = len(model.encoder.transformer.layers)

    def _cnn(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        extractor = self.model.feature_extractor
        if not self._time_norm or bool((wav_lens == wav.shape[1]).all()):
            return extractor(wav, wav_lens)
        feats, lens = [], []
        for b in range(wav.shape[0]):
            f, n = extractor(wav[b : b + 1, : int(wav_lens[b])], wav_lens[b : b + 1])
            feats.append(f[0])
            lens.append(n)
        return torch.nn.utils.rnn.pad_sequence(feats, batch_first=True), torch.cat(lens)

    def forward(self, wav, wav_lens, max_layer=None):
        if self.normalize_wav:
            wav = _normalize_wav(wav, wav_lens)
        x, lens = self._cnn(wav, wav_lens)
        x, mask = self.model.encoder._preprocess(x, lens)
        states = [x]
        if max_layer is None or max_layer > 0:
            states += self.model.encoder.transformer.get_intermediate_outputs(
                x, attention_mask=mask, num_layers=max_layer
            )
        return states, lens


class S3PRLUpstreamWrapper(AbsSSLUpstream):
    """An upstream from s3prl (``espnet-s3prl``) by name; needs its hub (not offline)."""

    def __init__(self, name: str, normalize_wav: bool = False):
        super().__init__()
        from s3prl.nn import S3PRLUpstream

        if name not in S3PRLUpstream.available_names():
            raise ValueError(
                f"unknown SSL model '{name}': not a file, not 'torchaudio:<arch>' "
                f"({', '.join(TORCHAUDIO_ARCHS)}) and not an s3prl upstream name"
            )
        try:
            self.model = S3PRLUpstream(name)
        except Exception as e:  # offline machines: the hub download fails
            raise RuntimeError(
                f"could not load s3prl upstream '{name}' ({e}); without hub access pass a local "
                "checkpoint path instead"
            ) from e
        self.normalize_wav = normalize_wav
        self._hop = int(self.model.downsample_rates[-1])
        self._dim = int(self.model.hidden_sizes[-1])
        self._layers = self.model.num_layers - 1

    def forward(self, wav, wav_lens, max_layer=None):
        if self.normalize_wav:
            wav = _normalize_wav(wav, wav_lens)
        # per utterance: s3prl upstreams are not all padding-safe
        per_utt = [self.model(wav[b : b + 1, : int(wav_lens[b])], wav_lens[b : b + 1]) for b in range(len(wav))]
        n_states = len(per_utt[0][0])
        states = [
            torch.nn.utils.rnn.pad_sequence([u[0][k][0] for u in per_utt], batch_first=True)
            for k in range(n_states if max_layer is None else max_layer + 1)
        ]
        lens = torch.cat([u[1][0] for u in per_utt])
        return states, lens


def _normalize_wav(wav: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
    """Zero-mean unit-variance per utterance over its valid samples (wav2vec2-large, WavLM)."""
    mask = (torch.arange(wav.shape[1], device=wav.device)[None] < wav_lens[:, None]).to(wav.dtype)
    n = wav_lens.to(wav.dtype).clamp(min=1)[:, None]
    mean = (wav * mask).sum(1, keepdim=True) / n
    var = (((wav - mean) * mask) ** 2).sum(1, keepdim=True) / n
    return (wav - mean) / torch.sqrt(var + 1e-7) * mask


# --------------------------------------------------------------------------- checkpoint loading
def config_from_state_dict(sd: Dict[str, torch.Tensor], hints: Optional[dict] = None) -> dict:
    """torchaudio ``wav2vec2_model`` kwargs for a torchaudio-layout state dict.

    Sizes come from tensor shapes; what shapes cannot tell (CNN strides, number of heads,
    layer_norm_first) comes from ``hints`` or the standard Base values.
    """
    hints = dict(hints or {})
    conv = []
    k = 0
    while f"feature_extractor.conv_layers.{k}.conv.weight" in sd:
        out_ch, _, kernel = sd[f"feature_extractor.conv_layers.{k}.conv.weight"].shape
        conv.append((int(out_ch), int(kernel), _DEFAULT_STRIDE.get(int(kernel), max(1, int(kernel) // 2))))
        k += 1
    if not conv:
        raise ValueError("state dict has no feature_extractor.conv_layers.*: not a wav2vec2/HuBERT model")
    if "extractor_conv_layer_config" in hints:
        conv = [tuple(c) for c in hints.pop("extractor_conv_layer_config")]
    layer_norm_everywhere = "feature_extractor.conv_layers.1.layer_norm.weight" in sd
    embed = sd["encoder.feature_projection.projection.weight"].shape[0]
    pos_key = next(
        key for key in sd
        if key.startswith("encoder.transformer.pos_conv_embed.conv.")
        and (key.endswith("original1") or key.endswith("weight_v") or key.endswith("conv.weight"))
    )
    _, per_group, pos_kernel = sd[pos_key].shape
    layers = len({m.group(1) for key in sd for m in [re.match(r"encoder\.transformer\.layers\.(\d+)\.", key)] if m})
    if "encoder_num_heads" not in hints:  # shapes cannot tell; 64 dims per head is the Base/Large value
        logging.warning(
            f"SSL checkpoint does not say its number of attention heads: assuming {embed // 64} "
            f"({embed} dims / 64; XLarge has 16 heads of 80); set arch_conf: {{encoder_num_heads: N}} if wrong"
        )
    config = dict(
        extractor_mode="layer_norm" if layer_norm_everywhere else "group_norm",
        extractor_conv_layer_config=conv,
        extractor_conv_bias="feature_extractor.conv_layers.0.conv.bias" in sd,
        encoder_embed_dim=int(embed),
        encoder_projection_dropout=0.0,
        encoder_pos_conv_kernel=int(pos_kernel),
        encoder_pos_conv_groups=int(embed // per_group),
        encoder_num_layers=layers,
        encoder_num_heads=int(embed // 64),
        encoder_attention_dropout=0.0,
        encoder_ff_interm_features=int(sd["encoder.transformer.layers.0.feed_forward.intermediate_dense.weight"].shape[0]),
        encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.0,
        encoder_layer_norm_first=bool(layer_norm_everywhere),
        encoder_layer_drop=0.0,
        aux_num_out=None,
    )
    config.update({k: v for k, v in hints.items() if k in config})
    return config


def _fairseq_sections(cfg: dict, task_cfg=None) -> Tuple[dict, dict]:
    """(model settings, task settings) of a fairseq / s3prl config, whichever layout it has.

    * ``cfg`` of fairseq >= 0.10 (hydra; OmegaConf or dict): ``model`` and ``task`` sections;
    * ``args`` of older fairseq (one argparse Namespace, e.g. the first wav2vec 2.0 files): flat,
      ``args.task`` is the task's *name* and the task's settings (``normalize``) are attributes
      of ``args`` itself, as are the model's;
    * s3prl-converted ``model_cfg``: flat model settings, the task's in ``task_cfg``.
    """
    model = cfg.get("model")
    model = dict(model) if isinstance(model, dict) else cfg
    task = cfg.get("task")
    task = dict(task) if isinstance(task, dict) else (to_plain(task_cfg) or cfg)
    return model, task


def _fairseq_hints(model_cfg: dict) -> dict:
    """Map fairseq / s3prl model settings to torchaudio kwargs (the parts shapes cannot tell)."""
    hints = {}
    if "conv_feature_layers" in model_cfg:
        hints["extractor_conv_layer_config"] = _eval_conv_layers(model_cfg["conv_feature_layers"])
    if "encoder_attention_heads" in model_cfg:
        hints["encoder_num_heads"] = int(model_cfg["encoder_attention_heads"])
    if "layer_norm_first" in model_cfg:
        hints["encoder_layer_norm_first"] = bool(model_cfg["layer_norm_first"])
    return hints


def _eval_conv_layers(spec: str) -> List[Tuple[int, int, int]]:
    """Parse fairseq's ``"[(512,10,5)] + [(512,3,2)] * 4"`` without eval()."""
    layers: List[Tuple[int, int, int]] = []
    for part in spec.split("+"):
        part = part.strip()
        times = 1
        if "*" in part:
            part, times_s = part.rsplit("*", 1)
            times = int(times_s)
        layers += [tuple(t) for t in ast.literal_eval(part.strip())] * times
    return layers


def _torchaudio_model(
    config: dict, sd: Dict[str, torch.Tensor], path: Path, layout: str
) -> torchaudio.models.Wav2Vec2Model:
    model = torchaudio.models.wav2vec2_model(**config)
    model.wav2vec2_config = dict(config)  # what espnet_pise.ssl.export writes beside the weights
    missing, unexpected = model.load_state_dict(sd, strict=False)
    unexpected = [k for k in unexpected if not k.startswith(("aux.", "label_embs", "mask_emb", "final_proj"))]
    if missing or unexpected:
        raise ValueError(
            f"{path}: read as {layout}, its weights do not match the model its settings describe "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    return model


def _find_espnet_config(path: Path) -> Optional[Path]:
    for cand in (path.parent / "config.yaml", path.parent.parent / "config.yaml"):
        if cand.exists():
            return cand
    return None


# The layouts load_checkpoint reads, as its errors name them.
LAYOUT_PISE = "an espnet_pise export {'config', 'state_dict'}"
FAIRSEQ_KEYS = {"cfg": "{'model', 'cfg'}", "args": "{'model', 'args'}", "s3prl": "{'model_weight', 'model_cfg'}"}
LAYOUT_FAIRSEQ_CFG = f"a fairseq checkpoint {FAIRSEQ_KEYS['cfg']} (fairseq >= 0.10)"
LAYOUT_FAIRSEQ_ARGS = f"a fairseq checkpoint {FAIRSEQ_KEYS['args']} (argparse Namespace, older fairseq)"
LAYOUT_S3PRL = f"an s3prl-converted checkpoint {FAIRSEQ_KEYS['s3prl']}"
_FAIRSEQ_LAYOUTS = {"cfg": LAYOUT_FAIRSEQ_CFG, "args": LAYOUT_FAIRSEQ_ARGS, "s3prl": LAYOUT_S3PRL}
LAYOUT_ESPNET = "an ESPnet hubert_train model file (encoder.hubert_pretrain_model.wav2vec2.* keys)"
LAYOUT_BARE = "a bare torchaudio Wav2Vec2Model state dict (feature_extractor.conv_layers.* keys)"
LAYOUTS = (LAYOUT_PISE, LAYOUT_FAIRSEQ_CFG, LAYOUT_FAIRSEQ_ARGS, LAYOUT_S3PRL, LAYOUT_ESPNET, LAYOUT_BARE)


@contextlib.contextmanager
def _reading(path: Path, layout: str):
    """Any failure while building the model from ``path`` names the file and the layout expected."""
    try:
        yield
    except Exception as e:
        if str(e).startswith(f"{path}:"):  # already names the file (and what it found)
            raise
        raise ValueError(f"{path}: read as {layout}, it failed: {type(e).__name__}: {e}") from e


def _fairseq_kind(ckpt: dict) -> str:
    """"s3prl", "cfg" (fairseq >= 0.10) or "args" (older fairseq: an argparse Namespace, no cfg)."""
    if "model_weight" in ckpt:
        return "s3prl"
    return "cfg" if ckpt.get("cfg") is not None or ckpt.get("args") is None else "args"


def _load_fairseq(ckpt: dict, p: Path, hints: dict, kind: str) -> torchaudio.models.Wav2Vec2Model:
    """fairseq (``cfg`` or older ``args``) and s3prl-converted HuBERT / wav2vec 2.0 checkpoints."""
    from torchaudio.models.wav2vec2.utils.import_fairseq import _convert_state_dict

    weights = ckpt.get("model_weight", ckpt.get("model"))
    if "reporter" in ckpt and "optimizers" in ckpt:
        raise ValueError(
            f"{p}: an ESPnet training resume file (checkpoint.pth: model, optimizers, reporter), not "
            "an SSL model: point ssl_source to the model file of that experiment (e.g. "
            "valid.acc.best.pth or N epoch.pth beside it)"
        )
    # OmegaConf (fairseq >= 0.10), argparse Namespace (older "args") or a plain dict (s3prl)
    cfg = to_plain(ckpt.get("model_cfg") or ckpt.get("cfg") or ckpt.get("args") or {})
    model_cfg, task_cfg = _fairseq_sections(cfg, ckpt.get("task_cfg"))
    finetuned = "w2v_encoder.w2v_model."
    if any(k.startswith(finetuned) for k in weights):
        # fairseq ASR fine-tuning wraps the pre-trained model: keep it, drop the CTC projection
        logging.info(f"{p}: fine-tuned fairseq model: using its {finetuned}* encoder")
        weights = {k[len(finetuned):]: v for k, v in weights.items() if k.startswith(finetuned)}
        outer_task = task_cfg
        model_cfg, task_cfg = _fairseq_sections(to_plain(model_cfg.get("w2v_args") or {}))
        task_cfg = {"normalize": task_cfg.get("normalize", outer_task.get("normalize", False))}
    try:
        sd = _convert_state_dict(weights)
    except ValueError as e:  # torchaudio names neither the file nor the format
        raise ValueError(
            f"{p}: a {FAIRSEQ_KEYS[kind]} file that is not a fairseq HuBERT / wav2vec 2.0 model ({e}); "
            "supported: pre-training checkpoints and fine-tuned w2v_encoder.w2v_model.* models"
        ) from e
    hints = {**_fairseq_hints(model_cfg), **hints}
    model = _torchaudio_model(config_from_state_dict(sd, hints), sd, p, _FAIRSEQ_LAYOUTS[kind])
    model.pise_normalize_wav = bool(task_cfg.get("normalize", False))
    return model


def _load_espnet(ckpt: dict, p: Path, hints: dict, prefix: str) -> torchaudio.models.Wav2Vec2Model:
    """An ESPnet hubert_train model file; sizes from the config.yaml beside it."""
    sd = {k[len(prefix):]: v for k, v in ckpt.items() if k.startswith(prefix)}
    conf = _find_espnet_config(p)
    if conf is not None:
        with open(conf) as f:
            enc = (yaml.safe_load(f) or {}).get("encoder_conf", {})
        keys = ("extractor_conv_layer_config", "encoder_num_heads", "encoder_layer_norm_first")
        hints = {**{k: enc[k] for k in keys if k in enc}, **hints}
    else:
        logging.warning(f"{p}: no config.yaml beside the ESPnet checkpoint; inferring sizes")
    return _torchaudio_model(config_from_state_dict(sd, hints), sd, p, LAYOUT_ESPNET)


def load_checkpoint(path: str, hints: Optional[dict] = None) -> torchaudio.models.Wav2Vec2Model:
    """Build a torchaudio Wav2Vec2Model from a local checkpoint, whatever its layout.

    Accepted: espnet_pise's own ``{"config", "state_dict"}`` file; an ESPnet HuBERT-task
    checkpoint (``encoder.hubert_pretrain_model.wav2vec2.*`` keys, config.yaml beside it);
    fairseq (``{"model", "cfg"}``, or ``{"model", "args"}`` of older fairseq) and s3prl-converted
    (``{"model_weight", "model_cfg"}``) HuBERT / wav2vec 2.0 checkpoints; a bare torchaudio state
    dict.  Every failure is a ValueError naming the file and the layout it was read as.
    """
    p = Path(path)
    ckpt = load_checkpoint_file(p, "SSL checkpoint")
    if not isinstance(ckpt, dict):
        raise ValueError(
            f"{p}: expected a dict checkpoint, got {type(ckpt).__name__}; readable layouts: {'; '.join(LAYOUTS)}"
        )
    hints = dict(hints or {})
    if "state_dict" in ckpt and "config" in ckpt:
        with _reading(p, LAYOUT_PISE):
            return _torchaudio_model(dict(ckpt["config"]), ckpt["state_dict"], p, LAYOUT_PISE)
    if "model_weight" in ckpt or ("model" in ckpt and isinstance(ckpt["model"], dict)):
        kind = _fairseq_kind(ckpt)
        with _reading(p, _FAIRSEQ_LAYOUTS[kind]):
            return _load_fairseq(ckpt, p, hints, kind)
    prefix = "encoder.hubert_pretrain_model.wav2vec2."
    if any(isinstance(k, str) and k.startswith(prefix) for k in ckpt):
        with _reading(p, LAYOUT_ESPNET):
            return _load_espnet(ckpt, p, hints, prefix)
    if any(isinstance(k, str) and k.startswith("feature_extractor.conv_layers.") for k in ckpt):
        with _reading(p, LAYOUT_BARE):
            return _torchaudio_model(config_from_state_dict(ckpt, hints), ckpt, p, LAYOUT_BARE)
    raise ValueError(
        f"{p}: unrecognised checkpoint layout (keys: {list(ckpt)[:5]}); readable layouts: {'; '.join(LAYOUTS)}"
    )


def build_upstream(
    source: str, arch_conf: Optional[dict] = None, normalize_wav: bool = False
) -> AbsSSLUpstream:
    """An SSL upstream from (a) an s3prl name, (b)/(c) a local checkpoint path, or
    (d) ``torchaudio:<arch>`` with RANDOM weights (tests only; ``arch_conf`` overrides sizes
    via ``torchaudio.models.wav2vec2_model`` kwargs when arch is ``custom``)."""
    arch_conf = dict(arch_conf or {})
    if source.startswith("whisper:"):
        from espnet_pise.ssl import whisper_upstream  # openai-whisper is imported only when named

        return whisper_upstream.build(source, arch_conf, normalize_wav)
    if source.startswith("torchaudio:"):
        arch = source.split(":", 1)[1]
        if arch != "custom" and arch not in TORCHAUDIO_ARCHS:
            raise ValueError(f"unknown torchaudio SSL architecture '{arch}'; choose from {TORCHAUDIO_ARCHS} or custom")
        logging.warning(f"SSL model '{source}' has RANDOM weights: use it for tests only")
        with torch.random.fork_rng():
            torch.manual_seed(0)  # the same random teacher in every process (training, inference)
            if arch == "custom":
                model = torchaudio.models.wav2vec2_model(**{**HUBERT_BASE_CONFIG, **arch_conf})
            else:
                model = getattr(torchaudio.models, arch)(**arch_conf)
        return TorchaudioUpstream(model, normalize_wav)
    looks_like_path = "/" in source or source.endswith((".pt", ".pth", ".ckpt", ".bin"))
    if looks_like_path or Path(source).exists():
        model = load_checkpoint(source, arch_conf)
        if getattr(model, "pise_normalize_wav", False) and not normalize_wav:
            logging.info(f"{source}: trained on normalised waveforms (task.normalize): normalize_wav on")
        return TorchaudioUpstream(model, normalize_wav or getattr(model, "pise_normalize_wav", False))
    return S3PRLUpstreamWrapper(source, normalize_wav)
