#!/usr/bin/env bash
# Run the whole test suite: install what is missing, then
#   1. the release drift check (exercises/ generated from solutions/ and committed),
#   2. the unit and integration tests in tests/ (graders, math, release, workbooks, the sandbox),
#   3. the system tests, once: the course on a real JupyterHub, JupyterLab and the website in
#      headless Chromium, workbook 01 in a bare "hosted" kernel, the launch command (marker `system`),
#   4. nbval on every lesson and solved workbook against its stored outputs, in strict mode
#      (a failing check() inside solutions/ raises, so a broken reference cannot hide),
#   5. "another machine": what can round differently there, again, with torch's portable kernels
#      and MKL's compatible code path (ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE), as on a
#      learner's laptop: every claim the course checks must hold on both paths (see stage 5 for
#      what is rerun and why). Skip with COURSE_ONE_FP_PATH=1.
# Each stage prints its time. Extra arguments go to the pytest of stage 2 (e.g. -x, -k).
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
# A file is a unit of work; the files are sent longest first (tests/conftest.py orders them by the
# measured seconds of their tests), not by their number of tests (xdist's default), so that the last
# to finish are short ones. (--dist loadgroup would split long files, but its xdist_group marks are
# not honoured with pytest 9.2 and xdist 3.8 here: tests marked alike still ran on both workers.)
xdist=(-n "$workers" --dist loadfile --no-loadscope-reorder)

stage_name="" stage_started=$SECONDS
stage() {  # stage "N/5 title": say how long the previous stage took, then start the next
    if [ -n "$stage_name" ]; then echo "   (${stage_name%% *} took $((SECONDS - stage_started)) s)"; fi
    stage_name="$1" stage_started=$SECONDS
    echo "== $1"
}

stage "1/5 release check"
"$PY" -m course_utils release --check

stage "2/5 tests/"
"$PY" -m pytest tests -q -p no:cacheprovider "${xdist[@]}" -m "not system" "$@"

stage "3/5 system tests (hub, JupyterLab, website, hosted kernel), once"
"$PY" -m pytest tests -q -p no:cacheprovider "${xdist[@]}" -m system

nbval() {  # nbval NOTEBOOK...: compare every cell's output with the stored one, strict; one notebook
    # is one unit of work, and the longest are sent first (by the cell times each notebook stored
    # when it was last executed), so that the last to finish are short ones
    local ordered
    ordered=$("$PY" -c '
import json, sys
from datetime import datetime
def seconds(path):
    total = 0.0
    for cell in json.load(open(path, encoding="utf-8"))["cells"]:
        t = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in t and "shell.execute_reply" in t:
            total += (datetime.fromisoformat(t["shell.execute_reply"]) - datetime.fromisoformat(t["iopub.execute_input"])).total_seconds()
    return total
print("\n".join(sorted(sys.argv[1:], key=seconds, reverse=True)))' "$@")
    # shellcheck disable=SC2086  (notebook paths hold no spaces)
    COURSE_STRICT=1 "$PY" -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
        --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 \
        -n "$workers" --dist loadscope --no-loadscope-reorder $ordered
}

stage "4/5 nbval: notebooks/ and solutions/ (strict)"
nbval notebooks/*.ipynb solutions/*.ipynb

if [ "${COURSE_ONE_FP_PATH:-0}" = 1 ]; then
    stage "5/5 skipped (COURSE_ONE_FP_PATH=1)"
    exit 0
fi
stage "5/5 another floating-point path: ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE"
export ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE
"$PY" -c 'import torch; print("torch kernels:", torch.backends.cpu.get_cpu_capability())'
# What can differ on another float path is what passes through torch's vectorised kernels or MKL:
# - the tests marked `learning` (an agent trained: its claims must hold on any CPU) or `numerics`
#   (floating-point math compared with a tolerance); the other tests compare exact things (texts,
#   files, graded verdicts on integer or exactly representable cases, the sandbox, the servers);
# - every lesson and solved workbook whose outputs or claims come from torch's float math: all but
#   chapter 00, whose outputs are Gymnasium's CartPole (Python floats), NumPy and sums of 1.0 in a
#   float32 tensor (exact): neither its lesson nor its solved workbook can print anything else here.
"$PY" -m pytest tests -q -p no:cacheprovider "${xdist[@]}" -m "(learning or numerics) and not system"
nbval $(ls notebooks/*.ipynb solutions/*.ipynb | grep -v '/00_setup\.ipynb$')
stage "done"
