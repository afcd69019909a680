#!/usr/bin/env bash
# Reproducibility of the recipe: compare two runs of it (two recipe directories, e.g. two fresh clones).
#   local/compare_runs.sh RUN_A RUN_B [ASR_EXP]    # ASR_EXP: default exp/asr_whisper
# For every decoding both runs made (ASR_EXP/decode_SYSTEM/SET): whether the transcripts are identical,
# else the WER of each run and the difference B - A with its paired bootstrap 95 % interval
# (compare_wer; needs stage 9's score_wer in both).  Also: the corpus (every wav.scp / text of data/,
# by content) and the stage-5 models (the parameters of each valid.loss.best.pth).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. ./path.sh
a=${1:?usage: local/compare_runs.sh RUN_A RUN_B [ASR_EXP]}
b=${2:?usage: local/compare_runs.sh RUN_A RUN_B [ASR_EXP]}
asr=${3:-exp/asr_whisper}

echo "## Corpus"
same=0 differ=0
for f in $(cd "${a}" && ls data/*/wav.scp data/*/spk1.scp data/*/text 2>/dev/null); do
    [ -f "${b}/${f}" ] || { echo "- ${f}: only in ${a}"; continue; }
    # the lists name files under each run's own directory: compare the audio, not the paths
    if python - "${a}" "${b}" "${f}" <<'PY'
import sys
from pathlib import Path
import soundfile as sf
a, b, f = sys.argv[1:]
rows = [dict(line.split(maxsplit=1) for line in open(Path(r) / f)) for r in (a, b)]
if rows[0].keys() != rows[1].keys():
    sys.exit(1)
if not f.endswith(".scp"):
    sys.exit(rows[0] != rows[1])
for uid in rows[0]:
    x, y = (sf.read(p if Path(p).is_absolute() else Path(r) / p)[0] for r, p in zip((a, b), (rows[0][uid].strip(), rows[1][uid].strip())))
    if x.shape != y.shape or (x != y).any():
        sys.exit(1)
PY
    then same=$((same + 1)); else differ=$((differ + 1)); echo "- ${f}: differs"; fi
done
echo "- ${same} lists identical in content, ${differ} differ"

echo "## Stage-5 models"
for m in $(cd "${a}" && ls exp/*/valid.loss.best.pth 2>/dev/null); do
    [ -f "${b}/${m}" ] || continue
    python - "${a}/${m}" "${b}/${m}" <<'PY'
import sys
import torch
x, y = (torch.load(p, map_location="cpu") for p in sys.argv[1:])
diff = max(((x[k].float() - y[k].float()).abs().max().item() for k in x), default=0.0) if x.keys() == y.keys() else float("inf")
print(f"- {sys.argv[1].split('/exp/', 1)[1]}: " + ("identical" if diff == 0 else f"max parameter difference {diff:.3g}"))
PY
done

echo "## Transcripts"
for d in "${a}/${asr}"/decode_*/*/; do
    rel=${d#"${a}/"}
    [ -f "${d}/1best_recog/text" ] && [ -f "${b}/${rel}/1best_recog/text" ] || continue
    if cmp -s "${d}/1best_recog/text" "${b}/${rel}/1best_recog/text"; then
        echo "- ${rel%/}: identical"
    elif [ -f "${d}/score_wer/per_utt.json" ] && [ -f "${b}/${rel}/score_wer/per_utt.json" ]; then
        echo "- ${rel%/}: differ"
        python -m espnet_pise.bin.compare_wer "A=${d}/score_wer" "B=${b}/${rel}/score_wer"
    else
        echo "- ${rel%/}: differ (not scored in both runs)"
    fi
done
