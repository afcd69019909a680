"""CHiME-4 1-channel track (Vincent et al., 2017) from its official layout, as ESPnet's egs2/chime4 uses it.

    python -m espnet_pise.data.chime4 --chime4 /data/CHiME4 [--simu_refs DIR] [--wsj0_dots DIR] --data_dir data

Read from ``ROOT/data``:
- ``audio/16kHz/isolated_1ch_track/{dt05,et05}_{bus,caf,ped,str}_{real,simu}/SPK_UTT_ENV.CHn.wav``: the
  1-channel track (the channel is chosen per utterance by the challenge);
- ``audio/16kHz/isolated/tr05_{env}_simu/SPK_UTT_ENV.CH5.wav``: simulated training speech, channel 5
  (the front-centre microphone, Kaldi's and ESPnet's single-channel training convention);
- ``transcriptions/{dt05,et05}_{real,simu}.dot_all``: lines ``WORDS (SPK_UTT_ENV)``;
- ``WSJ0/**/*.dot`` (or ``--wsj0_dots``): the WSJ0 prompts of the simulated training utterances,
  lines ``words (utt)``, looked up by the lower-cased UTT as Kaldi's find_noisy_transcripts.pl does.

Clean references exist only for SIMULATED speech, and the challenge does not ship them aligned to
each channel: ESPnet's egs2/chime4/enh1 (stage 1, MATLAB) re-simulates them into an ``isolated_ext``
tree with ``SPK_UTT_ENV.CHn.Clean.wav`` and ``.Noise.wav`` beside each noisy file; ``--simu_refs``
points to that tree (default ``ROOT/data/audio/16kHz/isolated_ext``).

Sets: ``train`` (tr05 simu, clean + noise references), ``dev`` (dt05 simu, 1ch track), ``test_simu``
(et05 simu), ``test_clean`` (its clean references), and the REAL recordings ``dev_real`` (dt05) and
``test_real`` (et05), which have no clean reference: as in ESPnet, they get no spk1.scp, are
decoded and scored by WER only.  Audio is referenced in place (it is 16 kHz already).  Transcripts:
noise and bracketed annotations, verbal punctuation (``\\COMMA``) and WSJ marks (``*``, ``~``, ``:``)
are removed, then the project's normalisation (upper case, letters and inner apostrophes).
"""
import argparse
import re
from pathlib import Path
from typing import Callable, Dict, List, Optional

import soundfile as sf

from espnet_pise.data import corpus
from espnet_pise.data.text import normalize
from espnet_pise.data.validate import check_dir

ENVS = ("bus", "caf", "ped", "str")
_ANNOTATION = re.compile(r"\[[^\]]*\]|<[^>]*>|\\\S+")
_DOT_LINE = re.compile(r"^(?P<text>.*)\((?P<uid>[^()]+)\)\s*$")


def clean_transcript(text: str) -> str:
    """A CHiME/WSJ dot transcript without annotations, verbal punctuation and WSJ marks, normalised."""
    return normalize(re.sub(r"[*~:]", "", _ANNOTATION.sub(" ", text)))


def read_dots(paths: List[Path], key=lambda uid: uid) -> Dict[str, str]:
    """uid -> cleaned transcript from dot files (``words (uid)`` per line); malformed lines are errors."""
    out: Dict[str, str] = {}
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                m = _DOT_LINE.match(line.strip())
                if m is None:
                    raise ValueError(f"{path}:{lineno}: not a dot transcript line ('WORDS (ID)'): {line.strip()[:80]}")
                out[key(m["uid"].strip())] = clean_transcript(m["text"])
    return out


def _category(folder: str) -> str:
    return folder.split("_", 1)[1]  # "dt05_bus_simu" -> "bus_simu"


