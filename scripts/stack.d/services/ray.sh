# shellcheck shell=bash
# Ray: a single-node head on 127.0.0.1 whose Jobs REST API (the dashboard, port 8265) is
# what Baton talks to. One virtualenv holds Ray and the training jobs' dependencies
# (jobs/requirements.txt), because job entrypoints run with the head's Python.
#
# `ray start --block` runs in the foreground under daemon_start: it is the pid we track,
# it tears its processes down on SIGTERM, and it exits (killing the rest) as soon as one
# of them dies, so a half-dead head is never mistaken for a live one. We never use
# `ray stop`: it kills every Ray process of the user on the machine, including the heads
# of other clones. Instead `down` signals `ray start`, then sweeps what is left of this
# head: the processes in its session, and those (job drivers, which Ray starts in
# sessions of their own) whose environment carries BATON_RAY_OWNER=<temp dir>.

# The training jobs' dependencies (torch, transformers ...), maintained with jobs/. Its
# content is part of the venv key, so editing it builds a fresh venv (and `up` restarts
# the head on it); files it includes with -r/-c are not hashed. It must not pin another
# Ray version.
RAY_JOBS_REQUIREMENTS=$REPO_ROOT/jobs/requirements.txt
RAY_VENV=$CACHE_DIR/ray-venv-$(
    {
        printf '%s\n' "${RAY_REQUIREMENTS[@]}"
        if [[ -f $RAY_JOBS_REQUIREMENTS ]]; then
            printf -- '-r jobs/requirements.txt\n'
            cat "$RAY_JOBS_REQUIREMENTS"
        fi
    } | sha256sum | cut -c1-12
)

RAY_GCS_PORT=${BATON_RAY_GCS_PORT:-6380}
RAY_DASHBOARD_PORT=${BATON_RAY_DASHBOARD_PORT:-8265}
# Fixed by Ray unless set; a second stack on the machine needs its own.
RAY_CLIENT_PORT=${BATON_RAY_CLIENT_PORT:-10001}
RAY_AGENT_PORT=${BATON_RAY_AGENT_PORT:-52365}
# Ray's Prometheus endpoint (the prometheus service scrapes it) and Serve's HTTP proxy.
RAY_METRICS_PORT=${BATON_RAY_METRICS_PORT:-8267}
RAY_SERVE_PORT=${BATON_RAY_SERVE_PORT:-8010}
# Ray's logical CPUs: the machine's, at least 2. The test suites run two tests per core, each
# with Ray jobs of 0.1 CPU; a fixed 2 on a many-core machine queued their jobs past the
# stages' timeouts.
RAY_CPUS=${BATON_RAY_CPUS:-$(($(nproc) > 2 ? $(nproc) : 2))}
# The object store (/dev/shm) is touched lazily: this caps it, it does not reserve it.
RAY_OBJECT_STORE_BYTES=${BATON_RAY_OBJECT_STORE_BYTES:-$((1024 * 1024 * 1024))}
RAY_START_TIMEOUT=${BATON_RAY_START_TIMEOUT:-180}

