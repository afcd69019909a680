#!/usr/bin/env bash
# egs/mini_noisy/pise1: the embedded offline corpus (synthetic voices + recorded/generated noise),
# an SSL model pre-trained here (stage 2), a CPU-sized Demucs.  Runs on 2 CPU cores; --ngpu 1 on a GPU.
#   ./run.sh                          # everything, default corpus (>= 5 h of training speech)
#   ./run.sh --corpus_size tiny       # minutes: the CI configuration (*_tiny configs)
#   ./run.sh --stage 5 --stop_stage 7 # resume / rerun some stages
# All options: see ../../TEMPLATE/pise1/pise.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
exec ./pise.sh --ssl_upstream pretrain --nbpe 50 "$@"  # 50 BPE units: learnt faster than 300 in the CPU budget (dev)
