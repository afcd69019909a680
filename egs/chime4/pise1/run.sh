#!/usr/bin/env bash
# egs/chime4/pise1: CHiME-4 1-channel track on a GPU, same models as egs/librispeech_demand/pise1
# (HuBERT-Base frozen, Demucs master64).  SE is trained on the simulated training set (channel 5);
# test sets: simulated et05 (PESQ/STOI/SI-SDR and WER) and the REAL dt05/et05 recordings (WER only:
# they have no clean reference).  The mixtures are fixed by the corpus: no _shift/_speed copies.
#   ./run.sh --chime4 /data/CHiME4 --hubert /models/hubert_base_ls960.pt --master64 /models/master64.th \
#       [--simu_refs DIR]   # the isolated_ext tree of ESPnet's egs2/chime4/enh1 stage 1
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./real_corpus.sh  # -> ../../TEMPLATE/pise1/real_corpus.sh
parse_recipe_opts "chime4 hubert master64" "simu_refs" "$@"
exec ./pise.sh "${real_corpus_pise_opts[@]}" --ssl_upstream "${hubert}" --se_init "${master64}" \
    --test_sets "test_clean test_simu dev_real test_real" \
    --local_data_opts "--chime4 ${chime4}${simu_refs:+ --simu_refs ${simu_refs}}" "${pise_args[@]+"${pise_args[@]}"}"
