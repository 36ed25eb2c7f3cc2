# shellcheck shell=bash
# Alertmanager: the Debian package's server (prometheus-alertmanager), with its own config and
# data dir in the state dir, on 127.0.0.1 only and without clustering. The local Prometheus
# (services/prometheus.sh) sends it the alerts of deploy/monitoring/prometheus/baton-rules.yml.
#
# Where alerts go:
#   BATON_SLACK_WEBHOOK_URL set    every alert to that Slack-compatible incoming webhook
#                                  (firing and resolved); unset: to a receiver that drops them.
#   BATON_ALERTMANAGER_HOOK_URL    also the alerts labelled action=retrain (model accuracy and
#                                  drift) to Baton's POST /v1/hooks/alertmanager, with
#                                  BATON_ALERTMANAGER_HOOK_TOKEN as its bearer token.
# The URL and token are secrets: they go to files only this user reads, never into the config.
# BATON_ALERTMANAGER_GROUP_WAIT / _GROUP_INTERVAL / _REPEAT_INTERVAL shorten Alertmanager's waits
# (tests). The package's own systemd unit is left alone (it may not run here).

ALERTMANAGER_PORT=${BATON_ALERTMANAGER_PORT:-9093}
ALERTMANAGER_START_TIMEOUT=${BATON_ALERTMANAGER_START_TIMEOUT:-30}
ALERTMANAGER_GROUP_WAIT=${BATON_ALERTMANAGER_GROUP_WAIT:-30s}
ALERTMANAGER_GROUP_INTERVAL=${BATON_ALERTMANAGER_GROUP_INTERVAL:-5m}
ALERTMANAGER_REPEAT_INTERVAL=${BATON_ALERTMANAGER_REPEAT_INTERVAL:-4h}

svc_alertmanager_install() { apt_install prometheus-alertmanager; }

# alertmanager_receiver: where alerts go by default (slack, or "null" without a webhook URL).
alertmanager_receiver() {
    if [[ -n ${BATON_SLACK_WEBHOOK_URL:-} ]]; then echo slack; else echo null; fi
}

# alertmanager_config: the config for the current settings (written at start). Alerts are
# grouped by what an operator acts on, so one Slack message speaks of one alert on one
# model/pipeline/pool. Receiver names are quoted: a bare `null` would be YAML's null.
alertmanager_config() {
    local dir=$STATE_DIR/alertmanager receiver
    receiver=$(alertmanager_receiver)
    cat <<EOF
route:
  receiver: '$receiver'
  group_by: [alertname, model, pipeline, pool]
  group_wait: $ALERTMANAGER_GROUP_WAIT
  group_interval: $ALERTMANAGER_GROUP_INTERVAL
  repeat_interval: $ALERTMANAGER_REPEAT_INTERVAL
EOF
    if [[ -n ${BATON_ALERTMANAGER_HOOK_URL:-} ]]; then
        cat <<EOF
  routes:
    - receiver: baton
      matchers: ['action="retrain"']
      continue: true
    - receiver: '$receiver'
EOF
    fi
    echo "receivers:"
    if [[ $receiver == null ]]; then
        echo "  - name: 'null'"
    else
        cat <<EOF
  - name: slack
    slack_configs:
      - api_url_file: $dir/slack-webhook-url
        send_resolved: true
EOF
        # Alertmanager's own templates (Go), not the shell's: hence the quoted here-document.
        cat <<'EOF'
        title: '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}'
        fallback: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}'
        color: '{{ if eq .Status "resolved" }}good{{ else if eq .CommonLabels.severity "critical" }}danger{{ else }}warning{{ end }}'
        text: |-
          {{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}
          {{ .Annotations.description }}
          {{ end }}
EOF
    fi
    if [[ -n ${BATON_ALERTMANAGER_HOOK_URL:-} ]]; then
        cat <<EOF
  - name: baton
    webhook_configs:
      - url: '$BATON_ALERTMANAGER_HOOK_URL'
        send_resolved: true
EOF
        if [[ -n ${BATON_ALERTMANAGER_HOOK_TOKEN:-} ]]; then
            cat <<EOF
        http_config:
          authorization:
            type: Bearer
            credentials_file: $dir/baton-hook-token
EOF
        fi
    fi
}

