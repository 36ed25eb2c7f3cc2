# shellcheck shell=bash
# Helpers for scripts/stack and its services (sourced; uses STATE_DIR, CACHE_DIR, LOG_DIR,
# RUN_DIR and STACK_D, which scripts/stack sets first).

# The interpreter that builds the venvs and runs probe.py. probe.py needs only the standard
# library, so any python3 will do (a venv's interpreter may live in another user's home).
STACK_PYTHON=${BATON_PYTHON:-python3}

# ---------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------

log() { printf '[stack] %s\n' "$*" >&2; }
die() {
    printf '[stack] error: %s\n' "$*" >&2
    exit 1
}

# Show the end of a log file in an error, so CI output says why without a second look.
die_with_log() {
    local msg=$1 file=$2
    if [[ -f $file ]]; then
        printf '[stack] --- last lines of %s ---\n' "$file" >&2
        tail -n 25 "$file" >&2 || true
        printf '[stack] ---\n' >&2
    fi
    die "$msg (full log: $file)"
}

have() { command -v "$1" >/dev/null 2>&1; }

# probe SUBCOMMAND ARGS...: scripts/stack.d/probe.py (see its --help).
probe() { "$STACK_PYTHON" "$STACK_D/probe.py" "$@"; }

# ---------------------------------------------------------------------------------------
# Installs
# ---------------------------------------------------------------------------------------

# Installs need root. Use sudo where we are not root, so a developer laptop works too.
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif have sudo; then
        sudo "$@"
    else
        die "need root to run: $* (run as root, or install sudo)"
    fi
}

# apt's chatter goes to a log; an error shows its tail.
APT_UPDATED=0
apt_update_once() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        mkdir -p "$LOG_DIR"
        as_root apt-get update >>"$LOG_DIR/apt.log" 2>&1 || die_with_log "apt-get update failed" "$LOG_DIR/apt.log"
        APT_UPDATED=1
    fi
}

# After adding an apt source: the next apt_install updates the package lists again.
apt_sources_changed() { APT_UPDATED=0; }

# Install Debian packages that are not installed yet (quick no-op when all are present).
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    apt_update_once
    log "apt-get install ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 || die_with_log "apt-get install ${missing[*]} failed" "$LOG_DIR/apt.log"
}

# Installs into the shared cache are serialised: two clones running `make test` at once
# must not build librdkafka into the same prefix concurrently. The cache dir is made ours
# first, so the builds themselves need no root.
with_cache_lock() {
    if [[ ! -d $CACHE_DIR || ! -w $CACHE_DIR ]]; then
        as_root mkdir -p "$CACHE_DIR"
        as_root chown "$(id -u):$(id -g)" "$CACHE_DIR"
    fi
    (
        flock -w 1800 9 || die "timed out waiting for the cache lock $CACHE_DIR/.lock"
        "$@"
    ) 9>>"$CACHE_DIR/.lock"
}

# up/down of one clone's stack must not interleave (e.g. `make test` in two terminals).
# The lock is fd 8 (the cache lock is fd 9); daemons must be started with both closed, or
# they would hold the lock for as long as they live.
with_state_lock() {
    mkdir -p "$STATE_DIR"
    (
        flock -w 300 8 || die "another scripts/stack is running on $STATE_DIR (lock $STATE_DIR/.lock)"
        "$@"
    ) 8>>"$STATE_DIR/.lock"
}

# Build a virtualenv at $1 (logging to $LOG_DIR/$2-install.log) with the requirements "${@:3}".
# The caller keys $1 by a hash of the requirements and writes its own completion marker.
venv_create() {
    local venv=$1 name=$2 buildlog=$LOG_DIR/$2-install.log
    shift 2
    mkdir -p "$LOG_DIR"
    have "$STACK_PYTHON" || apt_install python3
    "$STACK_PYTHON" -m venv --help >/dev/null 2>&1 || apt_install python3-venv
    log "installing $* into $venv"
    rm -rf "$venv"
    {
        "$STACK_PYTHON" -m venv "$venv" &&
            "$venv/bin/pip" install --disable-pip-version-check --no-input -q "$@"
    } >"$buildlog" 2>&1 || die_with_log "pip install $* ($name) failed" "$buildlog"
}

# venv_key WORDS...: the 12-character key of a venv built from the requirements WORDS (a
# hash of the words joined by spaces).
venv_key() { printf '%s' "$*" | sha256sum | cut -c1-12; }

# ---------------------------------------------------------------------------------------
# Waiting
# ---------------------------------------------------------------------------------------

