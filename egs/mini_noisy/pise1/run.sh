#!/usr/bin/env bash
# egs/mini_noisy/pise1: the embedded offline corpus (synthetic voices + recorded/generated noise),
# Whisper base as the frozen teacher and as the recogniser, a CPU-sized Demucs.  Runs on 2 CPU
# cores; --ngpu 1 on a GPU.  The earlier default (a HuBERT pre-trained here in stage 2 and an ESPnet
# back end trained in stage 6): --teacher hubert --asr_backend espnet (add the _shift/_speed test sets
# with --test_sets).
#   ./run.sh                          # everything, default corpus (>= 5 h of training speech)
#   ./run.sh --corpus_size tiny       # minutes: the CI configuration (*_tiny configs)
#   ./run.sh --stage 5 --stop_stage 7 # resume / rerun some stages
# All options: see ../../TEMPLATE/pise1/pise.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# test sets: the decoding budget goes to the two noisy sets (see README: test set size)
exec ./pise.sh --teacher whisper --asr_backend whisper --test_sets "test_seen test_unseen" \
    --ssl_upstream pretrain --nbpe 50 "$@"  # (hubert/espnet) 50 BPE units: learnt faster than 300 in the CPU budget (dev)
