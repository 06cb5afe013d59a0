#!/usr/bin/env bash
# Run the whole test suite: install what is missing, then
#   1. the release drift check (exercises/ generated from solutions/ and committed),
#   2. the unit and integration tests in tests/ (graders, math, release, workbooks, launch),
#   3. nbval on every lesson and solved workbook against its stored outputs, in strict mode
#      (a failing check() inside solutions/ raises, so a broken reference cannot hide).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_install.sh
ensure_installed
PY="$VENV/bin/python"
export PYTHONHASHSEED=0  # (no MPLBACKEND: notebooks need the inline backend for their stored figures)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export COURSE_PROGRESS_FILE="$scratch/progress.json"
workers="${COURSE_TEST_WORKERS:-2}"

echo "== 1/3 release check"
"$PY" -m course_utils release --check

echo "== 2/3 tests/"
"$PY" -m pytest tests -q -p no:cacheprovider -n "$workers" --dist loadfile "$@"

echo "== 3/3 nbval: notebooks/ and solutions/ (strict)"
COURSE_STRICT=1 "$PY" -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
    --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 \
    -n "$workers" --dist loadscope notebooks solutions
