# syntax=docker/dockerfile:1
#
# Baton container image: one binary, every role (`baton serve --roles ...`), plus the SQL
# migrations (`baton migrate`), the example pipelines (`baton submit /app/examples/...`) and the
# reference pipeline's Ray jobs (`jobs/`, which the worker packages as each stage's working_dir).
#
#   docker build -t baton:local .
#
# Two stages: the Swift toolchain (about 3 GB) stays in the build stage; the runtime stage is
# plain Ubuntu with librdkafka, the one shared library Baton links that the static Swift
# standard library does not cover.

# Package.swift declares swift-tools-version 6.2, so any 6.2+ toolchain builds it; 6.3 matches
# the toolchain the project develops and tests with. Both are Ubuntu 24.04 (noble) images.
ARG SWIFT_IMAGE=swift:6.3-noble
ARG RUNTIME_IMAGE=ubuntu:24.04

# ---------------------------------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build

# librdkafka >= 2.3 is required (older versions mis-parse some brokers' ApiVersions replies);
# noble ships 2.3.0. pkg-config is how SwiftPM finds it (the CRdKafka system library target).
RUN apt-get update \
 && apt-get install -y --no-install-recommends librdkafka-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# The manifest names the test targets too, and SwiftPM checks their folders exist when it loads
# the package, so Tests/ comes along even though only the `baton` and `baton-bench` products are built.
# Package.resolved is left out on purpose (.dockerignore): SwiftPM resolves the manifest's
# version ranges afresh against the real repositories.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests

# The cache mount keeps dependency checkouts and object files between image builds (BuildKit);
# it is not part of the layer, so the binary is copied out in the same step.
# --static-swift-stdlib links the Swift runtime and Foundation into the binary, so the runtime
# image needs no Swift toolchain.
RUN --mount=type=cache,target=/build/.build \
    swift build -c release --product baton --static-swift-stdlib \
 && swift build -c release --product baton-bench --static-swift-stdlib \
 && mkdir -p /out \
 && cp "$(swift build -c release --show-bin-path)/baton" "$(swift build -c release --show-bin-path)/baton-bench" /out/ \
 && cp -R "$(swift build -c release --show-bin-path)/baton_BatonAPI.resources" /out/

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime

# librdkafka1: the matching run-time library (2.3.0 on noble; pulls in libssl, libsasl2, zstd,
# lz4). ca-certificates: TLS to PostgreSQL (`?sslmode=require`) and to Kafka (SASL_SSL).
RUN apt-get update \
 && apt-get install -y --no-install-recommends librdkafka1 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup
# (deploy/ sets runAsUser: 10001 to match).
RUN groupadd --system --gid 10001 baton \
 && useradd --system --uid 10001 --gid baton --home-dir /app --no-create-home --shell /usr/sbin/nologin baton

# `baton bench` runs baton-bench from the same folder; the API finds its OpenAPI document in the
# resource bundle next to the binary.
COPY --from=build /out/baton /out/baton-bench /usr/local/bin/
COPY --from=build /out/baton_BatonAPI.resources /usr/local/bin/baton_BatonAPI.resources
# Read-only data: owned by root, so the baton user cannot modify what it executes.
COPY migrations /app/migrations
COPY examples /app/examples
# examples/korean-llm.yaml names `runtime_env: {working_dir: jobs}`, resolved against
# BATON_JOBS_ROOT: the worker hashes and uploads /app/jobs (launcher `jobs`), or passes the path
# on (launcher `kuberay`: the jobs image, deploy/images/jobs.Dockerfile, has it at the same
# place). The Ray Serve canary uploads /app/jobs/serve.
COPY jobs /app/jobs

WORKDIR /app
# Absolute paths survive a changed working directory (the defaults are relative to it).
ENV BATON_MIGRATIONS_DIR=/app/migrations \
    BATON_JOBS_ROOT=/app

USER 10001:10001

# `baton serve`'s /metrics, /healthz and /readyz, when BATON_METRICS_ADDRESS binds 0.0.0.0:9464
# (compose/ and deploy/ set that; the binary's default is loopback only).
EXPOSE 9464

# SIGTERM starts a graceful shutdown: consumers leave their groups and in-flight work drains.
STOPSIGNAL SIGTERM
ENTRYPOINT ["baton"]
CMD ["serve"]
