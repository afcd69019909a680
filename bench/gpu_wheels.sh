#!/usr/bin/env bash
# Download, HERE (a machine that reaches PyPI), the wheels that bench/gpu_check.sh installs on the
# device machine, which has Python 3.12, torch, triton, numba, ... but no internet and no espnet.
# They go to .whl/ (kept out of git via .git/info/exclude), to be copied with the checkout to the
# GPU machine; gpu_check.sh installs them into /tmp/site with pip --no-index --no-deps.
#   bash bench/gpu_wheels.sh            # bench wheels (required) + recipe wheels (best effort)
#   bash bench/gpu_wheels.sh --bench    # bench wheels only
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') [gpu_wheels] $*"; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."

with_recipe=true
case "${1:-}" in
    --bench) with_recipe=false ;;
    "") ;;
    *) echo "usage: $0 [--bench]" >&2; exit 1 ;;
esac

# what `import espnet_pise.losses.ssl_losses, espnet_pise.enh.demucs, pysdtw` loads beyond the
# device image's packages (the versions of .venv, where the project is tested)
BENCH=(pysdtw==0.0.5 typeguard==4.6.1 espnet==202511 ci-sdr==0.0.2 fast-bss-eval==0.1.3 torch-complex==0.4.4
       librosa==0.11.0 audioread==3.1.0 soxr==1.1.0 soundfile==0.14.0 pooch==1.9.0 platformdirs==4.14.9
       decorator==5.3.1)
# further needs of the recipe's python steps (ESPnet training/inference, scoring)
RECIPE=(ConfigArgParse==1.9.0 humanfriendly==10.0 kaldiio==2.18.1 jiwer==4.0.0 RapidFuzz==3.14.6 pesq==0.0.4
        pystoi==0.4.1 mir_eval==0.8.2 espnet-s3prl==2026.5.14)

PIP="${PIP:-.venv/bin/pip}"
[ -x "${PIP}" ] || PIP="python3 -m pip"
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.whl/' >> .git/info/exclude; }
mkdir -p .whl
fetch() {  # fetch NAME==VERSION: one cp312 x86-64 wheel (pure-Python or manylinux)
    ${PIP} download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "$1" 2>/dev/null \
        && return 0
    # only an sdist on PyPI (ci-sdr, pesq): build it here; kept only if pure Python (py3-none-any)
    local tmp; tmp=$(mktemp -d)
    ${PIP} wheel -q --no-deps -w "${tmp}" "$1" >/dev/null 2>&1 || { rm -rf "${tmp}"; return 1; }
    if ls "${tmp}"/*-py3-none-any.whl >/dev/null 2>&1; then mv "${tmp}"/*.whl .whl/; rm -rf "${tmp}"; return 0; fi
    log "$1: the wheel built here is not pure Python ($(ls "${tmp}")), not usable on Python 3.12"
    rm -rf "${tmp}"; return 1
}
for w in "${BENCH[@]}"; do
    fetch "${w}" || { log "ERROR: no cp312 wheel for ${w} (needed by the benchmarks)"; exit 1; }
done
missing=()
if ${with_recipe}; then
    for w in "${RECIPE[@]}"; do fetch "${w}" 2>/dev/null || missing+=("${w}"); done
fi
log "$(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1) in .whl/"
[ ${#missing[@]} -eq 0 ] || log "no cp312 wheel (the recipe part will report them missing): ${missing[*]}"
