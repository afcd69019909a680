"""VoiceBank-DEMAND (Valentini-Botinhao et al. 2017, datashare.ed.ac.uk/handle/10283/2791), 28 speakers.

    python -m espnet_pise.data.voicebank_demand --root /data/VCTK_DEMAND --data_dir data --audio_dir corpus

Official layout: ``clean_trainset_28spk_wav/``, ``noisy_trainset_28spk_wav/``, ``trainset_28spk_txt/``,
``clean_testset_wav/``, ``noisy_testset_wav/``, ``testset_txt/`` (48 kHz, resampled here to 16 kHz).
Sets: ``train`` (26 speakers), ``dev`` (p226, p287, the usual hold-out), ``test_unseen`` (the
official test set: unseen speakers and noise types), ``test_clean`` (its clean references).  The
noise reference is noisy - clean.  Mixtures are fixed by the corpus, so there are no position-
invariance copies here.  A file missing from one of the parallel folders is an error naming it.
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import soundfile as sf
from tqdm import tqdm

from espnet_pise.data import corpus, mixing
from espnet_pise.data.text import normalize
from espnet_pise.data.validate import check_dir

DEV_SPEAKERS = ("p226", "p287")
LAYOUT = {"train": ("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav", "trainset_28spk_txt"),
          "test": ("clean_testset_wav", "noisy_testset_wav", "testset_txt")}


def read_part(root: Path, part: str) -> List[dict]:
    clean_dir, noisy_dir, txt_dir = (root / d for d in LAYOUT[part])
    for d in (clean_dir, noisy_dir, txt_dir):
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: VoiceBank-DEMAND folder missing")
    items = []
    for clean in sorted(clean_dir.glob("*.wav")):
        uid = clean.stem
        noisy, txt = noisy_dir / clean.name, txt_dir / f"{uid}.txt"
        for f in (noisy, txt):
            if not f.is_file():
                raise FileNotFoundError(f"{f}: missing (the parallel file of {clean})")
        text = normalize(txt.read_text(encoding="utf-8", errors="replace"))
        if not text:
            raise ValueError(f"{txt}: empty transcript")
        items.append({"uid": uid, "spk": uid.split("_")[0], "clean": clean, "noisy": noisy, "text": text})
    extra = {p.stem for p in noisy_dir.glob("*.wav")} - {i["uid"] for i in items}
    if extra:
        raise FileNotFoundError(f"{clean_dir}: no clean file for {len(extra)} noisy files, e.g. {sorted(extra)[:3]}")
    return items


def convert(item: dict, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    sigs = {}
    for kind in ("clean", "noisy"):
        x, fs = sf.read(str(item[kind]), dtype="float64")
        if x.ndim != 1:
            raise ValueError(f"{item[kind]}: {x.shape[1]} channels, expected mono")
        sigs[kind] = mixing.resample(x, fs, corpus.FS)
    if len(sigs["clean"]) != len(sigs["noisy"]):
        raise ValueError(f"{item['noisy']}: {len(sigs['noisy'])} samples, its clean file {len(sigs['clean'])}")
    sigs["noise"] = sigs["noisy"] - sigs["clean"]
    rec = {"uid": item["uid"], "spk": item["spk"], "text": item["text"], "dur": round(len(sigs["clean"]) / corpus.FS, 3)}
    for kind, x in sigs.items():
        path = out_dir / f"{item['uid']}_{kind}.wav"
        if not path.is_file():
            tmp = path.with_suffix(".tmp.wav")
            sf.write(str(tmp), x, corpus.FS, subtype="FLOAT")
            tmp.rename(path)
        rec[kind] = str(path.resolve())
    snr = 10 * np.log10(mixing.active_level(sigs["clean"]) / max(np.mean(sigs["noise"] ** 2), 1e-12))
    rec["category"] = f"voicebank_{snr:.0f}dB"
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--data_dir", type=Path, default=Path("data"))
    ap.add_argument("--audio_dir", type=Path, default=Path("corpus"))
    args = ap.parse_args(argv)
    train, test = read_part(args.root, "train"), read_part(args.root, "test")
    sets: Dict[str, List[dict]] = {"train": [i for i in train if i["spk"] not in DEV_SPEAKERS],
                                   "dev": [i for i in train if i["spk"] in DEV_SPEAKERS], "test_unseen": test}
    for name, items in sets.items():
        records = [convert(i, args.audio_dir / name) for i in tqdm(items, desc=name, file=sys.stderr)]
        corpus.write_lists(args.data_dir / name, records)
        if name == "test_unseen":
            clean = [{**r, "noisy": r["clean"], "category": "clean"} for r in records]
            for r in clean:
                r.pop("noise")
            corpus.write_lists(args.data_dir / "test_clean", clean)
    for name in list(sets) + ["test_clean"]:
        problems = check_dir(args.data_dir / name, corpus.FS)
        if problems:
            raise RuntimeError("\n".join(problems[:20]))


if __name__ == "__main__":
    main()
