# shellcheck shell=bash
# Prometheus: the Debian package's server, with its own config and data dir in the state
# dir, scraping every 2 s Ray's metrics export port (RAY_METRICS_PORT, services/ray.sh; the
# rollout stage's analyses query it, GET /api/v1/query) and `baton serve`'s /metrics. It
# evaluates Baton's alert rules (deploy/monitoring/prometheus/baton-rules.yml, or
# BATON_PROMETHEUS_RULES) and sends what fires to the stack's Alertmanager
# (services/alertmanager.sh) when that service is enabled. The package's own systemd unit is
# left alone (it may not run here).
#
# Baton's targets come from file service discovery: every *.json file in
# $STATE_DIR/prometheus/targets (BATON_PROMETHEUS_TARGETS_DIR) is a list of
# {"targets": ["host:port"], "labels": {...}}, read again within seconds of a change, so a test
# adds its own process's /metrics by writing a file there, without restarting Prometheus. The
# stack writes baton-serve.json: BATON_METRICS_ADDRESS (default 127.0.0.1:9464), none when "off".

PROMETHEUS_PORT=${BATON_PROMETHEUS_PORT:-9095}
PROMETHEUS_START_TIMEOUT=${BATON_PROMETHEUS_START_TIMEOUT:-60}
PROMETHEUS_RULES=${BATON_PROMETHEUS_RULES:-$REPO_ROOT/deploy/monitoring/prometheus/baton-rules.yml}
PROMETHEUS_TARGETS_DIR=$STATE_DIR/prometheus/targets

svc_prometheus_install() { apt_install prometheus; }

# prometheus_config: the scrape config for the current settings (written at start).
prometheus_config() {
    cat <<EOF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files: ['$PROMETHEUS_RULES']
EOF
    if stack_enabled alertmanager; then
        cat <<EOF
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:$ALERTMANAGER_PORT']
EOF
    fi
    cat <<EOF
scrape_configs:
  - job_name: baton
    file_sd_configs:
      - files: ['$PROMETHEUS_TARGETS_DIR/*.json']
        refresh_interval: 5s
EOF
    if stack_enabled ray; then
        cat <<EOF
  - job_name: ray
    # Ray's metrics agent renders every series of every worker there was (about 5 MB, 0.8 s
    # of its CPU, after an hour of test churn): every 2 s that was 40 % of a core. Every 5 s
    # still gives a 20 s rate window four samples. The timeout is the whole interval (the
    # global 2 s failed scrapes of a 12 MB output, and the canary's analysis saw no data).
    scrape_interval: 5s
    scrape_timeout: 5s
    static_configs:
      - targets: ['127.0.0.1:$RAY_METRICS_PORT']
EOF
    fi
}

# stack_enabled NAME: whether service NAME is in this stack's service list.
stack_enabled() { [[ " ${SERVICES[*]} " == *" $1 "* ]]; }

# The scrape address of `baton serve`'s /metrics, from BATON_METRICS_ADDRESS (a wildcard host is
# reached on the loopback); nothing when metrics are off.
baton_metrics_target() {
    local address=${BATON_METRICS_ADDRESS:-127.0.0.1:9464}
    [[ $address != off ]] || return 0
    case $address in
    0.0.0.0:* | :*) address=127.0.0.1:${address##*:} ;;
    esac
    echo "$address"
}

# The default target file (rewritten at each start; other files in the folder are left alone).
prometheus_write_targets() {
    local target
    mkdir -p "$PROMETHEUS_TARGETS_DIR"
    target=$(baton_metrics_target)
    if [[ -n $target ]]; then
        printf '[{"targets": ["%s"]}]\n' "$target"
    else
        echo "[]"
    fi >"$PROMETHEUS_TARGETS_DIR/baton-serve.json"
}

# A digest of the rule files, so that `up` restarts Prometheus when the rules change.
prometheus_rules_digest() {
    # shellcheck disable=SC2086 # PROMETHEUS_RULES may be a glob, as rule_files allows
    cat $PROMETHEUS_RULES 2>/dev/null | sha256sum | cut -c1-16
}

prometheus_command() {
    local dir=$STATE_DIR/prometheus
    printf '%s\n' /usr/bin/prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
}

# Ready means GET /-/ready answers 200.
prometheus_probe() { probe prometheus "$PROMETHEUS_PORT"; }

svc_prometheus_start() {
    local want dir=$STATE_DIR/prometheus
    want="$(prometheus_command)
$(prometheus_config)
rules $(prometheus_rules_digest)"
    prometheus_write_targets
    daemon_current prometheus "$want" prometheus_probe && return 0
    [[ -x /usr/bin/prometheus ]] || die "prometheus is not installed (run: scripts/stack install)"
    port_open "$PROMETHEUS_PORT" && die "127.0.0.1:$PROMETHEUS_PORT is already in use by a process this script did not start (set BATON_PROMETHEUS_PORT)"
    mkdir -p "$dir/data" "$RUN_DIR"
    prometheus_config >"$dir/prometheus.yml"
    /usr/bin/promtool check config "$dir/prometheus.yml" >>"$LOG_DIR/prometheus.log" 2>&1 ||
        die_with_log "prometheus's config or rules ($PROMETHEUS_RULES) do not pass promtool check config" "$LOG_DIR/prometheus.log"
    echo "$want" >"$RUN_DIR/prometheus.command"
    log "starting prometheus on 127.0.0.1:$PROMETHEUS_PORT (rules $PROMETHEUS_RULES; targets in $PROMETHEUS_TARGETS_DIR)"
    local cmd
    mapfile -t cmd < <(prometheus_command)
    daemon_start prometheus "${cmd[@]}"
    daemon_await prometheus "$PROMETHEUS_START_TIMEOUT" 0.5 prometheus_probe "prometheus did not become ready"
}

svc_prometheus_stop() {
    daemon_stop prometheus
    rm -f "$RUN_DIR/prometheus.command"
}

svc_prometheus_status() {
    daemon_health prometheus "/-/ready does not answer" prometheus_probe || return 1
    local ray=""
    ! stack_enabled ray || ray="127.0.0.1:$RAY_METRICS_PORT, "
    echo "up         http://127.0.0.1:$PROMETHEUS_PORT  scraping $ray$PROMETHEUS_TARGETS_DIR/*.json  pid $DAEMON_PID  log $LOG_DIR/prometheus.log"
}

svc_prometheus_env() {
    echo "export BATON_PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT"
    printf 'export BATON_PROMETHEUS_TARGETS_DIR=%q\n' "$PROMETHEUS_TARGETS_DIR"
}
