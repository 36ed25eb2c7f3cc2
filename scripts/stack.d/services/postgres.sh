# shellcheck shell=bash
# PostgreSQL (POSTGRES_MAJOR in versions.sh): the Debian package's binaries, but our own
# data directory and port, so it never touches a system cluster.

PG_PORT=${BATON_PG_PORT:-54329}
PG_BIN=/usr/lib/postgresql/$POSTGRES_MAJOR/bin

# PostgreSQL refuses to run as root, so as root run it as the `postgres` user.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        # From /, because the postgres user may not be allowed into the caller's cwd.
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# The data directory normally lives in the state dir. Two cases force it elsewhere:
# the `postgres` user cannot reach the state dir (a clone under /root, mode 700), or the
# unix socket path would exceed the kernel's 107-byte limit. Then it goes to /var/tmp
# under a name derived from the state dir, with a symlink left in the state dir.
pg_dir() {
    local want=$STATE_DIR/postgres
    if [[ -L $want ]]; then
        readlink -f "$want"
        return
    fi
    local sock=$want/run/.s.PGSQL.$PG_PORT
    if [[ $EUID -eq 0 ]] && ! runuser -u postgres -- test -x "$STATE_DIR" 2>/dev/null ||
        ((${#sock} > 100)); then
        echo "/var/tmp/baton-pg-$(printf '%s' "$STATE_DIR" | cksum | cut -d' ' -f1)"
        return
    fi
    echo "$want"
}

svc_postgres_install() {
    [[ -x $PG_BIN/postgres ]] || apt_install "postgresql-$POSTGRES_MAJOR"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -U postgres; }

# pg_running DATA: is the postmaster of DATA alive? (Not `pg_ctl status`, which takes a
# zombie for a live server.)
pg_running() {
    local pid
    pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) && pid_alive "$pid"
}

# PostgreSQL refuses to start while the pid in postmaster.pid exists at all, zombie or not.
pg_lockfile_free() {
    local pid
    pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || return 0
    [[ ! -e /proc/$pid ]]
}

svc_postgres_start() {
    local dir data logfile
    dir=$(pg_dir)
    data=$dir/data
    logfile=$dir/postgres.log # written by the postgres user, so it lives next to the data
    mkdir -p "$STATE_DIR" "$LOG_DIR"
    [[ $dir == "$STATE_DIR/postgres" ]] || ln -sfn "$dir" "$STATE_DIR/postgres"
    ln -sfn "$logfile" "$LOG_DIR/postgres.log"

    if [[ ! -f $data/PG_VERSION ]]; then
        log "initdb $data"
        rm -rf "$data"
        mkdir -p "$data" "$dir/run"
        [[ $EUID -ne 0 ]] || chown -R postgres:postgres "$dir"
        chmod 700 "$data"
        # trust on the unix socket (only reachable inside the state dir) for the admin
        # steps below; password auth over TCP, like a real deployment.
        as_pg "$PG_BIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 >"$LOG_DIR/initdb.log" 2>&1 ||
            die_with_log "initdb failed" "$LOG_DIR/initdb.log"
        echo "include_if_exists = 'baton.conf'" | as_pg tee -a "$data/postgresql.conf" >/dev/null
    fi

    [[ ${BATON_PG_FSYNC:-off} == on || ${BATON_PG_FSYNC:-off} == off ]] ||
        die "BATON_PG_FSYNC must be on or off, not '${BATON_PG_FSYNC}'"
    # Rewritten on every start, so a changed BATON_PG_PORT takes effect.
    as_pg tee "$data/baton.conf" >/dev/null <<EOF
# Written by scripts/stack on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir/run'
max_connections = 200
# Dev/test only: survives kill -9 of any process (what the fault tests do), not a power cut.
# BATON_PG_FSYNC=on (make bench) measures with durable commits; a reload applies it.
fsync = ${BATON_PG_FSYNC:-off}
EOF

    if ! pg_running "$data"; then
        wait_for "the previous postmaster (killed) to be reaped" 15 "$logfile" pg_lockfile_free "$data"
        log "starting postgres on 127.0.0.1:$PG_PORT"
        # 8>&- 9>&-: the postmaster must not inherit the stack's lock files.
        as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >/dev/null 8>&- 9>&- ||
            die_with_log "postgres did not start (port $PG_PORT in use?)" "$logfile"
    else
        as_pg "$PG_BIN/pg_ctl" -D "$data" reload >/dev/null
    fi
    wait_for "postgres on 127.0.0.1:$PG_PORT" 60 "$logfile" pg_ready

    # Role and database, idempotently. CREATEDB lets tests make throwaway databases.
    as_pg "$PG_BIN/psql" -h "$dir/run" -p "$PG_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
        >/dev/null <<'SQL' || die "could not create role/database baton"
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'baton') THEN
        CREATE ROLE baton LOGIN CREATEDB PASSWORD 'baton';
    END IF;
END
$$;
SELECT 'CREATE DATABASE baton OWNER baton'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'baton') \gexec
SQL
}

svc_postgres_stop() {
    local data
    data=$(pg_dir)/data
    [[ -f $data/PG_VERSION ]] || return 0
    if pg_running "$data"; then
        log "stopping postgres"
        as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
}

svc_postgres_status() {
    local data
    data=$(pg_dir)/data
    if pg_running "$data" && pg_ready; then
        echo "up         127.0.0.1:$PG_PORT  pid $(head -n 1 "$data/postmaster.pid")  data $data"
    else
        echo "down"
        return 1
    fi
}

svc_postgres_env() {
    echo "export BATON_DATABASE_URL=postgres://baton:baton@127.0.0.1:$PG_PORT/baton"
}
