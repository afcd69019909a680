#!/usr/bin/env bash
# Dev comparisons behind the default teacher and decoding settings (README: "Throughput and the dev
# choices behind it").  After stages 1-6 of ./run.sh (data, Whisper, the pretrained GTCRN, the recogniser):
#   local/dev_choices.sh teacher   # GTCRN fine-tuned 90 updates with ssl_mse / ssl_sdtw, the teacher of
#                                  # commit 3666ef4 (10 s window, float32) vs the stage-5 configs
#   local/dev_choices.sh decoding  # the noisy dev input decoded with greedy float32 / bf16, with / without the guard
#   local/dev_choices.sh window    # the recogniser's input window: 10 s vs 8 s, the recipe's decoding options,
#                                  # on the noisy dev input and on dev enhanced by "teacher"'s fast_ssl_sdtw
#   local/dev_choices.sh updates   # GTCRN fine-tuned 450 updates with ssl_mse / ssl_sdtw: dev WER after 90, 270, 450
#                                  # (env losses, max_epoch, points: other losses, lengths, epochs decoded)
#   local/dev_choices.sh guard     # the guard with the compression ratio alone vs the recipe's guard vs none
#   local/dev_choices.sh decoder   # the recipe's decoding with a float32 decoder (bf16 encoder) vs a bf16 one
#   local/dev_choices.sh kv        # the recipe's decoding with the cross-attention keys/values projected per utterance in bf16
#   local/dev_choices.sh joint     # stage 8's joint model with the SSL loss weighted 1, 0.1, 0.01 (dev WER)
#   local/dev_choices.sh report    # exp/dev_choices/{teacher,decoding,window}.md (compare_wer tables)
# "teacher" and "decoding" are independent: run them at the same time on two cores (one thread each).
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. ./path.sh
export OMP_NUM_THREADS=${threads:-1}  # env threads: one job on both cores
what=${1:?usage: local/dev_choices.sh teacher|decoding|window|updates|guard|decoder|kv|joint|report}
D=exp/dev_choices
asr=exp/asr_whisper
old=3666ef4  # the last commit with the 10 s float32 teacher in the stage-5 configs
mkdir -p "${D}/conf" "${D}/decode"

# decoding configs: today's decode_whisper.yaml without the options under comparison, plus them
# (the decoder's precision and the keys/values' too: "greedy_bf16" is bf16 throughout, "greedy" float32)
base() { grep -vE '^(compute_dtype|decoder_compute_dtype|cross_kv_compute_dtype|temperatures|compression_ratio_threshold|logprob_threshold|sampling_seed):' \
    conf/tuning/decode_whisper.yaml; }
base > "${D}/conf/greedy.yaml"
{ base; echo "compute_dtype: bfloat16"; } > "${D}/conf/greedy_bf16.yaml"
guard='temperatures: [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
compression_ratio_threshold: 2.4
logprob_threshold: -1.0'
{ base; echo "${guard}"; } > "${D}/conf/guard.yaml"
{ base; echo "${guard}"; echo "compute_dtype: bfloat16"; } > "${D}/conf/guard_bf16.yaml"

cp conf/tuning/decode_whisper.yaml "${D}/conf/recipe.yaml"
grep -v '^logprob_threshold:' conf/tuning/decode_whisper.yaml > "${D}/conf/guard_cr.yaml"  # the compression ratio alone
# the recipe's decoding with a float32 decoder (the bf16-decoder decodings are "window"'s 10 s ones)
# (keys/values projected by the decoder, as before cross_kv_compute_dtype: the baseline of "kv")
{ grep -vE '^(decoder_compute_dtype|cross_kv_compute_dtype):' conf/tuning/decode_whisper.yaml; echo "decoder_compute_dtype: float32"; } \
    > "${D}/conf/f32_decoder.yaml"
# ... and with the cross-attention keys/values projected once per utterance in bf16
{ cat "${D}/conf/f32_decoder.yaml"; echo "cross_kv_compute_dtype: bfloat16"; } > "${D}/conf/kv_bf16.yaml"

