#!/usr/bin/env bash
# Stage 1 of egs/chime4/pise1: the CHiME-4 1-channel track from its official layout (LDC / the
# CHiME-4 site: https://www.chimechallenge.org/challenges/chime4/download), with the simulated
# clean references that ESPnet's egs2/chime4/enh1 (local/data.sh stage 1, MATLAB) writes as
# isolated_ext/*.CHn.{Clean,Noise}.wav.  REAL recordings have no clean reference: they are decoded
# and scored by WER only.  See espnet_pise/data/chime4.py for the files read.
#   local/data.sh --chime4 /data/CHiME4 [--simu_refs /data/CHiME4_ext/audio/16kHz/isolated_ext]
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }

chime4=
simu_refs=
wsj0_dots=
corpus_size=default   # the corpus is fixed: every size uses all of it
nj=1
seed=0
reverb=false

. utils/parse_options.sh

[ -n "${chime4}" ] || { log "ERROR: give --chime4 DIR (run.sh: --chime4 DIR)"; exit 1; }
[ "${reverb}" = false ] || { log "ERROR: --reverb is only supported by the embedded corpus"; exit 1; }
python -m espnet_pise.data.chime4 --chime4 "${chime4}" --data_dir data \
    ${simu_refs:+--simu_refs "${simu_refs}"} ${wsj0_dots:+--wsj0_dots "${wsj0_dots}"}
log "done"
