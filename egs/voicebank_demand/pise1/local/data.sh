#!/usr/bin/env bash
# Stage 1 of egs/voicebank_demand/pise1: VoiceBank-DEMAND (28 speakers) from its official layout,
# resampled to 16 kHz.  Get it from https://datashare.ed.ac.uk/handle/10283/2791 and unpack all
# zips into one folder.
#   local/data.sh --root /data/VCTK_DEMAND
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }

root=
corpus_size=default   # the corpus is small: every size uses all of it
nj=1
seed=0
reverb=false

. utils/parse_options.sh

[ -n "${root}" ] || { log "ERROR: give --root DIR (run.sh: --root DIR)"; exit 1; }
[ "${reverb}" = false ] || { log "ERROR: --reverb is only supported by the embedded corpus"; exit 1; }
python -m espnet_pise.data.voicebank_demand --root "${root}" --data_dir data --audio_dir corpus
log "done"
