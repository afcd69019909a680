"""Shape files for ESPnet's batch samplers, straight from the audio headers (no collect_stats pass).

    python -m espnet_pise.data.shapes data/train/wav.scp exp/stats/train/speech_shape
"""
import argparse
from pathlib import Path

import soundfile as sf

from espnet_pise.data.kaldi import read_scp


def write_shapes(scp: Path, out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for uid, path in read_scp(scp).items():
        try:
            lines.append(f"{uid} {sf.info(path).frames}\n")
        except Exception as e:
            raise RuntimeError(f"{scp}: {uid}: cannot read {path} ({e})") from e
    out.write_text("".join(lines))
    return len(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scp", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    write_shapes(args.scp, args.out)


if __name__ == "__main__":
    main()
