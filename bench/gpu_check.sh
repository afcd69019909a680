#!/usr/bin/env bash
# The GPU check, in timed parts: soft-DTW correctness on CUDA, soft-DTW time / memory against the
# CUDA peers, half precision and autocast, a timed SE training step per SSL loss (HuBERT-Base teacher,
# Demucs master64), and egs/mini_noisy/pise1/run.sh --ngpu 1 stage by stage.  Each part runs under its
# own time limit inside a total budget and writes its results as it goes; a part that fails or times
# out is reported and the next one runs.
#
#   here, once (needs PyPI):  bash bench/gpu_wheels.sh          # wheels for the device -> .whl/
#   on the GPU machine:       bash bench/gpu_check.sh OUT     # with .whl/ copied there; allow 570 s
#   here, without a GPU:      bash bench/gpu_check.sh --dry-run /tmp/gpu_check_dry   # tiny CPU shapes
#
# Options: --dry-run (CPU, tiny shapes, the recipe is only checked, not run), --budget SECONDS (total,
# default 510), --parts LIST (default 1,2,3,4,5; 1 correctness, 2 soft-DTW table, 3 half precision,
# 4 training step, 5 recipe).  Environment: PY (python, default python3; .venv/bin/python in a dry run),
# PISE_GPU_SITE (where the wheels are installed, default /tmp/site), PEER_SRC (a checkout of
# softdtw-cuda-torch to put on PYTHONPATH: that peer is not on PyPI), PISE_CORPUS (recipe corpus, tiny).
# Outputs in OUT (8 files at most): gpu_check.log (environment, part
# times, skips), cuda_correctness.txt, soft_dtw_cuda.txt, soft_dtw_cuda_b32.json, soft_dtw_cuda.json,
# sdtw_half.txt, loss_step_cuda.txt, recipe_gpu.txt.
set -uo pipefail  # no -e: every part reports its own failure, and the next part still runs

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
dry=false
budget=510
parts=1,2,3,4,5
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry=true ;;
        --budget) [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || { echo "--budget needs a number of seconds" >&2; exit 2; }
                  budget=$2; shift ;;
        --parts) [ $# -ge 2 ] && [[ "$2" =~ ^[1-5](,[1-5])*$ ]] || { echo "--parts needs a list like 1,2,5 (parts 1-5)" >&2; exit 2; }
                 parts=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
        *) [ -z "${out}" ] || { echo "one output folder only (got ${out} and $1)" >&2; exit 2; }; out=$1 ;;
    esac
    shift
