#!/usr/bin/env bash
# Run the whole test suite: install what is missing, then
#   1. the release drift check (exercises/ generated from solutions/ and committed),
#   2. the unit and integration tests in tests/ (graders, math, release, workbooks, launch),
#   3. nbval on every lesson and solved workbook against its stored outputs, in strict mode
#      (a failing check() inside solutions/ raises, so a broken reference cannot hide),
#   4. "another machine": the numerical and learning tests and nbval again, with torch's
#      portable kernels and MKL's compatible code path (ATEN_CPU_CAPABILITY=default
#      MKL_CBWR=COMPATIBLE). Float results then round differently, as on a learner's laptop;
#      every claim the course checks must hold on both paths. Skip with COURSE_ONE_FP_PATH=1.
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

echo "== 1/4 release check"
"$PY" -m course_utils release --check

echo "== 2/4 tests/"
"$PY" -m pytest tests -q -p no:cacheprovider -n "$workers" --dist loadfile "$@"

nbval() {
    COURSE_STRICT=1 "$PY" -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
        --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 \
        -n "$workers" --dist loadscope notebooks solutions
}

echo "== 3/4 nbval: notebooks/ and solutions/ (strict)"
nbval

if [ "${COURSE_ONE_FP_PATH:-0}" = 1 ]; then
    echo "== 4/4 skipped (COURSE_ONE_FP_PATH=1)"
    exit 0
fi
echo "== 4/4 another floating-point path: ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE"
export ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE
"$PY" -c 'import torch; print("torch kernels:", torch.backends.cpu.get_cpu_capability())'
"$PY" -m pytest tests -q -p no:cacheprovider -n "$workers" --dist loadfile -m "learning or numerics" "$@"
nbval
