# shellcheck shell=bash
# pytools (install-only): the Python that runs the project's pytest suites, with their
# dependencies (PYTOOLS_REQUIREMENTS in versions.sh), in a virtualenv keyed by them.

PYTOOLS_VENV=$CACHE_DIR/pytools-venv-$(venv_key "${PYTOOLS_REQUIREMENTS[@]}")

pytools_installed() { [[ -f $PYTOOLS_VENV/.baton-complete ]]; }

svc_pytools_install() {
    pytools_installed && return 0
    with_cache_lock pytools_install
}

pytools_install() {
    pytools_installed && return 0
    venv_create "$PYTOOLS_VENV" pytools "${PYTOOLS_REQUIREMENTS[@]}"
    touch "$PYTOOLS_VENV/.baton-complete"
}

svc_pytools_status() {
    if pytools_installed; then
        echo "installed  $PYTOOLS_VENV"
    else
        echo "missing    (run: scripts/stack install)"
        return 1
    fi
}

svc_pytools_env() {
    echo "export BATON_PYTHON_TOOLS=$PYTOOLS_VENV/bin/python"
}
