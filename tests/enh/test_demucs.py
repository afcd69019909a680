"""Demucs: lengths, causality, the published checkpoint layout, and ESPnet separator use."""
import pytest
import torch

from espnet_pise.enh.demucs import Demucs, demucs_from_preset
from espnet_pise.enh.demucs_separator import DemucsSeparator
from espnet_pise.enh.dsp import downsample2, upsample2

SMALL = dict(hidden=8, depth=3, kernel_size=8, stride=4, resample=2)


@pytest.mark.parametrize("length", [1, 999, 1601, 4003])
@pytest.mark.parametrize("causal", [True, False])
def test_output_length_equals_input_length(length, causal):
    model = Demucs(causal=causal, **SMALL).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, length))
    assert out.shape == (2, 1, length) and torch.isfinite(out).all()


def test_causal_model_ignores_input_beyond_its_lookahead():
    torch.manual_seed(0)
    model = Demucs(causal=True, normalize=False, resample=4, hidden=8, depth=3).eval()
    x = torch.randn(1, 1, 8000)
    t = 3000
    cut = t + model.lookahead + 1
    y = x.clone()
    y[..., cut:] = torch.randn(1, 1, 8000 - cut)  # change only the far future
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.allclose(a[..., : t + 1], b[..., : t + 1], atol=1e-6)
    # the change is visible later on, so the test can tell
    assert not torch.allclose(a[..., cut:], b[..., cut:], atol=1e-3)


def test_non_causal_model_looks_at_the_future():
    torch.manual_seed(0)
    causal = Demucs(causal=True, normalize=False, **SMALL).double().eval()
    bidir = Demucs(causal=False, normalize=False, **SMALL).double().eval()
    x = torch.randn(1, 1, 8000, dtype=torch.float64)
    y = x.clone()
    cut = 100 + causal.lookahead + 1
    y[..., cut:] += 10.0
    with torch.no_grad():
        assert torch.equal(causal(x)[..., :100], causal(y)[..., :100])
        # the backward LSTM carries the future change to the start (weakly: small init)
        assert (bidir(x)[..., :100] - bidir(y)[..., :100]).abs().max() > 1e-12


def test_resampling_round_trip_is_close_to_identity():
    t = torch.linspace(0, 1, 4000)
    x = torch.sin(2 * torch.pi * 440 * t)[None]
    up = upsample2(x)
    assert up.shape[-1] == 8000 and torch.equal(up[..., ::2], x)
    back = downsample2(up)
    assert (back - x)[..., 200:-200].abs().max() < 1e-3


def test_published_state_dict_layout_and_checkpoint_round_trip(tmp_path):
    model = demucs_from_preset("master64")
    keys = set(model.state_dict())
    for k in ("encoder.0.0.weight", "encoder.0.2.weight", "decoder.0.0.weight", "decoder.0.2.weight",
              "decoder.4.2.weight", "lstm.lstm.weight_ih_l0", "lstm.lstm.weight_hh_l1"):
        assert k in keys, k
    assert model.encoder[0][0].out_channels == 64 and model.causal and model.lstm.linear is None
    # a small model saved as the denoiser does (bare state dict and the serialized package)
    torch.manual_seed(1)
    small = Demucs(**SMALL)
    torch.save(small.state_dict(), tmp_path / "bare.th")
    torch.save({"class": "Demucs", "args": [], "kwargs": SMALL, "state": small.state_dict()}, tmp_path / "pkg.th")
    x = torch.randn(2, 3000)
    with torch.no_grad():
        want = small.eval()(x)[:, 0]
        for name in ("bare.th", "pkg.th"):
            sep = DemucsSeparator(init_checkpoint=str(tmp_path / name), **SMALL).eval()
            got, _, _ = sep(x, torch.tensor([3000, 3000]))
            assert torch.allclose(got[0], want, atol=1e-6)


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.th"):
        DemucsSeparator(init_checkpoint=str(tmp_path / "missing.th"))
    torch.save({"foo": torch.zeros(1)}, tmp_path / "other.th")
    with pytest.raises(ValueError, match="other.th"):
        DemucsSeparator(init_checkpoint=str(tmp_path / "other.th"))
    torch.save(Demucs(**SMALL).state_dict(), tmp_path / "small.th")
    with pytest.raises(ValueError, match="small.th"):
        DemucsSeparator(init_checkpoint=str(tmp_path / "small.th"), preset="master64")
    with pytest.raises(ValueError, match="preset"):
        DemucsSeparator(preset="huge")


