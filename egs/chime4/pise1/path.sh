# Put the project's virtual environment first (tools/install.sh creates it).
PISE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
export PATH="${PISE_VENV:-${PISE_ROOT}/.venv}/bin:${PATH}"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
export LC_ALL=C  # Kaldi lists are sorted bytewise
