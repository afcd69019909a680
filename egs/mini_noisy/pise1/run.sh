#!/usr/bin/env bash
# egs/mini_noisy/pise1: the embedded offline corpus (synthetic voices + recorded/generated noise),
# Whisper base as the frozen teacher and as the recogniser, the pretrained GTCRN (DNS3) as the SE front
# end: used as is, with observation adding, fine-tuned with ssl_mse / ssl_mse_pad / ssl_sdtw through
# Whisper's encoder, and jointly with Whisper (enh_s2t).  Runs on 2 CPU cores; --ngpu 1 on a GPU.
#   ./run.sh                          # everything, default corpus (2,000 training utterances, 1.6 h)
#   ./run.sh --corpus_size tiny       # minutes: the CI configuration (*_tiny configs)
#   ./run.sh --stage 5 --stop_stage 7 # resume / rerun some stages
#   ./run.sh --local_data_opts "--n_test 400 --audio_dir corpus_test400" --report RESULTS_test400.md
#                                     # after a default run: the same models on test sets of 400 utterances
#                                     # (README "Test sets of 400 utterances")
#   ./run.sh --stage 4 --stop_stage 7 --train_seed 1 --tag _seed1 && ./run.sh --stage 10 --run_tags _seed1
#                                     # a second training draw of the fine-tuned systems (stage 5), reported beside the
#                                     # first (RESULTS.md "ASR over recipe runs"; README "Training seeds")
#   ./run.sh --front_end nsnet2       # the other pretrained front end (NSNet2); --front_end demucs: a Demucs
#                                     # trained here with SI-SNR in stage 4
#   ./run.sh --teacher hubert --asr_backend espnet --front_end demucs --corpus_size large
#                                     # a HuBERT pre-trained here (stage 2) and an ESPnet back end trained in
#                                     # stage 6, on 6,700 training utterances (5.1 h) instead of the default's 2,000
# All options: see ../../TEMPLATE/pise1/pise.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# test sets: pise.sh's default, all seven (test_clean, test_{seen,unseen} and their _shift / _speed copies)
exec ./pise.sh --teacher whisper --asr_backend whisper --front_end gtcrn \
    --ssl_upstream pretrain --nbpe 50 "$@"  # (hubert/espnet) 50 BPE units: learnt faster than 300 in the CPU budget (dev)