# The secrets' files, readable by this user only.
alertmanager_write_secrets() {
    local dir=$STATE_DIR/alertmanager
    rm -f "$dir/slack-webhook-url" "$dir/baton-hook-token"
    (
        umask 077
        [[ -z ${BATON_SLACK_WEBHOOK_URL:-} ]] || printf '%s' "$BATON_SLACK_WEBHOOK_URL" >"$dir/slack-webhook-url"
        [[ -z ${BATON_ALERTMANAGER_HOOK_TOKEN:-} ]] || printf '%s' "$BATON_ALERTMANAGER_HOOK_TOKEN" >"$dir/baton-hook-token"
    )
}

alertmanager_command() {
    local dir=$STATE_DIR/alertmanager
    # --cluster.listen-address= : no gossip port (it would listen on every interface).
    printf '%s\n' /usr/bin/prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
        --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address=
}

# Ready means GET /-/ready answers 200.
alertmanager_probe() { probe alertmanager "$ALERTMANAGER_PORT"; }

svc_alertmanager_start() {
    local want dir=$STATE_DIR/alertmanager secrets
    # The secrets change the wanted state without showing in it.
    secrets=$(printf '%s\n%s' "${BATON_SLACK_WEBHOOK_URL:-}" "${BATON_ALERTMANAGER_HOOK_TOKEN:-}" | sha256sum | cut -c1-16)
    want="$(alertmanager_command)
$(alertmanager_config)
secrets $secrets"
    daemon_current alertmanager "$want" alertmanager_probe && return 0
    [[ -x /usr/bin/prometheus-alertmanager ]] || die "alertmanager is not installed (run: scripts/stack install)"
    port_open "$ALERTMANAGER_PORT" && die "127.0.0.1:$ALERTMANAGER_PORT is already in use by a process this script did not start (set BATON_ALERTMANAGER_PORT)"
    mkdir -p "$dir/data" "$RUN_DIR"
    alertmanager_write_secrets
    alertmanager_config >"$dir/alertmanager.yml"
    echo "$want" >"$RUN_DIR/alertmanager.command"
    log "starting alertmanager on 127.0.0.1:$ALERTMANAGER_PORT (alerts to the $(alertmanager_receiver) receiver)"
    local cmd
    mapfile -t cmd < <(alertmanager_command)
    daemon_start alertmanager "${cmd[@]}"
    daemon_await alertmanager "$ALERTMANAGER_START_TIMEOUT" 0.2 alertmanager_probe "alertmanager did not become ready"
}

svc_alertmanager_stop() {
    daemon_stop alertmanager
    rm -f "$RUN_DIR/alertmanager.command"
}

svc_alertmanager_status() {
    local where dir=$STATE_DIR/alertmanager
    daemon_health alertmanager "/-/ready does not answer" alertmanager_probe || return 1
    # What the running daemon was started with, not this shell's settings.
    where="dropped (started without BATON_SLACK_WEBHOOK_URL)"
    [[ ! -f $dir/slack-webhook-url ]] || where="to Slack (BATON_SLACK_WEBHOOK_URL)"
    ! grep -q '^  - name: baton$' "$dir/alertmanager.yml" 2>/dev/null || where="$where, retrain alerts to Baton"
    echo "up         http://127.0.0.1:$ALERTMANAGER_PORT  alerts $where  pid $DAEMON_PID  log $LOG_DIR/alertmanager.log"
}

svc_alertmanager_env() {
    echo "export BATON_ALERTMANAGER_URL=http://127.0.0.1:$ALERTMANAGER_PORT"
}
