# real_corpus.sh: sourced by the run.sh of the real-corpus recipes (egs/{librispeech_demand,
# voicebank_demand,chime4}/pise1): the settings they share and the parsing of their own options.

# GPU settings of the paper's setup: one GPU, 8 jobs, validation on all of dev, the full-size
# configs, 300 BPE units
real_corpus_pise_opts=(--ngpu 1 --nj 8 --n_valid 0 --conf_suffix "" --nbpe 300)

# parse_recipe_opts "REQUIRED NAMES" "OPTIONAL NAMES" ARGS...: every `--NAME VALUE` whose NAME is
# listed sets the shell variable NAME; all other arguments are kept, in order, in pise_args (for
# pise.sh).  A required option left empty is an error pointing at the script's header.
parse_recipe_opts() {
    local required=$1 optional=$2 name
    shift 2
    for name in ${required} ${optional}; do printf -v "${name}" '%s' ""; done
    pise_args=()
    while [ $# -gt 0 ]; do
        name=${1#--}
        if [ "${name}" != "$1" ] && [[ " ${required} ${optional} " == *" ${name} "* ]]; then
            [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 1; }
            printf -v "${name}" '%s' "$2"
            shift 2
        else
            pise_args+=("$1")
            shift
        fi
    done
    for name in ${required}; do
        [ -n "${!name}" ] || { echo "$0: --${name} is required (see the header of this script)" >&2; exit 1; }
    done
}
