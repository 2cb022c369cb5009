#!/usr/bin/env bash
# Makes (or reuses) the Python venv the tests run against and prints its
# python's path on stdout. The venv lives in a cache outside the clone
# (${ACTMAP_CACHE:-~/.cache/actmap}/venv), so a second run, or a fresh clone
# on the same machine, does not download the packages again; it is
# reinstalled only when .ci/requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${ACTMAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/actmap}"
venv="$cache/venv"
req=".ci/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "pyenv: installing $req into $venv" >&2
    mkdir -p "$cache"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
    echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
