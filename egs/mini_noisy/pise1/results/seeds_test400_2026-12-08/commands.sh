#!/bin/bash
# The commands behind "Three training seeds on the 400-utterance sets" (recipe README), as run on
# 2026-12-08 in the recipe directory of the 400-utterance run (results/test400_2026-12-08_aa190fd),
# called R below. R3 is the recipe directory of "A second training seed" (100 utterances per set),
# whose seed-1 ssl_mse and ssl_sdtw models were trained on the same training data.
set -euo pipefail
cd "${R}"
# 1. seed-1 models already trained: copy the models, not their 100-utterance test outputs
for v in ssl_mse ssl_sdtw; do
    d=exp/gtcrn_${v}_seed1; mkdir -p $d
    for f in $(ls "${R3}/$d" | grep -v '^enhanced_'); do cp -a "${R3}/$d/$f" $d/; done
done
# 2. systems that do not depend on the training seed (the pretrained GTCRN, the noisy input, the
#    observation-adding dev decodings): the seed-0 run's outputs, as hard links, logs as copies
link_seed_independent() {  # TAG
    local t=$1
    cp -al exp/gtcrn exp/gtcrn${t} && cp --remove-destination exp/gtcrn/enhance.log exp/gtcrn${t}/enhance.log
    mkdir -p exp/asr_whisper${t}
    cp -a exp/asr_whisper/{config.yaml,tokens.txt,git_revision} exp/asr_whisper${t}/
    sed -i "s#token_list: exp/asr_whisper/tokens.txt#token_list: exp/asr_whisper${t}/tokens.txt#" exp/asr_whisper${t}/config.yaml
    cp -al exp/asr_whisper/decode_{noisy,gtcrn,obs_dev_w0,obs_dev_w1} exp/asr_whisper${t}/
    rm -rf exp/asr_whisper${t}/decode_*/*/score_wer
    for f in exp/asr_whisper${t}/decode_*/decode*.log; do cp --remove-destination "$f" "$f.tmp" && mv "$f.tmp" "$f"; done
}
# (as run for seed 1, the decode logs stayed linked, so stage 7's "done, skipped" lines replaced the
#  seed-0 run's decode logs of noisy and gtcrn; for seed 2 they were copied, as above)
link_seed_independent _seed1
# 3. train what is missing (ssl_mse_pad seed 1), enhance and decode the fine-tuned systems (log: seed1_stages5-7.log)
./run.sh --stage 5 --stop_stage 7 --variants "ssl_mse ssl_mse_pad ssl_sdtw" --train_seed 1 --tag _seed1 --obs_add_weights ""
# 4. the report over seeds 0 and 1 (stage 10 scores the seed run's decodings first; replaced by the one below)
./run.sh --stage 10 --report RESULTS_test400.md --run_tags _seed1

# Seed 2: all three losses trained here (commit 7a55a1b; the stage-7 code is that of aa190fd),
# the seed-independent outputs linked as in 2 (logs copied), log: seed2_stages5-7.log
link_seed_independent _seed2
./run.sh --stage 5 --stop_stage 7 --train_seed 2 --tag _seed2 --obs_add_weights ""
# (as run: while stage 7 decoded ssl_mse and ssl_mse_pad, a third process decoded ssl_sdtw's last
#  three sets ahead, then another its test_seen_speed and test_seen_shift, so that its decoding did
#  not run alone on one core afterwards; stage 7 then found those sets done and skipped them)
#   OMP_NUM_THREADS=1 python -m espnet_pise.bin.decode_sets --config conf/tuning/decode_whisper.yaml \
#       --asr_train_config exp/asr_whisper_seed2/config.yaml \
#       test_unseen_speed=exp/gtcrn_ssl_sdtw_seed2/enhanced_test_unseen_speed/spk1.scp:exp/asr_whisper_seed2/decode_gtcrn_ssl_sdtw/test_unseen_speed \
#       test_unseen_shift=...  test_unseen=...  (same pattern)
./run.sh --stage 10 --report RESULTS_test400.md --run_tags "_seed1 _seed2"
