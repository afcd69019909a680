#!/usr/bin/env bash
# Source after defining defaults: `--name value` (or --name=value) sets the shell variable
# `name` (dashes read as underscores) if it is already defined, else it is an error.
# Positional arguments are left in "$@".  `--help` prints the options and their values.
__pise_positional=()
while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h)
            echo "usage: $0 [options]; options (current values):" >&2
            grep -E '^[a-z_]+=' "$0" | sed 's/^/  --/' >&2
            exit 0 ;;
        --*=*) __pise_name="${1%%=*}"; __pise_value="${1#*=}"; shift ;;
        --*)
            __pise_name="$1"
            if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
            __pise_value="$2"; shift 2 ;;
        *) __pise_positional+=("$1"); shift; continue ;;
    esac
    __pise_name="${__pise_name#--}"; __pise_name="${__pise_name//-/_}"
    if [ -z "${!__pise_name+x}" ]; then echo "$0: unknown option --${__pise_name}" >&2; exit 1; fi
    printf -v "${__pise_name}" '%s' "${__pise_value}"
done
set -- "${__pise_positional[@]+"${__pise_positional[@]}"}"
unset __pise_name __pise_value __pise_positional
