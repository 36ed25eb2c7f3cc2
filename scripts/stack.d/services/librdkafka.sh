# shellcheck shell=bash
# librdkafka (install-only): Debian bookworm ships 2.0.2, which cannot parse Tansu's
# ApiVersions reply; versions before 2.10 corrupt their metadata cache when a broker comes
# back with its topics re-created under new topic ids (librdkafka #4964); and every version
# so far dereferences a null topic name when a broker sends a leader update that names its
# topic neither by id nor by name (librdkafka #5280; Tansu does so after it lost its data),
# a segfault that `serve` cannot survive. So we always build upstream's source (from Debian
# testing's source package, without Debian's patches) with our one-line fix
# (scripts/patches/), cached under a name keyed by the version and the patch.

LIBRDKAFKA_PATCH=$REPO_ROOT/scripts/patches/$LIBRDKAFKA_PATCH_NAME
LIBRDKAFKA_PREFIX=$CACHE_DIR/librdkafka-$LIBRDKAFKA_VERSION-$(sha256sum <"$LIBRDKAFKA_PATCH" | cut -c1-8)
TESTING_SRC_LIST=/etc/apt/sources.list.d/baton-testing-src.sources
# Needed to build against our librdkafka, not only to build it: rdkafka.pc lists these in
# Requires.private, and pkg-config (so SwiftPM) fails without their .pc files -- e.g. on
# a fresh machine whose cache dir was restored from a CI cache.
LIBRDKAFKA_DEPS=(pkg-config libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev)

librdkafka_built() { [[ -f $LIBRDKAFKA_PREFIX/lib/pkgconfig/rdkafka.pc ]]; }

svc_librdkafka_install() {
    if librdkafka_built; then
        apt_install "${LIBRDKAFKA_DEPS[@]}"
        return 0
    fi
    apt_install pkg-config
    with_cache_lock librdkafka_build
}

# librdkafka_source_version: the newest source package version in apt whose upstream part is
# LIBRDKAFKA_VERSION (the Debian revision may change under us; the upstream version may not).
librdkafka_source_version() {
    apt-cache showsrc librdkafka 2>/dev/null | awk '/^Version:/ {print $2}' |
        grep -E "^([0-9]+:)?${LIBRDKAFKA_VERSION//./\\.}-" | sort -V | tail -n 1 || true
}

librdkafka_build() {
    librdkafka_built && return 0 # another process built it while we waited for the lock
    local src=$CACHE_DIR/src buildlog=$LOG_DIR/librdkafka-build.log
    local stage=$CACHE_DIR/.stage-librdkafka-$LIBRDKAFKA_VERSION
    mkdir -p "$LOG_DIR"
    log "building librdkafka $LIBRDKAFKA_VERSION into $LIBRDKAFKA_PREFIX (about 1-2 minutes; log: $buildlog)"

    # Source packages only: a deb-src entry cannot pull testing's binaries into bookworm.
    # Reuse the keyring that signs the existing Debian entries.
    if [[ ! -f $TESTING_SRC_LIST ]]; then
        log "adding $TESTING_SRC_LIST (deb-src only)"
        as_root tee "$TESTING_SRC_LIST" >/dev/null <<EOF
# Added by baton scripts/stack: Debian testing/unstable SOURCE packages only (deb-src), to
# build a newer librdkafka on bookworm. Do not add binary (deb) entries for these suites.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $LIBRDKAFKA_SOURCE_SUITES
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        apt_sources_changed
    fi
    apt_install build-essential dpkg-dev python3 "${LIBRDKAFKA_DEPS[@]}"

    local debver
    debver=$(librdkafka_source_version)
    if [[ -z $debver ]]; then
        apt_update_once
        debver=$(librdkafka_source_version)
    fi
    [[ -n $debver ]] || die "no librdkafka $LIBRDKAFKA_VERSION source package in apt (testing has: $(
        apt-cache showsrc librdkafka 2>/dev/null | awk '/^Version:/ {printf "%s ", $2}'
    )); set BATON_LIBRDKAFKA_VERSION"

    mkdir -p "$src"
    local dir=$src/librdkafka-$LIBRDKAFKA_VERSION
    (
        cd "$src"
        rm -rf "$dir" "$stage"
        # apt verifies the files against the signed Sources index; --download-only keeps
        # apt from needing build-deps of its own choosing.
        apt-get source --download-only "librdkafka=$debver"
        # Upstream's source as released: Debian's patches regenerate the telemetry protobufs
        # with nanopb, which needs build dependencies of their own.
        dpkg-source --skip-patches -x "librdkafka_${debver#*:}.dsc" "$dir"
        cd "$dir"
        patch -p1 <"$LIBRDKAFKA_PATCH"
        # Features explicit, so the result does not depend on which -dev packages happen
        # to be installed. curl is only for OIDC token fetching, which we do not use.
        ./configure --prefix="$LIBRDKAFKA_PREFIX" \
            --enable-ssl --enable-gssapi --enable-zlib --enable-zstd --enable-lz4-ext --disable-curl
        make -C src -j"$(nproc)"
        # Install into a staging root and move it into place in one step: the .pc file
        # is the "done" marker, so a half-finished install must never be visible.
        make -C src install DESTDIR="$stage"
    ) >"$buildlog" 2>&1 || die_with_log "librdkafka build failed" "$buildlog"
    rm -rf "$LIBRDKAFKA_PREFIX"
    mv "$stage$LIBRDKAFKA_PREFIX" "$LIBRDKAFKA_PREFIX"
    rm -rf "$stage" "$dir"
    librdkafka_built || die_with_log "librdkafka installed, but $LIBRDKAFKA_PREFIX/lib/pkgconfig/rdkafka.pc is missing" "$buildlog"
    log "librdkafka $LIBRDKAFKA_VERSION ready"
}

svc_librdkafka_status() {
    if librdkafka_built; then
        echo "installed  $LIBRDKAFKA_VERSION (patched)  $LIBRDKAFKA_PREFIX"
    else
        echo "missing    (run: scripts/stack install)"
        return 1
    fi
}

svc_librdkafka_env() {
    librdkafka_built || return 0 # not installed yet: nothing to point at
    # Prepend once; evaluating the output twice must not grow the paths.
    local pc=$LIBRDKAFKA_PREFIX/lib/pkgconfig lib=$LIBRDKAFKA_PREFIX/lib
    local pcp=${PKG_CONFIG_PATH:-} ldp=${LD_LIBRARY_PATH:-}
    [[ ":$pcp:" == *":$pc:"* ]] || pcp=$pc${pcp:+:$pcp}
    [[ ":$ldp:" == *":$lib:"* ]] || ldp=$lib${ldp:+:$ldp}
    printf 'export PKG_CONFIG_PATH=%q\n' "$pcp"
    printf 'export LD_LIBRARY_PATH=%q\n' "$ldp"
}
