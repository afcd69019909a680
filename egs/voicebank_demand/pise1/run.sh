#!/usr/bin/env bash
# egs/voicebank_demand/pise1: VoiceBank-DEMAND on a GPU, same models as egs/librispeech_demand/pise1
# (HuBERT-Base frozen, Demucs master64).  Its test set has unseen speakers and noise types; the
# mixtures are fixed by the corpus, so there are no _shift/_speed copies.
#   ./run.sh --root /data/VCTK_DEMAND --hubert /models/hubert_base_ls960.pt --master64 /models/master64.th
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
root=
hubert=
master64=
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --root|--hubert|--master64) printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
for v in root hubert master64; do
    [ -n "${!v}" ] || { echo "$0: --${v} is required (see the header of this script)" >&2; exit 1; }
done
exec ./pise.sh --ngpu 1 --nj 8 --n_valid 0 --conf_suffix "" --nbpe 300 --ssl_upstream "${hubert}" --se_init "${master64}" \
    --test_sets "test_clean test_unseen" --local_data_opts "--root ${root}" "${args[@]+"${args[@]}"}"
