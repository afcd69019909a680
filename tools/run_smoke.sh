#!/usr/bin/env bash
# Smoke run of the whole SE fine-tuning path on a tiny synthetic data set (no downloads):
#   1. data: speech-like signals in white noise (espnet_pise.data.synthetic)
#   2. train a small Demucs through ESPnet with each SSL loss (random-weight tiny SSL teacher)
#   3. enhance the test set with each model (espnet_pise.bin.enh_inference)
#   4. score SI-SNR / STOI / PESQ with ESPnet's enh_scoring and write exp/smoke/RESULTS.md
# The SSL teacher is RANDOM, so the scores only show that the pipeline works.
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') [smoke] $*"; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${ROOT}/.venv/bin/python"
EXP="${EXP:-${ROOT}/exp/smoke}"
VARIANTS="${VARIANTS:-ssl_mse ssl_mse_pad ssl_sdtw}"
TINY_SSL='{"ssl_source": "torchaudio:custom", "arch_conf": {"extractor_conv_layer_config": [[32,10,5],[32,3,2],[32,3,2],[32,3,2],[32,3,2],[32,2,2],[32,2,2]], "encoder_embed_dim": 64, "encoder_pos_conv_kernel": 32, "encoder_pos_conv_groups": 4, "encoder_num_layers": 2, "encoder_num_heads": 4, "encoder_ff_interm_features": 128}}'
mkdir -p "${EXP}"

log "stage 1: data"
for split in train valid test; do
    seed=$([ ${split} = train ] && echo 0 || ([ ${split} = valid ] && echo 1 || echo 2))
    n=$([ ${split} = train ] && echo 12 || echo 4)
    [ -f "${EXP}/data/${split}/wav.scp" ] || "${PY}" -m espnet_pise.data.synthetic "${EXP}/data/${split}" --n_utts "${n}" --seed "${seed}" --min_len 8000 --max_len 16000
done
"${PY}" -m espnet_pise.data.validate "${EXP}"/data/{train,valid,test}

for variant in ${VARIANTS}; do
    dir="${EXP}/enh_demucs_${variant}"
    if [ ! -f "${dir}/valid.loss.best.pth" ]; then
        log "stage 2: train ${variant} (log: ${dir}/train.log)"
        mkdir -p "${dir}"
        "${PY}" - "${ROOT}/conf/tuning/smoke_demucs.yaml" "${dir}/conf.yaml" "${variant}" "${TINY_SSL}" <<'PY'
import json, sys, yaml
conf = yaml.safe_load(open(sys.argv[1]))
conf["criterions"] = [{"name": sys.argv[3], "conf": json.loads(sys.argv[4]), "wrapper": "fixed_order", "wrapper_conf": {"weight": 1.0}}]
yaml.safe_dump(conf, open(sys.argv[2], "w"))
PY
        "${PY}" -m espnet_pise.bin.enh_train --config "${dir}/conf.yaml" --output_dir "${dir}" --ngpu 0 --resume true \
            --train_data_path_and_name_and_type "${EXP}/data/train/wav.scp,speech_mix,sound" \
            --train_data_path_and_name_and_type "${EXP}/data/train/spk1.scp,speech_ref1,sound" \
            --train_shape_file "${EXP}/data/train/speech_mix_shape" \
            --valid_data_path_and_name_and_type "${EXP}/data/valid/wav.scp,speech_mix,sound" \
            --valid_data_path_and_name_and_type "${EXP}/data/valid/spk1.scp,speech_ref1,sound" \
            --valid_shape_file "${EXP}/data/valid/speech_mix_shape" > "${dir}/train.log" 2>&1
    fi
    if [ ! -f "${dir}/enhanced/spk1.scp" ]; then
        log "stage 3: enhance test with ${variant}"
        "${PY}" -m espnet_pise.bin.enh_inference --ngpu 0 --fs 16000 --batch_size 1 \
            --data_path_and_name_and_type "${EXP}/data/test/wav.scp,speech_mix,sound" \
            --train_config "${dir}/config.yaml" --model_file "${dir}/valid.loss.best.pth" \
            --output_dir "${dir}/enhanced" > "${dir}/enhance.log" 2>&1
    fi
    if [ ! -f "${dir}/scoring/STOI_spk1" ]; then
        log "stage 4: score ${variant}"
        "${PY}" -m espnet_pise.bin.enh_scoring --output_dir "${dir}/scoring" --use_pesq true --key_file "${EXP}/data/test/wav.scp" \
            --ref_scp "${EXP}/data/test/spk1.scp" --inf_scp "${dir}/enhanced/spk1.scp" > "${dir}/scoring.log" 2>&1
    fi
done
if [ ! -f "${EXP}/noisy/scoring/STOI_spk1" ]; then
    log "stage 4: score the unprocessed noisy input"
    "${PY}" -m espnet_pise.bin.enh_scoring --output_dir "${EXP}/noisy/scoring" --use_pesq true --key_file "${EXP}/data/test/wav.scp" \
        --ref_scp "${EXP}/data/test/spk1.scp" --inf_scp "${EXP}/data/test/wav.scp" > "${EXP}/noisy.scoring.log" 2>&1
fi

log "stage 5: report"
{
    echo "# Smoke run (synthetic data, random tiny SSL teacher: pipeline check, not a result)"
    echo
    echo "| system | SI-SNR (dB) | STOI (x100) | PESQ (wb) |"
    echo "|---|---|---|---|"
    for dir in "${EXP}/noisy" "${EXP}"/enh_demucs_*; do
        name=$(basename "${dir}")
        row="| ${name} |"
        for m in SI_SNR STOI PESQ_WB; do
            f="${dir}/scoring/${m}_spk1"  # per utterance: "uttid value"; report the mean
            row="${row} $([ -f "${f}" ] && awk '{s += $2; n++} END {printf "%.3f", s / n}' "${f}" || echo n/a) |"
        done
        echo "${row}"
    done
} > "${EXP}/RESULTS.md"
cat "${EXP}/RESULTS.md"
log "done: ${EXP}/RESULTS.md"