# Poll "$@" until it succeeds. Every wait in this script has a deadline and names the log.
wait_for() {
    local what=$1 timeout=$2 logfile=$3
    shift 3
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die_with_log "$what did not become ready within ${timeout}s" "$logfile"
        sleep 0.2
    done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------------------------------
# Background daemons
# ---------------------------------------------------------------------------------------
# A pid file holds "<pid> <start time>": the start time (from /proc/<pid>/stat) tells a
# live daemon from an unrelated process that got the same pid after a reboot or crash, so
# `down` never signals something this script did not start.

# proc_stat_field PID N: field N (N >= 3) of /proc/PID/stat. Fields are counted after the
# ")" that closes comm, because comm may itself contain spaces.
proc_stat_field() {
    local stat f
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    read -r -a f <<<"$stat"
    echo "${f[$2 - 3]}"
}

proc_start_time() { proc_stat_field "$1" 22; }

# A process killed with -9 stays a zombie until init reaps it (over a second, in some
# containers); kill -0 still succeeds on it, but it is dead.
pid_alive() {
    local state
    state=$(proc_stat_field "$1" 3) && [[ $state != Z ]]
}

# Prints the pid of daemon $1 if it is running, fails otherwise.
daemon_pid() {
    local pidfile=$RUN_DIR/$1.pid pid started now
    [[ -f $pidfile ]] || return 1
    read -r pid started <"$pidfile" || return 1
    pid_alive "$pid" || return 1
    now=$(proc_start_time "$pid") || return 1
    [[ $now == "$started" ]] || return 1
    echo "$pid"
}

# daemon_start NAME COMMAND...: run COMMAND in the background in its own session (so a
# Ctrl-C in the terminal running `make test` does not take the broker down with it, and
# so `daemon_stop` can signal the whole process group of daemons that fork helpers).
daemon_start() {
    local name=$1
    shift
    local logfile=$LOG_DIR/$name.log pid
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    printf '\n=== %s: starting %s\n' "$(date -Is)" "$*" >>"$logfile"
    # A background job of a non-interactive shell is not a process group leader, so
    # setsid(1) calls setsid() in place instead of forking: $! is the daemon itself.
    # 8>&- 9>&-: do not inherit the stack's lock files (see with_state_lock).
    setsid "$@" >>"$logfile" 2>&1 </dev/null 8>&- 9>&- &
    pid=$!
    echo "$pid $(proc_start_time "$pid")" >"$RUN_DIR/$name.pid"
}

# daemon_wait_ready NAME TIMEOUT INTERVAL PROBE...: poll PROBE every INTERVAL seconds.
# Returns 0 once it succeeds, 1 as soon as the daemon has exited, 2 at the deadline; the
# caller says what went wrong.
daemon_wait_ready() {
    local name=$1 deadline=$((SECONDS + $2)) interval=$3
    shift 3
    until "$@" >/dev/null 2>&1; do
        daemon_pid "$name" >/dev/null || return 1
        ((SECONDS < deadline)) || return 2
        sleep "$interval"
    done
}

# daemon_current NAME WANT PROBE: succeeds when NAME runs with the settings WANT (as recorded
# in $RUN_DIR/NAME.command when it started) and PROBE answers. Otherwise stops a NAME that
# runs (svc_NAME_stop), saying why, and fails: the caller starts it.
daemon_current() {
    local name=$1 want=$2 probe_fn=$3
    daemon_pid "$name" >/dev/null || return 1
    if [[ $(cat "$RUN_DIR/$name.command" 2>/dev/null) == "$want" ]] && "$probe_fn" >/dev/null 2>&1; then
        return 0
    fi
    log "$name runs with other settings; restarting it"
    "svc_${name}_stop"
    return 1
}

# daemon_await NAME TIMEOUT INTERVAL PROBE FAILURE: daemon_wait_ready, dying with NAME's log
# when the daemon exits, or with "FAILURE within TIMEOUTs" at the deadline.
daemon_await() {
    local name=$1 timeout=$2 interval=$3 probe_fn=$4 failure=$5 rc=0
    daemon_wait_ready "$name" "$timeout" "$interval" "$probe_fn" || rc=$?
    ((rc != 1)) || die_with_log "$name exited during startup" "$LOG_DIR/$name.log"
    ((rc != 2)) || die_with_log "$failure within ${timeout}s" "$LOG_DIR/$name.log"
}

# daemon_health NAME PROBLEM PROBE...: for a service's status. Succeeds when the daemon runs
# and PROBE succeeds, with DAEMON_PID and PROBE_OUTPUT (PROBE's stdout) set for the "up"
# line. Otherwise prints the "unhealthy" line (the daemon runs, but PROBLEM) or "down", and
# fails.
daemon_health() {
    local name=$1 problem=$2
    shift 2
    DAEMON_PID=
    # shellcheck disable=SC2034 # PROBE_OUTPUT is for the caller's "up" line (services/ray.sh)
    if DAEMON_PID=$(daemon_pid "$name") && PROBE_OUTPUT=$("$@" 2>/dev/null); then
        return 0
    elif [[ -n $DAEMON_PID ]]; then
        echo "unhealthy  pid $DAEMON_PID is running but $problem; log $LOG_DIR/$name.log"
    else
        echo "down"
    fi
    return 1
}

# daemon_terminate NAME GRACE [leader]: if daemon NAME runs, SIGTERM to its process group, or
# to the daemon alone with "leader" (for a daemon that stops its own processes in order);
# SIGKILL to the group if it is still running GRACE seconds later. Leaves the pid file.
daemon_terminate() {
    local name=$1 grace=$2 scope=${3:-group} pid deadline
    pid=$(daemon_pid "$name") || return 0
    log "stopping $name (pid $pid)"
    if [[ $scope == leader ]]; then
        kill -TERM "$pid" 2>/dev/null || true
    else
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    fi
    deadline=$((SECONDS + grace))
    while daemon_pid "$name" >/dev/null; do
        if ((SECONDS >= deadline)); then
            log "$name ignored SIGTERM for ${grace}s; sending SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
}

# daemon_stop NAME: stop daemon NAME (SIGTERM to its process group, SIGKILL after 15 s) and
# remove its pid file.
daemon_stop() {
    daemon_terminate "$1" 15
    rm -f "$RUN_DIR/$1.pid"
}