decode() {  # NAME CONF WAV_SCP [ASR_EXP [decode_sets options]]; the wall-clock seconds go to OUT/seconds
    local out=${D}/decode/$1_$2 conf=$2 scp=$3 exp=${4:-${asr}} start=${SECONDS}
    shift $(($# < 4 ? $# : 4))
    python -m espnet_pise.bin.decode_sets --config "${D}/conf/${conf}.yaml" --asr_train_config "${exp}/config.yaml" "$@" \
        "dev=${scp}:${out}" > "${out}.log" 2>&1
    echo $((SECONDS - start)) > "${out}/seconds"
    python -m espnet_pise.bin.score_wer --ref data/dev/text --hyp "${out}/1best_recog/text" --out_dir "${out}/score_wer" \
        --normalizer whisper_en
}

fine_tune() {  # DIR CONFIG [OPTIONS]: the pretrained GTCRN fine-tuned as in stage 5 (a finished or
    # interrupted run resumes from its checkpoint: with a larger --max_epoch it trains on)
    local dir=$1 config=$2; shift 2
    python -m espnet_pise.bin.enh_train --ngpu 0 --resume true \
        --output_dir "${dir}" --config "${config}" --init_param exp/gtcrn/valid.loss.best.pth \
        --train_data_path_and_name_and_type data/train/wav.scp,speech_mix,sound \
        --train_data_path_and_name_and_type data/train/spk1.scp,speech_ref1,sound \
        --valid_data_path_and_name_and_type data/dev/wav.scp,speech_mix,sound \
        --valid_data_path_and_name_and_type data/dev/spk1.scp,speech_ref1,sound \
        --train_shape_file exp/stats/train/speech_shape --valid_shape_file exp/stats/dev/speech_shape.valid "$@" \
        >> "${dir}.train.log" 2>&1
}
enhance_dev() {  # DIR MODEL_FILE OUT_ROOT: dev enhanced into OUT_ROOT/enhanced_dev
    [ -s "$3/enhanced_dev/spk1.scp" ] || python -m espnet_pise.bin.enhance_sets --train_config "$1/config.yaml" \
        --model_file "$2" --out_root "$3" data/dev >> "$1.enhance.log" 2>&1
}

case "${what}" in
updates)
    # one fine-tuning per loss (env losses, default ssl_mse ssl_sdtw), max_epoch epochs of 30 updates
    # (default 15: 5x the stage-5 default), every epoch's model kept; dev WER after the epochs of env
    # points (default 3 9 15: 90, 270, 450 updates).  The losses run side by side, one thread each.
    max_epoch=${max_epoch:-15}
    pids=()
    for loss in ${losses:-ssl_mse ssl_sdtw}; do
        dir=${D}/long_${loss}
        {
            log "fine-tuning ${dir}: $((max_epoch * 30)) updates"
            fine_tune "${dir}" "conf/tuning/train_enh_gtcrn_${loss}_whisper.yaml" --max_epoch "${max_epoch}" \
                --keep_nbest_models "${max_epoch}"
            for e in ${points:-3 9 15}; do
                enhance_dev "${dir}" "${dir}/${e}epoch.pth" "${dir}/ep${e}"
                decode "long_${loss}_ep${e}" recipe "${dir}/ep${e}/enhanced_dev/spk1.scp"
            done
        } &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "${p}" || { log "failed: see ${D}/long_*.train.log, ${D}/decode/long_*.log"; exit 1; }; done
    ;;
guard)
    # the repetition guard with the compression ratio alone (no log-probability threshold) vs the recipe's
    # guard and no guard (bf16 greedy), on the noisy dev input and on dev enhanced by fast_ssl_sdtw
    enhanced=${D}/fast_ssl_sdtw/enhanced_dev/spk1.scp
    decode noisy guard_cr data/dev/wav.scp &
    decode sdtw guard_cr "${enhanced}"
    wait
    decode sdtw greedy_bf16 "${enhanced}"
    ;;
decoder)
    # bf16 encoder with a float32 decoder (transcripts independent of the batch) vs a bf16 decoder
    enhanced=${D}/fast_ssl_sdtw/enhanced_dev/spk1.scp
    decode noisy f32_decoder data/dev/wav.scp &
    decode sdtw f32_decoder "${enhanced}"
    wait
    ;;
kv)
    # the recipe's decoding ("decoder"'s f32_decoder) vs the same with bf16 cross-attention keys/values
    enhanced=${D}/fast_ssl_sdtw/enhanced_dev/spk1.scp
    decode noisy kv_bf16 data/dev/wav.scp &
    decode sdtw kv_bf16 "${enhanced}"
    wait
    ;;