def collect(root: Path, split: str, kind: str, refs: Optional[Path], text_of: Callable[[str], Optional[str]],
            track: str, channel: Optional[int] = None) -> List[dict]:
    """Records of one CHiME-4 split ("tr05", "dt05", "et05") and kind ("simu", "real");
    ``text_of(SPK_UTT_ENV)`` gives the transcript (None: unknown)."""
    records = []
    for env in ENVS:
        folder = f"{split}_{env}_{kind}"
        audio = root / "data" / "audio" / "16kHz" / track / folder
        if not audio.is_dir():
            raise FileNotFoundError(f"{audio}: CHiME-4 folder missing")
        pattern = f"*.CH{channel}.wav" if channel else "*.CH[0-9].wav"
        files = sorted(audio.glob(pattern))
        if not files:
            raise FileNotFoundError(f"{audio}: no {pattern} files")
        for noisy in files:
            name = noisy.name[: -len(".wav")]  # SPK_UTT_ENV.CHn
            base, ch = name.rsplit(".", 1)
            text = text_of(base)
            if text is None:
                raise ValueError(f"{noisy}: no transcript for {base}")
            if not text:
                raise ValueError(f"{noisy}: empty transcript for {base}")
            rec = {"uid": f"{base}_{ch}_{kind.upper()}", "spk": base.split("_")[0], "noisy": str(noisy.resolve()),
                   "text": text, "dur": round(sf.info(str(noisy)).frames / corpus.FS, 3),
                   "category": _category(folder)}
            if refs is not None:
                for key, suffix in (("clean", "Clean"), ("noise", "Noise")):
                    path = refs / folder / f"{name}.{suffix}.wav"
                    if not path.is_file():
                        raise FileNotFoundError(f"{path}: missing simulated {key} reference of {noisy}")
                    rec[key] = str(path.resolve())
            records.append(rec)
    return records


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chime4", type=Path, required=True, help="CHiME-4 root (holding data/audio/16kHz, ...)")
    ap.add_argument("--simu_refs", type=Path, default=None,
                    help="isolated_ext tree with the simulated clean/noise references (default: ROOT/data/audio/16kHz/isolated_ext)")
    ap.add_argument("--wsj0_dots", type=Path, default=None, help="folder searched for WSJ0 *.dot files (default: ROOT/data/WSJ0)")
    ap.add_argument("--data_dir", type=Path, default=Path("data"))
    args = ap.parse_args(argv)
    root = args.chime4
    refs = args.simu_refs or root / "data" / "audio" / "16kHz" / "isolated_ext"
    if not refs.is_dir():
        raise FileNotFoundError(f"{refs}: no simulated clean references; SE training needs them: make them with "
                                "ESPnet's egs2/chime4/enh1 local/data.sh stage 1 and pass --simu_refs")
    trans = root / "data" / "transcriptions"
    dots = {}
    for split in ("dt05", "et05"):
        for kind in ("simu", "real"):
            path = trans / f"{split}_{kind}.dot_all"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: CHiME-4 transcription file missing")
            dots[split, kind] = read_dots([path])
    wsj0 = args.wsj0_dots or root / "data" / "WSJ0"
    wsj0_files = sorted(wsj0.rglob("*.dot")) if wsj0.is_dir() else []
    if not wsj0_files:
        raise FileNotFoundError(f"{wsj0}: no WSJ0 *.dot files (the transcripts of the simulated training set)")
    wsj0_text = read_dots(wsj0_files, key=str.lower)
    # SPK_UTT_ENV -> the WSJ0 prompt of utt
    train = collect(root, "tr05", "simu", refs, lambda base: wsj0_text.get(base.split("_")[1].lower()), "isolated",
                    channel=5)
    sets = {
        "train": train,
        "dev": collect(root, "dt05", "simu", refs, dots["dt05", "simu"].get, "isolated_1ch_track"),
        "test_simu": collect(root, "et05", "simu", refs, dots["et05", "simu"].get, "isolated_1ch_track"),
        "dev_real": collect(root, "dt05", "real", None, dots["dt05", "real"].get, "isolated_1ch_track"),
        "test_real": collect(root, "et05", "real", None, dots["et05", "real"].get, "isolated_1ch_track"),
    }
    sets["test_clean"] = [{**{k: v for k, v in r.items() if k != "noise"}, "noisy": r["clean"], "category": "clean"}
                          for r in sets["test_simu"]]
    problems = []
    for name, records in sets.items():
        corpus.write_lists(args.data_dir / name, records)
        problems += check_dir(args.data_dir / name, corpus.FS)
    if problems:
        raise RuntimeError("\n".join(problems[:20]))


if __name__ == "__main__":
    main()
