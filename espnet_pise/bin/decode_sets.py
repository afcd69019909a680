"""Decode several wav.scp lists with one ESPnet ASR (or joint enh_s2t) model, loading it once.

    python -m espnet_pise.bin.decode_sets --asr_train_config EXP/config.yaml --asr_model_file EXP/valid.acc.ave.pth \\
        --config conf/tuning/decode_asr.yaml test_seen=data/test_seen/wav.scp:OUT_DIR ...

Uses ESPnet's ``Speech2Text`` (what espnet2.bin.asr_inference runs) and writes, per list,
``OUT_DIR/1best_recog/text`` (written last: an interrupted list is redone; a finished one is
skipped).  Utterances too short for the model get an empty hypothesis, as ESPnet does.

The decoding config holds ``Speech2Text``'s options, plus one of ours: ``search: ctc_greedy``
decodes by the CTC best path (frame-wise argmax, repeats merged, blanks dropped: what ESPnet
reports as ``cer_ctc`` during validation) without any beam search, at the cost of one encoder
pass; ``search: beam`` (default) is ESPnet's beam search with the config's options.
"""
import argparse
import sys
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from espnet_pise import register
from espnet_pise.data.kaldi import load_wav, read_scp


def ctc_greedy(s2t, wav: torch.Tensor) -> str:
    """CTC best-path transcript of one waveform (T,) with the model of ESPnet's ``Speech2Text``.

    Encodes as ``Speech2Text`` does (an enh_s2t model enhances first; speaker 1 is kept), takes the
    frame-wise argmax of the CTC posteriors, merges repeats and drops blanks and <sos/eos>.
    """
    speech = wav.unsqueeze(0).to(device=s2t.device, dtype=getattr(torch, s2t.dtype))
    lengths = torch.full((1,), speech.size(1), dtype=torch.long, device=s2t.device)
    enc, _ = s2t.asr_model.encode(speech=speech, speech_lengths=lengths)
    while isinstance(enc, (list, tuple)):  # (enc, intermediate CTC outputs) or one entry per speaker
        enc = enc[0]
    asr = getattr(s2t.asr_model, "s2t_model", s2t.asr_model)  # enh_s2t wraps the ASR model
    ids = torch.unique_consecutive(asr.ctc.argmax(enc)[0]).tolist()
    ids = [i for i in ids if i not in (asr.blank_id, asr.sos, asr.eos)]
    return s2t.tokenizer.tokens2text(s2t.converter.ids2tokens(ids))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jobs", nargs="+", help="NAME=WAV_SCP:OUT_DIR")
    ap.add_argument("--asr_train_config", required=True)
    ap.add_argument("--asr_model_file", help="omit for a model whose config names its weights (pretrained Whisper)")
    ap.add_argument("--config", type=Path, help="decoding options (beam_size, ctc_weight, ...)")
    ap.add_argument("--enh_s2t_task", default="false", choices=["true", "false"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--fs", type=int, default=16000)
    args = ap.parse_args(argv)
    # the config is checked before the (slow) ESPnet imports and model loading
    options = yaml.safe_load(open(args.config)) if args.config else {}
    search = options.pop("search", "beam")
    if search not in ("beam", "ctc_greedy"):
        raise SystemExit(f"{args.config}: search must be 'beam' or 'ctc_greedy', got {search!r}")
    jobs = []
    for job in args.jobs:
        name, _, rest = job.partition("=")
        scp, _, out = rest.partition(":")
        if not (name and scp and out):
            raise SystemExit(f"job must be NAME=WAV_SCP:OUT_DIR, got {job!r}")
        if not (Path(out) / "1best_recog" / "text").is_file():
            jobs.append((name, Path(scp), Path(out)))
    if not jobs:
        return
    register()
    from espnet2.bin.asr_inference import Speech2Text
    from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError

    s2t = Speech2Text(asr_train_config=args.asr_train_config, asr_model_file=args.asr_model_file,
                      device=args.device, enh_s2t_task=args.enh_s2t_task == "true", **options)
    for name, scp, out in jobs:
        hyps = []
        for uid, path in tqdm(read_scp(scp).items(), desc=f"decode {name}", file=sys.stderr):
            wav = torch.as_tensor(load_wav(scp, uid, path, args.fs))
            try:
                with torch.no_grad():
                    if search == "ctc_greedy":
                        text = ctc_greedy(s2t, wav)
                    else:
                        results = s2t(wav)
                        if args.enh_s2t_task == "true":
                            results = results[0]  # speaker 1
                        text = results[0][0] or ""
            except TooShortUttError:
                text = ""
            except ValueError as e:  # e.g. longer than Whisper's window: refused, never truncated
                raise SystemExit(f"{scp}: {uid}: {e}") from e
            hyps.append(f"{uid} {text}\n")
        (out / "1best_recog").mkdir(parents=True, exist_ok=True)
        tmp = out / "1best_recog" / "text.tmp"
        tmp.write_text("".join(hyps))
        tmp.rename(out / "1best_recog" / "text")


if __name__ == "__main__":
    main()
