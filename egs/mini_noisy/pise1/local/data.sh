#!/usr/bin/env bash
# Stage 1 of egs/mini_noisy/pise1: build the embedded noisy-speech corpus offline and validate it.
#   local/data.sh [--corpus_size tiny|small|default] [--nj 2] [--seed 0] [--reverb false]
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }

corpus_size=default
nj=2
seed=0
reverb=false
data_dir=data
audio_dir=corpus
python=python3

. utils/parse_options.sh

log "building the ${corpus_size} corpus (seed ${seed}, reverb ${reverb}, nj ${nj}) into ${data_dir} / ${audio_dir}"
${python} -m espnet_pise.data.corpus --size "${corpus_size}" --seed "${seed}" --nj "${nj}" --reverb "${reverb}" \
    --data_dir "${data_dir}" --audio_dir "${audio_dir}_${corpus_size}"
${python} -m espnet_pise.data.validate "${data_dir}"/{train,dev} "${data_dir}"/test_*
log "done"
