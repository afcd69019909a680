#!/bin/bash
# The commands that made compare.md, as run: seed 0 = the decodings of the default run of b69491b
# (copied to /tmp/b69491b_decodes), seed 1 = the --tag _seed1 run in a copy of that recipe directory (/tmp/run3).
set -euo pipefail
R=/tmp/run3/egs/mini_noisy/pise1; O=/tmp/seedcmp; rm -rf $O; mkdir -p $O
cd $R; . ./path.sh; export PYTHONPATH=/tmp/run3
sets="test_clean test_seen test_seen_shift test_seen_speed test_unseen test_unseen_shift test_unseen_speed"
jobs=()
for s in $sets; do
  for sys in noisy gtcrn gtcrn_ssl_mse gtcrn_ssl_sdtw; do jobs+=("data/$s/text:/tmp/b69491b_decodes/decode_$sys/$s/1best_recog/text:$O/seed0/$sys/$s"); done
  for sys in gtcrn_ssl_mse gtcrn_ssl_sdtw; do jobs+=("data/$s/text:exp/asr_whisper_seed1/decode_$sys/$s/1best_recog/text:$O/seed1/$sys/$s"); done
done
python -m espnet_pise.bin.score_wer --normalizer whisper_en "${jobs[@]}" > $O/score.log 2>&1
for s in $sets; do
  echo "## $s"
  python -m espnet_pise.bin.compare_wer noisy=$O/seed0/noisy/$s gtcrn=$O/seed0/gtcrn/$s mse_s0=$O/seed0/gtcrn_ssl_mse/$s mse_s1=$O/seed1/gtcrn_ssl_mse/$s sdtw_s0=$O/seed0/gtcrn_ssl_sdtw/$s sdtw_s1=$O/seed1/gtcrn_ssl_sdtw/$s
  echo "- sdtw_s1 vs mse_s1:"; python -m espnet_pise.bin.compare_wer mse_s1=$O/seed1/gtcrn_ssl_mse/$s sdtw_s1=$O/seed1/gtcrn_ssl_sdtw/$s | sed -n 4p
  echo "- sdtw_s1 vs gtcrn:"; python -m espnet_pise.bin.compare_wer gtcrn=$O/seed0/gtcrn/$s sdtw_s1=$O/seed1/gtcrn_ssl_sdtw/$s | sed -n 4p
  echo "- mse_s1 vs mse_s0:"; python -m espnet_pise.bin.compare_wer mse_s0=$O/seed0/gtcrn_ssl_mse/$s mse_s1=$O/seed1/gtcrn_ssl_mse/$s | sed -n 4p
  echo "- sdtw_s1 vs sdtw_s0:"; python -m espnet_pise.bin.compare_wer sdtw_s0=$O/seed0/gtcrn_ssl_sdtw/$s sdtw_s1=$O/seed1/gtcrn_ssl_sdtw/$s | sed -n 4p
done
