"""The paper's data: LibriSpeech mixed with DEMAND noise, seen/unseen noise environments.

    python -m espnet_pise.data.librispeech_demand --librispeech /data/LibriSpeech --demand /data/DEMAND \\
        --data_dir data --audio_dir corpus --nj 8

LibriSpeech (openslr.org/12): ``<root>/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`` with
``<speaker>-<chapter>.trans.txt``; DEMAND (zenodo.org/record/1227121): ``<root>/<ENV>/ch01.wav``
(the 16 kHz release; 48 kHz is resampled).  Seen environments mix train (train-clean-100), dev
(dev-clean) and test_seen (test-clean); unseen ones only test_unseen; each recording's first 75 %
serves train/dev and the rest the tests.  SNRs {20, 10, 5} dB everywhere (the paper's setting),
plus the position-invariance copies of the test sets.  Deterministic (--seed), resumable.
"""
import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import soundfile as sf

from espnet_pise.data import corpus, noise
from espnet_pise.data.text import normalize

SEEN = ("DKITCHEN", "DWASHING", "DLIVING", "TMETRO", "TBUS", "TCAR", "OOFFICE", "OHALLWAY", "OMEETING",
        "PSTATION", "PCAFETER", "PRESTO")
UNSEEN = ("NFIELD", "NRIVER", "NPARK", "STRAFFIC", "SPSQUARE", "SCAFE")
SPLITS = {"train": "train-clean-100", "dev": "dev-clean", "test": "test-clean"}
SNRS = (20, 10, 5)


def read_librispeech(root: Path, split: str) -> List[dict]:
    """Utterances of one split, sorted by id; missing audio or empty transcripts are errors."""
    split_dir = root / split
    if not split_dir.is_dir():
        raise FileNotFoundError(f"{split_dir}: LibriSpeech split missing (expected <root>/{split}/<speaker>/<chapter>/)")
    utts = []
    for trans in sorted(split_dir.glob("*/*/*.trans.txt")):
        for lineno, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            uid, _, text = line.partition(" ")
            text = normalize(text)
            if not text:
                raise ValueError(f"{trans}:{lineno}: {uid}: empty transcript")
            audio = trans.parent / f"{uid}.flac"
            if not audio.is_file():
                raise FileNotFoundError(f"{trans}:{lineno}: {uid}: audio missing: {audio}")
            utts.append({"uid": uid, "spk": uid.split("-")[0], "text": text, "path": str(audio)})
    if not utts:
        raise ValueError(f"{split_dir}: no */*/*.trans.txt transcripts")
    return sorted(utts, key=lambda u: u["uid"])


def demand_bank(root: Path, out_dir: Path, envs: List[str]) -> Dict[str, Dict[str, Path]]:
    """``{env: {"train": wav, "test": wav}}`` from DEMAND ``<ENV>/ch01.wav`` (kept on rerun)."""
    bank = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for env in envs:
        paths = {part: out_dir / f"{env}_{part}.wav" for part in ("train", "test")}
        bank[env] = paths
        if all(p.is_file() for p in paths.values()):
            continue
        src = root / env / "ch01.wav"
        if not src.is_file():
            raise FileNotFoundError(f"{src}: DEMAND environment {env} missing (expected <demand>/<ENV>/ch01.wav)")
        x = noise.load_recording(src, corpus.FS)
        for part, seg in noise.split_parts(x).items():
            tmp = paths[part].with_suffix(".tmp.wav")
            sf.write(str(tmp), seg, corpus.FS, subtype="FLOAT")
            tmp.rename(paths[part])
    return bank


def plan(utts: Dict[str, List[dict]], seed: int, max_utts: Dict[str, int] = None) -> Dict[str, List[corpus.Utt]]:
    max_utts = max_utts or {}

    def make(set_name, items, envs, part, set_seed):
        r = np.random.default_rng([seed, set_seed])
        items = items[: max_utts.get(set_name, len(items))]
        return [corpus.Utt(set=set_name, uid=u["uid"], voice=u["spk"], text=u["text"], tempo=1.0, pitch=0.0,
                           lead_s=0.0, trail_s=0.0, noise=envs[int(r.integers(len(envs)))], noise_part=part,
                           snr=float(SNRS[int(r.integers(len(SNRS)))]), seed=int(r.integers(2 ** 31)), source=u["path"])
                for u in items]

    sets = {"train": make("train", utts["train"], SEEN, "train", 1), "dev": make("dev", utts["dev"], SEEN, "train", 2),
            "test_seen": make("test_seen", utts["test"], SEEN, "test", 3),
            "test_unseen": make("test_unseen", utts["test"], UNSEEN, "test", 4)}
    sets["test_clean"] = [dataclasses.replace(u, set="test_clean", noise=None, snr=None) for u in sets["test_seen"]]
    sets.update(corpus.position_copies(sets, seed))
    return sets


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--librispeech", type=Path, required=True)
    ap.add_argument("--demand", type=Path, required=True)
    ap.add_argument("--data_dir", type=Path, default=Path("data"))
    ap.add_argument("--audio_dir", type=Path, default=Path("corpus"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nj", type=int, default=1)
    ap.add_argument("--max_utts", type=json.loads, default={}, help='e.g. \'{"train": 1000}\' for a quick run')
    args = ap.parse_args(argv)
    utts = {name: read_librispeech(args.librispeech, split) for name, split in SPLITS.items()}
    bank = demand_bank(args.demand, args.audio_dir / "noise", list(SEEN + UNSEEN))
    sets = plan(utts, args.seed, args.max_utts)
    corpus.build_sets(args.data_dir, args.audio_dir, sets, bank, args.nj)
    print(f"{args.data_dir}: {', '.join(f'{k} ({len(v)})' for k, v in sorted(sets.items()))}", file=sys.stderr)


if __name__ == "__main__":
    main()
