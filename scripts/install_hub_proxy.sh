#!/usr/bin/env bash
# JupyterHub's proxy, configurable-http-proxy, from the npm registry (pinned), into a cache folder:
#   bash scripts/install_hub_proxy.sh [DIR]      (default DIR: ~/.cache/course-utils/chp)
# Prints the path of the installed command. Needs node and npm (Debian: apt-get install nodejs npm).
# Used by the classroom rehearsal (tests/test_hub.py, scripts/classroom_hub_config.py) and .ci/run;
# on a real hub, install it the same way or with `npm install -g configurable-http-proxy@5.3.0`.
set -euo pipefail
VERSION=5.3.0
DIR="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/course-utils/chp}"
BIN="$DIR/node_modules/.bin/configurable-http-proxy"
if ! [ -x "$BIN" ] || ! "$BIN" --version 2>/dev/null | grep -qx "$VERSION"; then
    command -v npm >/dev/null || { echo "npm is missing (Debian: apt-get install nodejs npm)" >&2; exit 1; }
    mkdir -p "$DIR"
    npm install --prefix "$DIR" --no-audit --no-fund --silent "configurable-http-proxy@$VERSION" >&2
fi
echo "$BIN"
