# shellcheck shell=bash
# browser (install-only): Debian's headless Chromium, which the web console's tests drive over
# the DevTools protocol, with Noto CJK so that Korean text renders in screenshots.

BROWSER_BIN=/usr/bin/chromium

svc_browser_install() {
    apt_install chromium fonts-noto-cjk fontconfig
}

svc_browser_status() {
    if [[ -x $BROWSER_BIN ]]; then
        echo "installed  $($BROWSER_BIN --version 2>/dev/null | head -1)"
    else
        echo "missing    (run: scripts/stack install)"
        return 1
    fi
}

svc_browser_env() {
    echo "export BATON_CHROMIUM=$BROWSER_BIN"
}
