#!/usr/bin/env bash
# egs/mini_noisy/pise1: the embedded offline corpus (synthetic voices + recorded/generated noise),
# Whisper base as the frozen teacher and as the recogniser, the pretrained GTCRN (DNS3) as the SE front
# end: used as is, with observation adding, fine-tuned with ssl_mse / ssl_mse_pad / ssl_sdtw through
# Whisper's encoder, and jointly with Whisper (enh_s2t).  Runs on 2 CPU cores; --ngpu 1 on a GPU.
#   ./run.sh                          # everything, default corpus (2.7 h of training speech)
#   ./run.sh --corpus_size tiny       # minutes: the CI configuration (*_tiny configs)
#   ./run.sh --stage 5 --stop_stage 7 # resume / rerun some stages
#   ./run.sh --front_end nsnet2       # the other pretrained front end (NSNet2); --front_end demucs: a Demucs
#                                     # trained here with SI-SNR in stage 4
#   ./run.sh --teacher hubert --asr_backend espnet --front_end demucs  # a HuBERT pre-trained here (stage 2)
#                                     # and an ESPnet back end trained in stage 6
# All options: see ../../TEMPLATE/pise1/pise.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# The training pool: 2000 utterances (2.7 h) of the default corpus, not its preset's 6700, when Whisper is
# teacher and recogniser: a stage-5 fine-tuning reads 90 batches of 16 s of audio (about 500 utterances of
# 2.9 s), and stage 1 took 10 min 49 s with 6700, 4 min 10 s with 2000 (2026-12-07, README).  A HuBERT teacher or ESPnet back end trained here
# (--teacher hubert, --asr_backend espnet) gets the preset's; --local_data_opts "" does too.
size=default teacher=whisper backend=whisper prev=""
for a in "$@"; do
    case "${prev}" in --corpus_size) size=${a} ;; --teacher) teacher=${a} ;; --asr_backend) backend=${a} ;; esac
    prev=${a}
done
pool=()
[ "${size}/${teacher}/${backend}" = default/whisper/whisper ] && pool=(--local_data_opts "--n_train 2000")
# test sets: pise.sh's default, all seven (test_clean, test_{seen,unseen} and their _shift / _speed copies)
exec ./pise.sh --teacher whisper --asr_backend whisper --front_end gtcrn \
    --ssl_upstream pretrain --nbpe 50 "${pool[@]+"${pool[@]}"}" "$@"  # (hubert/espnet) 50 BPE units: learnt faster than 300 in the CPU budget (dev)
