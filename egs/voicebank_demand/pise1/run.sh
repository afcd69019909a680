#!/usr/bin/env bash
# egs/voicebank_demand/pise1: VoiceBank-DEMAND on a GPU, same models as egs/librispeech_demand/pise1
# (HuBERT-Base frozen, Demucs master64).  Its test set has unseen speakers and noise types; the
# mixtures are fixed by the corpus, so there are no _shift/_speed copies.
#   ./run.sh --root /data/VCTK_DEMAND --hubert /models/hubert_base_ls960.pt --master64 /models/master64.th
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./real_corpus.sh  # -> ../../TEMPLATE/pise1/real_corpus.sh
parse_recipe_opts "root hubert master64" "" "$@"
exec ./pise.sh "${real_corpus_pise_opts[@]}" --ssl_upstream "${hubert}" --se_init "${master64}" \
    --test_sets "test_clean test_unseen" --local_data_opts "--root ${root}" "${pise_args[@]+"${pise_args[@]}"}"
