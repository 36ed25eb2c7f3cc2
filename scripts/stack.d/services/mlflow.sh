# shellcheck shell=bash
# MLflow: a tracking server on 127.0.0.1 that Baton's mirror role writes to. SQLite
# backend store and an artifacts folder in the state dir. `mlflow server` forks helper
# processes (uvicorn workers, job runners), so it runs in its own process group
# (daemon_start) and `down` signals the whole group.

MLFLOW_PORT=${BATON_MLFLOW_PORT:-5055}
# The venv is keyed by a hash of the requirements: change them and a fresh venv is built beside the old.
MLFLOW_VENV=$CACHE_DIR/mlflow-venv-$(venv_key "${MLFLOW_REQUIREMENTS[@]}")
MLFLOW_START_TIMEOUT=${BATON_MLFLOW_START_TIMEOUT:-180}

mlflow_installed() { [[ -f $MLFLOW_VENV/.baton-complete ]]; }

svc_mlflow_install() {
    mlflow_installed && return 0
    with_cache_lock mlflow_install
}

mlflow_install() {
    mlflow_installed && return 0
    local buildlog=$LOG_DIR/mlflow-install.log got
    venv_create "$MLFLOW_VENV" mlflow "${MLFLOW_REQUIREMENTS[@]}"
    got=$("$MLFLOW_VENV/bin/mlflow" --version 2>>"$buildlog") || die_with_log "mlflow does not run in $MLFLOW_VENV" "$buildlog"
    [[ $got == *"$MLFLOW_VERSION"* ]] || die "$MLFLOW_VENV has $got, not mlflow $MLFLOW_VERSION"
    # Marker last: an interrupted install is redone, not trusted.
    touch "$MLFLOW_VENV/.baton-complete"
}

# mlflow_command: the server's command line for the current settings, one word per line.
# Recorded at start, so `up` can tell a server started with other settings and restart it.
#   --workers 1: one uvicorn worker is plenty for the mirror and the tests on 2 cores.
#   MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: no background job runner (GenAI features).
mlflow_command() {
    local dir=$STATE_DIR/mlflow
    printf '%s\n' MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
        "$MLFLOW_VENV/bin/mlflow" server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
        --backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/artifacts"
}

# Ready means GET /health answers 200 (it does once the backend store is migrated).
mlflow_probe() { probe mlflow "$MLFLOW_PORT"; }

svc_mlflow_start() {
    local want t0=$SECONDS
    want=$(mlflow_command)
    if daemon_pid mlflow >/dev/null; then
        if [[ $(cat "$RUN_DIR/mlflow.command" 2>/dev/null) == "$want" ]]; then
            mlflow_wait_ready && return 0
            log "mlflow exited while starting; starting it again"
        else
            log "mlflow runs with other settings; restarting it"
            svc_mlflow_stop
        fi
    fi
    [[ -x $MLFLOW_VENV/bin/mlflow ]] || die "mlflow is not installed (run: scripts/stack install)"
    port_open "$MLFLOW_PORT" && die "127.0.0.1:$MLFLOW_PORT is already in use by a process this script did not start (set BATON_MLFLOW_PORT)"
    mkdir -p "$STATE_DIR/mlflow/artifacts" "$RUN_DIR"
    log "starting mlflow $MLFLOW_VERSION on 127.0.0.1:$MLFLOW_PORT (about 40s)"
    echo "$want" >"$RUN_DIR/mlflow.command"
    local cmd
    mapfile -t cmd <<<"$want"
    daemon_start mlflow env PATH="$MLFLOW_VENV/bin:$PATH" "${cmd[@]}"
    mlflow_wait_ready || die_with_log "mlflow exited during startup" "$LOG_DIR/mlflow.log"
    log "mlflow ready in $((SECONDS - t0))s"
}

# mlflow_wait_ready: 0 once /health answers, 1 if the server exited; dies at the deadline.
mlflow_wait_ready() {
    local rc=0
    daemon_wait_ready mlflow "$MLFLOW_START_TIMEOUT" 0.5 mlflow_probe || rc=$?
    ((rc != 2)) || die_with_log "mlflow did not answer http://127.0.0.1:$MLFLOW_PORT/health within ${MLFLOW_START_TIMEOUT}s" "$LOG_DIR/mlflow.log"
    return "$rc"
}

svc_mlflow_stop() {
    local pid deadline
    pid=$(daemon_pid mlflow) || pid=
    daemon_stop mlflow
    # The uvicorn worker may outlive `mlflow server` by a moment; the port must be free on return.
    if [[ -n $pid ]]; then
        deadline=$((SECONDS + 10))
        while pgrep -g "$pid" >/dev/null 2>&1; do
            if ((SECONDS >= deadline)); then
                kill -KILL -- "-$pid" 2>/dev/null || true
                break
            fi
            sleep 0.2
        done
    fi
    rm -f "$RUN_DIR/mlflow.command"
}

svc_mlflow_status() {
    daemon_health mlflow "/health does not answer" mlflow_probe || return 1
    echo "up         http://127.0.0.1:$MLFLOW_PORT  mlflow $MLFLOW_VERSION  pid $DAEMON_PID  log $LOG_DIR/mlflow.log"
}

svc_mlflow_env() {
    echo "export BATON_MLFLOW_URI=http://127.0.0.1:$MLFLOW_PORT"
}