def test_separator_respects_lengths():
    torch.manual_seed(2)
    sep = DemucsSeparator(**SMALL).eval()
    a = torch.randn(2000)
    batch = torch.zeros(2, 3000)
    batch[0, :2000] = a
    batch[1] = torch.randn(3000)
    with torch.no_grad():
        out, _, _ = sep(batch, torch.tensor([2000, 3000]))
        alone, _, _ = sep(a[None], torch.tensor([2000]))
    assert torch.allclose(out[0][0, :2000], alone[0][0], atol=1e-6) and (out[0][0, 2000:] == 0).all()


# ---------------------------------------------------------------- denoiser's own file formats
def _denoiser_module(monkeypatch):
    """``denoiser.demucs.Demucs`` as the reference pickles it (the class, by module path): a
    stand-in that records its constructor arguments like denoiser's ``capture_init``."""
    import sys
    import types

    mod = types.ModuleType("denoiser.demucs")

    class RefDemucs(Demucs):
        def __init__(self, *args, **kwargs):
            self._init_args_kwargs = (args, kwargs)
            super().__init__(*args, **kwargs)

    RefDemucs.__name__ = RefDemucs.__qualname__ = "Demucs"
    RefDemucs.__module__ = "denoiser.demucs"
    mod.Demucs = RefDemucs
    monkeypatch.setitem(sys.modules, "denoiser", types.ModuleType("denoiser"))
    monkeypatch.setitem(sys.modules, "denoiser.demucs", mod)
    return RefDemucs


def _serialize_model(model):
    """denoiser.utils.serialize_model."""
    args, kwargs = model._init_args_kwargs
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return {"class": model.__class__, "args": args, "kwargs": kwargs, "state": state}


def test_denoiser_package_and_solver_checkpoint_load_without_denoiser(tmp_path, monkeypatch):
    import sys

    from omegaconf import OmegaConf

    ref_cls = _denoiser_module(monkeypatch)
    torch.manual_seed(3)
    kwargs = dict(hidden=8, depth=3, resample=1, normalize=False, causal=False)
    model = ref_cls(**kwargs)
    torch.save(_serialize_model(model), tmp_path / "best.th")
    # Solver._serialize: the package of the last model, its best state, optimizer, hydra args
    best = ref_cls(**kwargs)
    opt = torch.optim.Adam(model.parameters())
    package = {"model": _serialize_model(model), "optimizer": opt.state_dict(), "history": [{"train": 0.5}],
               "best_state": {k: v.clone() for k, v in best.state_dict().items()},
               "args": OmegaConf.create({"demucs": kwargs, "lr": 3e-4, "dset": {"train": None}})}
    torch.save(package, tmp_path / "checkpoint.th")
    monkeypatch.delitem(sys.modules, "denoiser.demucs")
    monkeypatch.delitem(sys.modules, "denoiser")
    x = torch.randn(2, 2000)
    lens = torch.tensor([2000, 2000])
    with torch.no_grad():
        for name, ref in (("best.th", model), ("checkpoint.th", best)):
            sep = DemucsSeparator(init_checkpoint=str(tmp_path / name)).eval()  # stored settings adopted
            assert sep.demucs.resample == 1 and not sep.demucs.normalize
            assert torch.equal(sep(x, lens)[0][0], ref.eval()(x)[:, 0])
    with pytest.raises(ValueError, match=r"resample=4 disagrees with the settings stored in .*best.th \(resample=1\)"):
        DemucsSeparator(init_checkpoint=str(tmp_path / "best.th"), resample=4)


def test_presets_fix_every_setting_and_conflicts_name_it():
    from espnet_pise.enh.demucs import PRESETS, demucs_config

    want = dict(chin=1, chout=1, depth=5, kernel_size=8, stride=4, causal=True, resample=4, growth=2,
                max_hidden=10000, normalize=True, glu=True, rescale=0.1, floor=1e-3)
    assert PRESETS == {"dns48": {**want, "hidden": 48}, "dns64": {**want, "hidden": 64}, "master64": {**want, "hidden": 64}}
    assert demucs_config("master64", hidden=None, resample=None) == PRESETS["master64"]
    with pytest.raises(ValueError, match=r"Demucs setting resample=2 disagrees with preset 'master64' \(resample=4\)"):
        DemucsSeparator(preset="master64", resample=2)
