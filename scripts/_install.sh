# Sourced by scripts/course.sh and scripts/test.sh: create the virtual environment and install
# the course into it, once. A stamp file named after pyproject.toml's hash makes reruns instant
# and reinstalls only when the dependencies change.
VENV="${COURSE_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

ensure_installed() {
    local hash stamp
    hash=$(sha256sum pyproject.toml | cut -c1-12)
    stamp="$VENV/.course-installed-$hash"
    if [ -f "$stamp" ]; then
        ensure_widget_state_saved  # also for a .venv installed before this step existed
        return 0
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        echo "The course needs Python 3.10 or newer ('$PYTHON' is older or missing). Set PYTHON=/path/to/python3.11." >&2
        exit 1
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        echo "Creating the virtual environment $VENV ..."
        "$PYTHON" -m venv "$VENV"
    fi
    echo "Installing the course and its dependencies into $VENV (once; a few minutes) ..."
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test,site]"
    # The course website's JavaScript (MathJax & co.): pinned npm tarballs, integrity-checked, into
    # a cache, so that building the site (make site) never downloads. Best effort: without npm the
    # site cannot be built, and its test fetches again or skips with the reason.
    "$VENV/bin/python" -m course_utils.site --fetch-assets >/dev/null ||
        echo "warning: could not fetch the website's JavaScript (npm registry); make site will say what to do" >&2
    rm -f "$VENV"/.course-installed-*
    touch "$stamp"
    ensure_widget_state_saved
}

# JupyterLab saves widget state in notebooks (its overrides.json) and its server keeps the state of
# sliders a saved notebook still shows (a server extension), so that a lesson run and saved reopens
# with its sliders. Instant and idempotent: runs on every start, installed or not.
ensure_widget_state_saved() {
    "$VENV/bin/python" -m course_utils.saved_widgets ||
        echo "(sliders of a saved lesson may need their cells run again)" >&2
}
