#!/usr/bin/env bash
# egs/librispeech_demand/pise1: the paper's setup on a GPU.  HuBERT-Base (frozen) from a local
# checkpoint, Demucs master64 from a local denoiser checkpoint, LibriSpeech + DEMAND seen/unseen.
#   ./run.sh --librispeech /data/LibriSpeech --demand /data/DEMAND \
#            --hubert /models/hubert_base_ls960.pt --master64 /models/master64.th
# Other options go to ../../TEMPLATE/pise1/pise.sh (e.g. --stage, --stop_stage, --variants).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./real_corpus.sh  # -> ../../TEMPLATE/pise1/real_corpus.sh
parse_recipe_opts "librispeech demand hubert master64" "" "$@"
exec ./pise.sh "${real_corpus_pise_opts[@]}" --ssl_upstream "${hubert}" --se_init "${master64}" \
    --local_data_opts "--librispeech ${librispeech} --demand ${demand}" "${pise_args[@]+"${pise_args[@]}"}"