done
[ -n "${out}" ] || { echo "usage: bash bench/gpu_check.sh [--dry-run] [--budget S] [--parts 1,2,3,4,5] OUT_DIR" >&2; exit 2; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=${PWD}
mkdir -p "${out}"
out=$(cd "${out}" && pwd)
summary=${out}/gpu_check.log
: > "${summary}"
log() { echo "$(date -u '+%Y-%m-%dT%H:%M:%S') [gpu_check] $*" | tee -a "${summary}"; }
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
want() { [[ ",${parts}," == *",$1,"* ]]; }

if ${dry}; then
    PY=${PY:-${root}/.venv/bin/python}
    dev=cpu
else
    PY=${PY:-python3}
    dev=cuda
fi
export PYTHONUNBUFFERED=1

# run_part NAME LIMIT_S OUTFILE CMD...: CMD under min(LIMIT_S, what is left of the budget), output
# appended to OUTFILE as it comes
run_part() {
    local name=$1 limit=$2 file=$3; shift 3
    local rest; rest=$(left)
    [ "${rest}" -lt "${limit}" ] && limit=${rest}
    if [ "${limit}" -lt 10 ]; then log "${name}: SKIPPED, budget spent (${rest} s left)"; return 1; fi
    log "${name}: start (limit ${limit} s) -> ${file##*/}"
    local t0 rc; t0=$(date +%s)
    timeout -k 10 "${limit}" "$@" >> "${file}" 2>&1
    rc=$?
    if [ ${rc} -eq 124 ] || [ ${rc} -eq 137 ]; then
        log "${name}: TIMED OUT after $(( $(date +%s) - t0 )) s (limit ${limit} s); partial output kept"
    else
        log "${name}: rc=${rc} in $(( $(date +%s) - t0 )) s"
    fi
    return ${rc}
}

# ---------------------------------------------------------------- environment and carried wheels
log "mode: $(${dry} && echo "dry run (CPU, tiny shapes)" || echo GPU), budget ${budget} s, parts ${parts}, out ${out}"
log "date: $(date -u '+%Y-%m-%d %H:%M UTC'), git: $(git -C "${root}" rev-parse --short HEAD 2>/dev/null || echo "no git")"
site=${PISE_GPU_SITE:-/tmp/site}  # where the carried wheels are installed
if ! ${dry}; then
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
        | sed 's/^/gpu: /' | tee -a "${summary}"
    if [ -d .whl ]; then
        # pip's own check of the wheel set is skipped (--no-deps): the set is the one gpu_wheels.sh chose
        if "${PY}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "${site}" \
                .whl/*.whl >> "${summary}" 2>&1; then
            export PYTHONPATH=${site}
            log "installed $(ls .whl | wc -l) carried wheels into ${site}"
        else
            log "WARNING: installing the carried wheels failed (see above); parts needing espnet will fail"
        fi
    else
        log "WARNING: no .whl/ carried (bash bench/gpu_wheels.sh here, then carry .whl): pysdtw, espnet missing"
    fi
fi
export PYTHONPATH="${root}${PYTHONPATH:+:${PYTHONPATH}}"
[ -n "${PEER_SRC:-}" ] && export PYTHONPATH="${PEER_SRC}:${PYTHONPATH}"
"${PY}" - <<'PY' 2>&1 | tee -a "${summary}"
import importlib, sys
import torch
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"cuda available {torch.cuda.is_available()}" + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
for name in ("triton", "numba", "numpy", "pysdtw", "espnet", "softdtw_cuda"):
    try:
        mod = importlib.import_module(name)
        print(f"{name} {getattr(mod, '__version__', '(no version)')}")
    except Exception as e:
        note = " -- softdtw-cuda-torch is not on PyPI (softdtw-cuda-torch / sdtw-cuda-torch / sdtw-cuda, 2026-12-01): " \
               "compared with pysdtw only" if name == "softdtw_cuda" else ""
        print(f"{name}: not importable ({type(e).__name__}: {str(e)[:80]}){note}")
PY
if ! ${dry} && ! "${PY}" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    log "ERROR: no CUDA device visible to ${PY}; use --dry-run on a machine without a GPU"
    exit 1
fi

# ---------------------------------------------------------------- 1. correctness against the CPU path
if want 1; then
    if ${dry}; then
        # the Triton kernels themselves, on CPU tensors in Triton's interpreter
        run_part "1a Triton interpreter test" 300 "${out}/cuda_correctness.txt" \
            env TRITON_INTERPRET=1 "${PY}" -m pytest -q -p no:cacheprovider \
            "tests/losses/test_soft_dtw.py::test_cuda_kernels_match_cpu_in_triton_interpreter"
        run_part "1b correctness script" 60 "${out}/cuda_correctness.txt" "${PY}" bench/cuda_check.py --device cpu --small
    else
        run_part "1 correctness (CUDA vs CPU float64)" 90 "${out}/cuda_correctness.txt" "${PY}" bench/cuda_check.py
    fi
fi

# ---------------------------------------------------------------- 2. soft-DTW against the peers
if want 2; then
    if ${dry}; then
        impls=pise,pysdtw
        b32=(--batch 2 --shapes 24x24x8)
        b8=(--batch 2 --shapes 20x20x16,40x40x16,40x40x16b5)
        timing=(--repeats 1 --min_time 0)
    else
        impls=pise,pysdtw,sdtw_cuda,sdtw_cuda_fused
        b32=(--batch 32 --shapes 512x512x64)
        b8=(--batch 8 --shapes 250x250x768,1000x1000x768,2000x2000x768,250x250x768b50,1000x1000x768b50,2000x2000x768b50)
        timing=(--repeats 5 --min_time 1 --max_run_s 3)
    fi
    # float32 inputs; values of all implementations checked to agree within 1e-4
    # per-implementation worker limits sum to less than the part's limit, so the table is always printed
    run_part "2a soft-DTW B=32 N=M=512 D=64" 80 "${out}/soft_dtw_cuda.txt" "${PY}" bench/soft_dtw.py --device "${dev}" \
        --impls "${impls}" "${b32[@]}" "${timing[@]}" --worker_timeout 18 --json_out "${out}/soft_dtw_cuda_b32.json"
    run_part "2b soft-DTW B=8 D=768" 170 "${out}/soft_dtw_cuda.txt" "${PY}" bench/soft_dtw.py --device "${dev}" \
        --impls "${impls}" "${b8[@]}" "${timing[@]}" --worker_timeout 40 --json_out "${out}/soft_dtw_cuda.json"
fi

# ---------------------------------------------------------------- 3. half precision / autocast
if want 3; then
    if ${dry}; then
        run_part "3 half precision" 120 "${out}/sdtw_half.txt" "${PY}" bench/sdtw_half.py --device cpu \
            --shapes 2:20x24x8,2:30x30x8b3
    else
        run_part "3 half precision" 60 "${out}/sdtw_half.txt" "${PY}" bench/sdtw_half.py --device cuda
    fi
fi

# ---------------------------------------------------------------- 4. one SE training step per loss
if want 4; then
    if ${dry}; then
        tiny='{"extractor_conv_layer_config": [[16, 10, 5], [16, 3, 2], [16, 3, 2], [16, 3, 2], [16, 3, 2], [16, 2, 2], [16, 2, 2]], "encoder_embed_dim": 32, "encoder_pos_conv_kernel": 16, "encoder_pos_conv_groups": 4, "encoder_num_layers": 2, "encoder_num_heads": 4, "encoder_ff_interm_features": 64}'
        step=(--device cpu --batch 1 --seconds 0.5 --repeats 1 --ssl_source torchaudio:custom --arch_conf "${tiny}")
    else
        step=(--device cuda --batch 8 --seconds 4 --repeats 10)
    fi
    run_part "4 SE training step (HuBERT-Base teacher, Demucs master64)" 120 "${out}/loss_step_cuda.txt" \
        "${PY}" bench/loss_step.py "${step[@]}" --se master64 --losses ssl_mse,ssl_mse_pad,ssl_sdtw
fi

# ---------------------------------------------------------------- 5. the recipe on the GPU
if want 5; then
    recipe_out=${out}/recipe_gpu.txt
    recipe=egs/mini_noisy/pise1
    corpus=${PISE_CORPUS:-tiny}  # the default corpus needs ~1 h of CPU for stage 1 alone
    # the recipe calls `python` from ${PISE_VENV}/bin: on the device a wrapper of ${PY} (no venv there)
    if ${dry}; then
        venv=$(cd "$(dirname "$(command -v "${PY}")")/.." && pwd)
    else
        venv=/tmp/pise_venv
        mkdir -p "${venv}/bin"
        printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v "${PY}")" > "${venv}/bin/python"
        chmod +x "${venv}/bin/python"
    fi
    # what the stages need: stage 1 the synthesizers, sox and megaglest's recordings (or a carried data/),
    # the others ESPnet's training and inference modules and the scoring packages
    # (ESPnet prints notes on stdout at import: only the MISSING lines count)
    missing=$(cd "${recipe}" && PISE_VENV=${venv} "${venv}/bin/python" - 2>>"${recipe_out}" <<'PY' | sed -n 's/^MISSING: //p'
import importlib, os
miss = []
if not os.path.isdir("data"):
    from espnet_pise.data.voices import VOICES, check_programs
    from espnet_pise.data.noise import MEGAGLEST_TILESETS
    try:
        check_programs(VOICES.values())
    except RuntimeError as e:
        miss.append(f"stage 1: {e}")
    if not MEGAGLEST_TILESETS.is_dir():
        miss.append(f"stage 1: {MEGAGLEST_TILESETS} (Debian megaglest-data)")
for mod in ("espnet2.bin.hubert_train", "espnet2.bin.asr_train", "espnet2.bin.enh_s2t_train", "espnet2.bin.enh_inference",
            "sentencepiece", "kaldiio", "jiwer", "pesq", "pystoi", "soundfile", "matplotlib", "tensorboard"):
    try:
        importlib.import_module(mod)
    except Exception as e:
        miss.append(f"python module {mod} ({type(e).__name__}: {str(e)[:60]})")
print("".join(f"MISSING: {m}\n" for m in miss), end="")
PY
)
    if [ -n "${missing}" ]; then
        { echo "recipe ${recipe} (--corpus_size ${corpus} --ngpu 1) NOT RUN: missing on this machine:"; echo "${missing}"; } \
            | tee -a "${recipe_out}" >> "${summary}"
        log "5 recipe: SKIPPED (missing: see recipe_gpu.txt)"
    elif ${dry}; then
        bash "${recipe}/run.sh" --help > /dev/null 2>&1; rc=$?
        log "5 recipe: dry run: prerequisites present here; run.sh --help rc=${rc}; stages not run (no recipes on the CPU machine)"
        echo "would run, stage by stage: PISE_VENV=${venv} bash ${recipe}/run.sh --corpus_size ${corpus} --ngpu 1 --nj 8 --stage S --stop_stage S" >> "${recipe_out}"
    else
        echo "| stage | seconds | rc |" >> "${recipe_out}"; echo "|---|---|---|" >> "${recipe_out}"
        for st in 1 2 3 4 5 6 7 8 9 10; do
            t0=$(date +%s)
            if ! run_part "5 recipe stage ${st}" 600 "${out}/recipe_stage.log" \
                    env PISE_VENV="${venv}" OMP_NUM_THREADS=4 bash "${recipe}/run.sh" --corpus_size "${corpus}" \
                    --ngpu 1 --nj 8 --stage "${st}" --stop_stage "${st}"; then
                echo "| ${st} | $(( $(date +%s) - t0 )) | failed or out of time |" >> "${recipe_out}"
                { echo; echo "--- last lines of the stage output:"; tail -n 30 "${out}/recipe_stage.log"
                  newest=$(find "${recipe}/exp" -name '*.log' -newermt "@${t0}" -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -1 | cut -d' ' -f2)
                  [ -n "${newest}" ] && { echo "--- ${newest}:"; tail -n 30 "${newest}"; }; } >> "${recipe_out}"
                break
            fi
            echo "| ${st} | $(( $(date +%s) - t0 )) | 0 |" >> "${recipe_out}"
        done
        rm -f "${out}/recipe_stage.log"  # its failure tail is in recipe_gpu.txt (keeps OUT at 8 files)
    fi
fi
log "done in $(( $(date +%s) - start )) s"