joint)
    # stage 8 (enh_s2t: Whisper's token loss + the ssl_sdtw loss, 30 updates from the ssl_sdtw model of
    # "teacher") with the SSL term's weight 1, 0.1 and 0.01 (the config's weight replaced): the SSL loss
    # is about 15x the token loss at weight 1.  Dev WER of each joint model, decoding the noisy dev input as stage 8 does.
    for w in 1.0 0.1 0.01; do
        dir=${D}/joint_w${w}
        log "joint fine-tuning ${dir}"
        sed "s/^\( *weight:\) [0-9.]*.*$/\1 ${w}/" conf/tuning/train_enh_asr_gtcrn_ssl_sdtw_whisper.yaml > "${D}/conf/joint_w${w}.yaml"
        grep -q "^ *weight: ${w}$" "${D}/conf/joint_w${w}.yaml" || { log "no SSL loss weight in the joint config"; exit 1; }
        [ -f "${dir}/valid.loss.best.pth" ] || python -m espnet_pise.bin.enh_s2t_train --ngpu 0 --resume true \
            --output_dir "${dir}" --config "${D}/conf/joint_w${w}.yaml" \
            --token_type whisper_multilingual --bpemodel whisper_multilingual --token_list "${asr}/tokens.txt" \
            --init_param "${D}/fast_ssl_sdtw/valid.loss.best.pth::enh_model" \
            --train_data_path_and_name_and_type data/train/wav.scp,speech,sound \
            --train_data_path_and_name_and_type data/train/spk1.scp,speech_ref1,sound \
            --train_data_path_and_name_and_type data/train/text_whisper,text_spk1,text \
            --valid_data_path_and_name_and_type data/dev/wav.scp,speech,sound \
            --valid_data_path_and_name_and_type data/dev/spk1.scp,speech_ref1,sound \
            --valid_data_path_and_name_and_type data/dev/text_whisper,text_spk1,text \
            --train_shape_file exp/stats/train/speech_shape --valid_shape_file exp/stats/dev/speech_shape.valid \
            >> "${dir}.train.log" 2>&1
        decode "joint_w${w}" recipe data/dev/wav.scp "${dir}" --asr_model_file "${dir}/valid.loss.best.pth" --enh_s2t_task true
    done
    ;;
teacher)
    for loss in ssl_mse ssl_sdtw; do
        git -C "${PISE_ROOT}" show "${old}:egs/mini_noisy/pise1/conf/tuning/train_enh_gtcrn_${loss}_whisper.yaml" \
            > "${D}/conf/train_enh_gtcrn_${loss}_whisper_today.yaml"
        for setting in today fast; do
            dir=${D}/${setting}_${loss}
            config=$([ "${setting}" = today ] && echo "${D}/conf/train_enh_gtcrn_${loss}_whisper_today.yaml" \
                     || echo "conf/tuning/train_enh_gtcrn_${loss}_whisper.yaml")
            log "fine-tuning ${dir} (${config})"
            fine_tune "${dir}" "${config}"
            enhance_dev "${dir}" "${dir}/valid.loss.best.pth" "${dir}"
            decode "${setting}_${loss}" greedy "${dir}/enhanced_dev/spk1.scp"
        done
    done
    ;;
decoding)
    for c in greedy greedy_bf16 guard guard_bf16; do decode noisy "${c}" data/dev/wav.scp; done
    ;;
window)
    [ -f "${D}/asr_w8/config.yaml" ] || python -m espnet_pise.bin.whisper_asr_config --whisper_model exp/whisper/whisper_base.pt \
        --out_dir "${D}/asr_w8" --pad_to_s 8 > "${D}/asr_w8.log" 2>&1
    enhanced=${D}/fast_ssl_sdtw/enhanced_dev/spk1.scp
    { decode noisy_w8 recipe data/dev/wav.scp "${D}/asr_w8"; decode sdtw_w10 recipe "${enhanced}"; } &
    decode noisy_w10 recipe data/dev/wav.scp
    decode sdtw_w8 recipe "${enhanced}" "${D}/asr_w8"
    wait
    ;;