# Ray's temp dir holds its unix sockets, <temp>/session_<date>_<pid>/sockets/plasma_store,
# which must fit the kernel's 107-byte limit: about 64 bytes go to the part after <temp>.
# A state dir too deep for that gets /tmp/baton-ray-<hash of the state dir> instead, with
# a symlink at $STATE_DIR/ray (like postgres in pg_dir). Old sessions are pruned on start.
ray_temp_dir() {
    local want=$STATE_DIR/ray
    if ((${#want} > 40)); then
        echo "/tmp/baton-ray-$(printf '%s' "$STATE_DIR" | cksum | cut -d' ' -f1)"
    else
        echo "$want"
    fi
}

ray_installed() { [[ -f $RAY_VENV/.baton-complete ]]; }

svc_ray_install() {
    ray_installed && return 0
    with_cache_lock ray_install
}

ray_install() {
    ray_installed && return 0
    local args=("${RAY_REQUIREMENTS[@]}") buildlog=$LOG_DIR/ray-install.log got
    if [[ -f $RAY_JOBS_REQUIREMENTS ]]; then
        args+=(-r "$RAY_JOBS_REQUIREMENTS")
        log "the ray venv includes $RAY_JOBS_REQUIREMENTS: a first install may take several minutes"
    fi
    venv_create "$RAY_VENV" ray "${args[@]}"
    got=$("$RAY_VENV/bin/python" -c 'import ray; print(ray.__version__)' 2>>"$buildlog") ||
        die_with_log "ray does not import in $RAY_VENV" "$buildlog"
    [[ $got == "$RAY_VERSION" ]] || die "$RAY_VENV has ray $got, not $RAY_VERSION (does $RAY_JOBS_REQUIREMENTS pin another ray?)"
    # What the venv was built from, for whoever wonders later.
    echo "${args[*]}" >"$RAY_VENV/.baton-requirements"
    [[ ! -f $RAY_JOBS_REQUIREMENTS ]] || cp "$RAY_JOBS_REQUIREMENTS" "$RAY_VENV/.baton-jobs-requirements.txt"
    touch "$RAY_VENV/.baton-complete"
}

# ray_command TEMP_DIR: the environment and command line of the head for the current
# settings, one word per line. Recorded at start, so `up` can tell a head that was started
# with other settings (or another venv) and restart it. (PATH, which the caller's
# environment shapes, is added at start: `python` in a job's entrypoint is the venv's.)
#   BATON_RAY_OWNER: marks the head's processes, see ray_owned_pids.
#   RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0: on Linux, Ray replaces --node-ip-address
#     127.0.0.1 with the host's routable address unless this is off (what it does on
#     macOS). With it, every Ray port listens on 127.0.0.1 only, drivers' ray.init() use
#     127.0.0.1 too, and a change of the host's address breaks nothing.
#   RAY_AUTH_MODE=disabled: Ray turns token auth on by itself whenever ~/.ray/auth_token
#     exists (any local ray.init() may write it); the Jobs API then answers 401 "Missing
#     authentication token".
#   RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S=0: on SIGTERM, stop at once instead of waiting
#     up to 30 s for running jobs to drain (meant for Serve on Kubernetes).
#   RAY_USAGE_STATS_ENABLED=0: no phoning home, from drivers either.
#   RAY_metrics_report_interval_ms=2000: metrics (Serve's and the canary router's) reach
#     the export port every 2 s instead of 10 s, so analyses see fresh numbers.
#   AWS_*: with the seaweedfs service, its endpoint and key, for the jobs' and Serve's boto3.
#   Worker ports 0: the OS picks them. `ray start` defaults to the range 10002-19999,
#     which holds the broker's port (19092) and another stack's BATON_RAY_CLIENT_PORT.
ray_command() {
    local tmp=$1
    printf '%s\n' BATON_RAY_OWNER="$tmp" VIRTUAL_ENV="$RAY_VENV" \
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_AUTH_MODE=disabled \
        RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S=0 RAY_USAGE_STATS_ENABLED=0 \
        RAY_metrics_report_interval_ms=2000
    [[ " ${SERVICES[*]} " != *" seaweedfs "* ]] || seaweedfs_client_env
    printf '%s\n' "$RAY_VENV/bin/ray" start --head --block \
        --node-ip-address 127.0.0.1 --port "$RAY_GCS_PORT" \
        --include-dashboard=true --dashboard-host 127.0.0.1 --dashboard-port "$RAY_DASHBOARD_PORT" \
        --dashboard-agent-listen-port "$RAY_AGENT_PORT" --ray-client-server-port "$RAY_CLIENT_PORT" \
        --metrics-export-port "$RAY_METRICS_PORT" \
        --min-worker-port 0 --max-worker-port 0 \
        --num-cpus "$RAY_CPUS" --num-gpus 0 --object-store-memory "$RAY_OBJECT_STORE_BYTES" \
        --temp-dir "$tmp" --disable-usage-stats --log-style record --log-color false
}

# Ready means: the dashboard answers GET /api/version (what clients check), and the
# head's dashboard agent, which runs submitted jobs, reports raylet and GCS healthy.
# Prints the Ray version (probe.py ray-ready).
ray_probe() { probe ray-ready "$RAY_DASHBOARD_PORT" "$RAY_AGENT_PORT"; }

# ray_owned_pids OWNER: pids of the processes of the head whose temp dir is OWNER, one a
# line (probe.py ray-owned says which). The session id of `ray start` is only trusted
# while the pid file says whose it is: a session id stays reserved while any member lives,
# so a leader that is gone but has members left is still ours.
ray_owned_pids() {
    local owner=$1 sid=0 pid started now
    if [[ -f $RUN_DIR/ray.pid ]] && read -r pid started <"$RUN_DIR/ray.pid"; then
        if ! now=$(proc_start_time "$pid") || [[ $now == "$started" ]]; then
            sid=$pid
        fi
    fi
    probe ray-owned "$owner" "$sid"
}

# ray_sweep OWNER GRACE: stop what is left of the head whose temp dir is OWNER (workers
# and job drivers outlive a `ray start` killed with -9): SIGTERM, SIGKILL after GRACE s.
ray_sweep() {
    local owner=$1 grace=$2 pids deadline p left
    pids=$(ray_owned_pids "$owner")
    [[ -n $pids ]] || return 0
    log "stopping remaining ray processes: ${pids//$'\n'/ }"
    # shellcheck disable=SC2086 # one pid per word
    kill -TERM $pids 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while :; do
        left=()
        for p in $pids; do
            if pid_alive "$p"; then left+=("$p"); fi
        done
        [[ ${#left[@]} -gt 0 ]] || return 0
        if ((SECONDS >= deadline)); then
            log "ray processes ${left[*]} ignored SIGTERM for ${grace}s; sending SIGKILL"
            kill -KILL "${left[@]}" 2>/dev/null || true
            return 0
        fi
        sleep 0.2
    done
}

# ray_wait_ready TIMEOUT: 0 once the head is ready, 1 if `ray start` exited; dies at the
# deadline.
ray_wait_ready() {
    local rc=0
    daemon_wait_ready ray "$1" 0.5 ray_probe || rc=$?
    ((rc != 2)) || die_with_log "ray did not become ready within $1s: http://127.0.0.1:$RAY_DASHBOARD_PORT/api/version or the agent's http://127.0.0.1:$RAY_AGENT_PORT/api/healthz does not answer (last probe error: $(
        ray_probe 2>&1 | tail -n 1
    ); Ray's own logs: $(ray_temp_dir)/session_latest/logs)" "$LOG_DIR/ray.log"
    return "$rc"
}

svc_ray_start() {
    local tmp want t0=$SECONDS p var
    tmp=$(ray_temp_dir)
    want=$(ray_command "$tmp")
    if daemon_pid ray >/dev/null; then
        if [[ $(cat "$RUN_DIR/ray.command" 2>/dev/null) != "$want" ]]; then
            log "ray runs with other settings or another venv (jobs/requirements.txt changed?); restarting it"
            svc_ray_stop
        elif ray_wait_ready "$RAY_START_TIMEOUT"; then
            return 0
        else
            log "ray exited while starting; starting it again"
        fi
    fi

    # Leftovers of a head that was killed (kill -9 of `ray start` leaves workers behind).
    ray_sweep "$(cat "$RUN_DIR/ray.owner" 2>/dev/null || echo "$tmp")" 3
    [[ -x $RAY_VENV/bin/ray ]] || die "ray is not installed (run: scripts/stack install)"
    for var in GCS DASHBOARD CLIENT AGENT METRICS; do
        p=RAY_${var}_PORT
        if port_open "${!p}"; then
            die "127.0.0.1:${!p} is already in use by a process this script did not start (set BATON_${p})"
        fi
    done

    mkdir -p "$STATE_DIR" "$RUN_DIR" "$LOG_DIR" "$tmp"
    [[ $tmp == "$STATE_DIR/ray" ]] || ln -sfn "$tmp" "$STATE_DIR/ray"
    # Keep the previous session (its logs tell why it ended); drop older ones.
    local s keep
    keep=$(readlink -f "$tmp/session_latest" 2>/dev/null || true)
    for s in "$tmp"/session_2*; do
        if [[ -d $s && $s != "$keep" ]]; then rm -rf "$s"; fi
    done
    ln -sfn "$tmp/session_latest/logs" "$LOG_DIR/ray-session-logs"

    log "starting ray $RAY_VERSION on 127.0.0.1:$RAY_DASHBOARD_PORT (GCS $RAY_GCS_PORT, temp dir $tmp)"
    echo "$tmp" >"$RUN_DIR/ray.owner"
    echo "$want" >"$RUN_DIR/ray.command"
    local cmd
    mapfile -t cmd <<<"$want"
    daemon_start ray env PATH="$RAY_VENV/bin:$PATH" "${cmd[@]}"
    ray_wait_ready "$RAY_START_TIMEOUT" ||
        die_with_log "ray exited during startup (Ray's own logs: $tmp/session_latest/logs)" "$LOG_DIR/ray.log"
    log "ray ready in $((SECONDS - t0))s"
}

svc_ray_stop() {
    local owner
    owner=$(cat "$RUN_DIR/ray.owner" 2>/dev/null || ray_temp_dir)
    # SIGTERM to `ray start --block` alone: it stops its processes in order. The pid file
    # stays until the sweep, which reads the head's session from it.
    daemon_terminate ray 30 leader
    ray_sweep "$owner" 10
    rm -f "$RUN_DIR/ray.pid" "$RUN_DIR/ray.owner" "$RUN_DIR/ray.command" "$RUN_DIR/ray.args"
}

svc_ray_status() {
    daemon_health ray "the Jobs API does not answer" ray_probe || return 1
    echo "up         http://127.0.0.1:$RAY_DASHBOARD_PORT  ray $PROBE_OUTPUT  GCS 127.0.0.1:$RAY_GCS_PORT  pid $DAEMON_PID  log $LOG_DIR/ray.log"
}

svc_ray_env() {
    echo "export BATON_RAY_ADDRESS=http://127.0.0.1:$RAY_DASHBOARD_PORT"
    printf 'export BATON_RAY_PYTHON=%q\n' "$RAY_VENV/bin/python"
    # Serve's REST API is the dashboard's; its HTTP proxy (where traffic goes) listens here.
    echo "export BATON_RAY_SERVE_HTTP=http://127.0.0.1:$RAY_SERVE_PORT"
}
