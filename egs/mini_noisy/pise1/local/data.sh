#!/usr/bin/env bash
# Stage 1 of egs/mini_noisy/pise1: build the embedded noisy-speech corpus offline and validate it.
#   local/data.sh [--corpus_size tiny|small|default|large] [--nj 2] [--seed 0] [--reverb false]
#                 [--voices default|hard|all|NAME,NAME...] [--n_train N] [--n_dev N] [--n_test N]
# --voices: the voice set (default: the voices Whisper base reads when clean, see README "Voices");
# --n_train / --n_dev / --n_test: utterances of train, dev and each test set (empty: the size preset's).
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }

corpus_size=default
nj=2
seed=0
reverb=false
voices=default
n_train=
n_dev=
n_test=
data_dir=data
audio_dir=corpus
python=python3

. utils/parse_options.sh

counts=""
[ -n "${n_train}" ] && counts+=" --n_train ${n_train}"
[ -n "${n_dev}" ] && counts+=" --n_dev ${n_dev}"
[ -n "${n_test}" ] && counts+=" --n_test ${n_test}"
log "building the ${corpus_size} corpus (voices ${voices}${counts}, seed ${seed}, reverb ${reverb}, nj ${nj}) into ${data_dir} / ${audio_dir}"
# shellcheck disable=SC2086
${python} -m espnet_pise.data.corpus --size "${corpus_size}" --seed "${seed}" --nj "${nj}" --reverb "${reverb}" \
    --voices "${voices}" ${counts} --data_dir "${data_dir}" --audio_dir "${audio_dir}_${corpus_size}"
${python} -m espnet_pise.data.validate "${data_dir}"/{train,dev} "${data_dir}"/test_*
log "done"
