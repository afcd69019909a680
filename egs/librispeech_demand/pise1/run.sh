#!/usr/bin/env bash
# egs/librispeech_demand/pise1: the paper's setup on a GPU.  HuBERT-Base (frozen) from a local
# checkpoint, Demucs master64 from a local denoiser checkpoint, LibriSpeech + DEMAND seen/unseen.
#   ./run.sh --librispeech /data/LibriSpeech --demand /data/DEMAND \
#            --hubert /models/hubert_base_ls960.pt --master64 /models/master64.th
# Other options go to ../../TEMPLATE/pise1/pise.sh (e.g. --stage, --stop_stage, --variants).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
librispeech=
demand=
hubert=      # fairseq / s3prl / torchaudio HuBERT-Base checkpoint (hubert_base_ls960.pt)
master64=    # facebookresearch/denoiser master64 state dict
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --librispeech|--demand|--hubert|--master64) printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
for v in librispeech demand hubert master64; do
    [ -n "${!v}" ] || { echo "$0: --${v} is required (see the header of this script)" >&2; exit 1; }
done
exec ./pise.sh --ngpu 1 --nj 8 --n_valid 0 --conf_suffix "" --nbpe 300 --ssl_upstream "${hubert}" --se_init "${master64}" \
    --local_data_opts "--librispeech ${librispeech} --demand ${demand}" "${args[@]+"${args[@]}"}"
