#!/usr/bin/env bash
# Stage 1 of egs/librispeech_demand/pise1: LibriSpeech (train-clean-100, dev-clean, test-clean) mixed
# with DEMAND ch01 noise, seen/unseen environments as in the paper, SNR {20, 10, 5} dB.
# Get the data: LibriSpeech from https://www.openslr.org/12 , DEMAND (16 kHz) from
# https://zenodo.org/record/1227121 ; unpack and pass the two folders.
#   local/data.sh --librispeech /data/LibriSpeech --demand /data/DEMAND [--corpus_size tiny|small|default]
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }

librispeech=
demand=
corpus_size=default   # tiny / small: the first 200 / 5000 training utterances (quick checks)
nj=8
seed=0
reverb=false

. utils/parse_options.sh

if [ -z "${librispeech}" ] || [ -z "${demand}" ]; then
    log "ERROR: give --librispeech DIR and --demand DIR (run.sh: --local_data_opts \"--librispeech DIR --demand DIR\")"
    exit 1
fi
[ "${reverb}" = false ] || { log "ERROR: --reverb is only supported by the embedded corpus"; exit 1; }
case "${corpus_size}" in
    tiny) max_utts='{"train": 200, "dev": 50, "test_seen": 50, "test_unseen": 50}' ;;
    small) max_utts='{"train": 5000, "dev": 500}' ;;
    default) max_utts='{}' ;;
    *) log "ERROR: unknown --corpus_size ${corpus_size}"; exit 1 ;;
esac
python -m espnet_pise.data.librispeech_demand --librispeech "${librispeech}" --demand "${demand}" \
    --data_dir data --audio_dir "corpus_${corpus_size}" --seed "${seed}" --nj "${nj}" --max_utts "${max_utts}"
python -m espnet_pise.data.validate data/{train,dev} data/test_*
log "done"