report)
    s=score_wer
    python -m espnet_pise.bin.compare_wer --out "${D}/teacher.md" "noisy=${D}/decode/noisy_greedy/${s}" \
        $(for x in today_ssl_mse fast_ssl_mse today_ssl_sdtw fast_ssl_sdtw; do echo "${x}=${D}/decode/${x}_greedy/${s}"; done)
    for loss in ssl_mse ssl_sdtw; do
        python -m espnet_pise.bin.compare_wer "today_${loss}=${D}/decode/today_${loss}_greedy/${s}" \
            "fast_${loss}=${D}/decode/fast_${loss}_greedy/${s}" >> "${D}/teacher.md"
    done
    python -m espnet_pise.bin.compare_wer --out "${D}/decoding.md" \
        $(for c in greedy greedy_bf16 guard guard_bf16; do echo "${c}=${D}/decode/noisy_${c}/${s}"; done)
    if ls -d "${D}"/decode/long_ssl_*_recipe > /dev/null 2>&1; then
        rm -f "${D}/updates.md"
        for loss in ${losses:-ssl_mse ssl_sdtw}; do
            python -m espnet_pise.bin.compare_wer "noisy=${D}/decode/noisy_f32_decoder/${s}" \
                $(for e in ${points:-3 9 15}; do echo "${loss}_$((e * 30))=${D}/decode/long_${loss}_ep${e}_recipe/${s}"; done) \
                >> "${D}/updates.md"
        done
    fi
    if [ -d "${D}/decode/sdtw_greedy_bf16" ]; then
        python -m espnet_pise.bin.compare_wer --out "${D}/guard.md" "no_guard=${D}/decode/noisy_greedy_bf16/${s}" \
            "guard=${D}/decode/noisy_w10_recipe/${s}" "guard_cr=${D}/decode/noisy_guard_cr/${s}"
        python -m espnet_pise.bin.compare_wer "no_guard=${D}/decode/sdtw_greedy_bf16/${s}" \
            "guard=${D}/decode/sdtw_w10_recipe/${s}" "guard_cr=${D}/decode/sdtw_guard_cr/${s}" >> "${D}/guard.md"
    fi
    if [ -d "${D}/decode/sdtw_f32_decoder" ]; then  # the bf16-decoder decodings: "window"'s 10 s ones
        python -m espnet_pise.bin.compare_wer --out "${D}/decoder.md" "bf16_decoder=${D}/decode/noisy_w10_recipe/${s}" \
            "f32_decoder=${D}/decode/noisy_f32_decoder/${s}"
        python -m espnet_pise.bin.compare_wer "bf16_decoder=${D}/decode/sdtw_w10_recipe/${s}" \
            "f32_decoder=${D}/decode/sdtw_f32_decoder/${s}" >> "${D}/decoder.md"
    fi
    if [ -d "${D}/decode/sdtw_kv_bf16" ]; then
        python -m espnet_pise.bin.compare_wer --out "${D}/kv.md" "f32_kv=${D}/decode/noisy_f32_decoder/${s}" \
            "bf16_kv=${D}/decode/noisy_kv_bf16/${s}"
        python -m espnet_pise.bin.compare_wer "f32_kv=${D}/decode/sdtw_f32_decoder/${s}" \
            "bf16_kv=${D}/decode/sdtw_kv_bf16/${s}" >> "${D}/kv.md"
    fi
    if [ -d "${D}/decode/joint_w0.01_recipe" ]; then
        python -m espnet_pise.bin.compare_wer --out "${D}/joint.md" "noisy=${D}/decode/noisy_f32_decoder/${s}" \
            "ssl_sdtw=${D}/decode/sdtw_f32_decoder/${s}" \
            $(for w in 1.0 0.1 0.01; do echo "joint_w${w}=${D}/decode/joint_w${w}_recipe/${s}"; done)
        python -m espnet_pise.bin.compare_wer \
            $(for w in 1.0 0.1 0.01; do echo "joint_w${w}=${D}/decode/joint_w${w}_recipe/${s}"; done) >> "${D}/joint.md"
    fi
    if [ -d "${D}/decode/sdtw_w8_recipe" ]; then
        python -m espnet_pise.bin.compare_wer --out "${D}/window.md" \
            $(for x in noisy_w10 noisy_w8; do echo "${x}=${D}/decode/${x}_recipe/${s}"; done)
        python -m espnet_pise.bin.compare_wer $(for x in sdtw_w10 sdtw_w8; do echo "${x}=${D}/decode/${x}_recipe/${s}"; done) \
            >> "${D}/window.md"
    fi
    ;;
*) log "usage: local/dev_choices.sh teacher|decoding|window|updates|guard|decoder|kv|joint|report"; exit 1 ;;
esac
log "done: ${what}"
