#!/bin/sh
# Prints the interpreter the Makefile uses by default: a Python 3.10 that runs (SCF's runtime), else python3.
# pyenv's shim named python3.10 exists even when 3.10 is not the selected version, and then fails: run it.
for candidate in "${PYTHON310:-}" python3.10 "$(pyenv root 2>/dev/null)"/versions/3.10.*/bin/python3.10 \
    "$HOME"/.pyenv/versions/3.10.*/bin/python3.10; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
        echo "$candidate"
        exit 0
    fi
done
echo python3
