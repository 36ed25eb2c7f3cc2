# shellcheck shell=bash
# Prometheus: the Debian package's server, with its own config and data dir in the state
# dir, scraping Ray's metrics export port (RAY_METRICS_PORT, services/ray.sh) every 2 s.
# The rollout stage's analyses query it (GET /api/v1/query). The package's own systemd
# unit is left alone (it may not run here).

PROMETHEUS_PORT=${BATON_PROMETHEUS_PORT:-9095}
PROMETHEUS_START_TIMEOUT=${BATON_PROMETHEUS_START_TIMEOUT:-60}

svc_prometheus_install() { apt_install prometheus; }

# prometheus_config: the scrape config for the current settings (written at start).
prometheus_config() {
    cat <<EOF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: ray
    static_configs:
      - targets: ['127.0.0.1:$RAY_METRICS_PORT']
EOF
}

prometheus_command() {
    local dir=$STATE_DIR/prometheus
    printf '%s\n' /usr/bin/prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
}

# Ready means GET /-/ready answers 200.
prometheus_probe() { probe prometheus "$PROMETHEUS_PORT"; }

svc_prometheus_start() {
    local want dir=$STATE_DIR/prometheus rc=0
    want="$(prometheus_command)
$(prometheus_config)"
    if daemon_pid prometheus >/dev/null; then
        if [[ $(cat "$RUN_DIR/prometheus.command" 2>/dev/null) == "$want" ]] && prometheus_probe >/dev/null 2>&1; then
            return 0
        fi
        log "prometheus runs with other settings; restarting it"
        svc_prometheus_stop
    fi
    [[ -x /usr/bin/prometheus ]] || die "prometheus is not installed (run: scripts/stack install)"
    port_open "$PROMETHEUS_PORT" && die "127.0.0.1:$PROMETHEUS_PORT is already in use by a process this script did not start (set BATON_PROMETHEUS_PORT)"
    mkdir -p "$dir/data" "$RUN_DIR"
    prometheus_config >"$dir/prometheus.yml"
    echo "$want" >"$RUN_DIR/prometheus.command"
    log "starting prometheus on 127.0.0.1:$PROMETHEUS_PORT (scraping ray on 127.0.0.1:$RAY_METRICS_PORT)"
    local cmd
    mapfile -t cmd < <(prometheus_command)
    daemon_start prometheus "${cmd[@]}"
    daemon_wait_ready prometheus "$PROMETHEUS_START_TIMEOUT" 0.5 prometheus_probe || rc=$?
    ((rc != 1)) || die_with_log "prometheus exited during startup" "$LOG_DIR/prometheus.log"
    ((rc != 2)) || die_with_log "prometheus did not become ready within ${PROMETHEUS_START_TIMEOUT}s" "$LOG_DIR/prometheus.log"
}

svc_prometheus_stop() {
    daemon_stop prometheus
    rm -f "$RUN_DIR/prometheus.command"
}

svc_prometheus_status() {
    daemon_health prometheus "/-/ready does not answer" prometheus_probe || return 1
    echo "up         http://127.0.0.1:$PROMETHEUS_PORT  scraping 127.0.0.1:$RAY_METRICS_PORT  pid $DAEMON_PID  log $LOG_DIR/prometheus.log"
}

svc_prometheus_env() {
    echo "export BATON_PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT"
}
