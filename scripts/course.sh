#!/usr/bin/env bash
# Open the course: install what is missing (once), then start JupyterLab on the first lesson.
# Extra arguments go to JupyterLab, e.g. `scripts/course.sh --no-browser --port 8890`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_install.sh
ensure_installed
extra=()
if [ "$(id -u)" -eq 0 ]; then
    # a container, a cloud VM or a classroom image often runs everything as root, which JupyterLab refuses
    echo "Running as root: adding --allow-root (JupyterLab refuses to start as root without it)."
    extra+=(--allow-root)
fi
# Trust the course's own notebooks (a signature in Jupyter's local database; the files are not
# changed). JupyterLab renders the saved sliders and HTML of a trusted notebook as soon as it opens;
# an untrusted one shows them as plain text ("HBox(children=...") until its cells are run again.
"$VENV/bin/jupyter" trust notebooks/*.ipynb solutions/*.ipynb exercises/*.ipynb >/dev/null 2>&1 ||
    echo "(could not mark the notebooks as trusted: sliders appear once you run their cells)"
echo "Starting JupyterLab on notebooks/00_setup.ipynb. Stop it with Ctrl+C (twice)."
# default_url: the link JupyterLab prints (remote machine, --no-browser) and the bare address open lesson 00
exec "$VENV/bin/jupyter" lab --ServerApp.root_dir="$PWD" --LabApp.default_url=/lab/tree/notebooks/00_setup.ipynb \
    notebooks/00_setup.ipynb ${extra[@]+"${extra[@]}"} "$@"
