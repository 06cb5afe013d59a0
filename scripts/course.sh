#!/usr/bin/env bash
# Open the course: install what is missing (once), then start JupyterLab on the first lesson.
# Extra arguments go to JupyterLab, e.g. `scripts/course.sh --no-browser --port 8890`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_install.sh
ensure_installed
echo "Starting JupyterLab. Stop it with Ctrl+C (twice)."
exec "$VENV/bin/jupyter" lab --ServerApp.root_dir="$PWD" notebooks/00_setup.ipynb "$@"
