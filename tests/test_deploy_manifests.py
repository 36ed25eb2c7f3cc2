"""Offline checks of the deployment descriptions: Dockerfile, compose/ and deploy/.

Nothing here needs Docker or Kubernetes. The checks keep the manifests in step with the binary
and with each other: every role the binary has (``baton roles --json``) runs somewhere in both
compose/ and deploy/, and only those; every ``BATON_*`` variable is one the README documents;
each KEDA trigger watches the consumer group and topic of a pool its Deployment actually serves,
and a pool scales to zero only where that is safe; graceful termination outlasts
``BATON_SHUTDOWN_SECONDS``; the roles that touch artifacts reach the S3 store; Baton's Ray and
Prometheus addresses are the Services the RayCluster, RayService and Prometheus get; the
kustomization lists every manifest; and no Secret carries a real credential. Schemas:
test_deploy_schemas.py; images: test_deploy_images.py.

The role list comes from the built binary: ``BATON_BIN``, else ``.build/debug/baton`` (``make
test`` builds it before pytest runs).

Run with ``python3 -m pytest tests -q``.
"""

import functools
import json
import os
import pathlib
import re
import shlex
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose"
DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
README = ROOT / "README.md"
ENGINE_CONFIGURATION = ROOT / "Sources" / "BatonEngine" / "EngineConfiguration.swift"
SERVE_COMMAND = ROOT / "Sources" / "baton" / "ServeCommand.swift"
# Secret values that are obviously not real.
PLACEHOLDER = re.compile(r"^(REPLACE_ME|CHANGE_ME|CHANGEME|<[^<>]+>|\$\{[^{}]+\}|\.\.\.)$")
# Template files (Secrets with placeholder values) stay out of the kustomization on purpose.
TEMPLATE_SUFFIX = ".template.yaml"
BATON_VARIABLE = re.compile(r"\bBATON_[A-Z0-9_]+\b")


def yaml_files(folder):
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml"))


@functools.cache
def load_all(path):
    """The documents of a YAML file, parsed once per session: callers must not change them."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def k8s_files():
    """The manifests of the base kustomization: deploy/*.yaml and deploy/monitoring/*.yaml (the
    PrometheusRule; its plain rules, their tests and the dashboards sit in folders below it).
    deploy/istio/ is a Component."""
    manifests = list(DEPLOY.glob("*.yaml")) + list((DEPLOY / "monitoring").glob("*.yaml"))
    return sorted(p for p in manifests if p.name != "kustomization.yaml")


def k8s_objects():
    """(path, object) for every Kubernetes object under deploy/."""
    return [(path, obj) for path in k8s_files() for obj in load_all(path)]


def compose_file():
    return load_all(COMPOSE / "docker-compose.yaml")[0]


def as_argv(command):
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def flag_values(argv, flag):
    """Values of ``--flag X`` and ``--flag=X`` in argv."""
    values = []
    for index, arg in enumerate(argv):
        if arg == flag and index + 1 < len(argv):
            values.append(argv[index + 1])
        elif arg.startswith(flag + "="):
            values.append(arg.split("=", 1)[1])
    return values


def split_list(value):
    return [item.strip() for item in value.split(",") if item.strip()]


def config_map():
    maps = [obj for _, obj in k8s_objects() if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "baton-config"]
    assert len(maps) == 1, "deploy/ must hold exactly one ConfigMap baton-config"
    return maps[0]["data"]


def topic_prefix():
    return config_map().get("BATON_TOPIC_PREFIX", "baton")


def containers(obj):
    """The containers (and init containers) of a Deployment's or Job's pod template."""
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("initContainers", []) + spec.get("containers", [])


def is_baton_image(image):
    """Baton's own image (root Dockerfile), whatever its registry and tag; not baton-jobs."""
    return str(image).rsplit("/", 1)[-1].split(":", 1)[0] == "baton"


def baton_containers(obj):
    return [c for c in containers(obj) if is_baton_image(c.get("image", ""))]


def container_argv(container):
    return as_argv(container.get("command")) + as_argv(container.get("args"))


def container_env(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def workloads():
    return [(p, o) for p, o in k8s_objects() if o["kind"] in ("Deployment", "Job") and baton_containers(o)]


def deployment_pools(obj):
    """Pools a worker Deployment serves: --pools, else BATON_POOLS (container env, then ConfigMap)."""
    pools = []
    for container in baton_containers(obj):
        argv = container_argv(container)
        values = flag_values(argv, "--pools") or [
            container_env(container).get("BATON_POOLS") or config_map().get("BATON_POOLS", "default,cpu,gpu")
        ]
        for value in values:
            pools.extend(split_list(value))
    return pools


def documented_variables():
    """BATON_* names in the first column of README.md's configuration table."""
    text = README.read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("|"):
            names.update(BATON_VARIABLE.findall(line.split("|")[1]))
    assert "BATON_DATABASE_URL" in names, "README.md's configuration table was not found"
    return names


def baton(*args):
    """Runs the built binary; fails (never skips) when it is missing or broken."""
    binary = pathlib.Path(os.environ.get("BATON_BIN") or ROOT / ".build" / "debug" / "baton")
    if not binary.is_file():
        pytest.fail(f"the baton binary {binary} does not exist: run `make build` (or set BATON_BIN)")
    result = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"`baton {' '.join(args)}` exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return result.stdout


@functools.cache
def serve_roles():
    """The roles of `baton serve`, as the binary lists them."""
    roles = {entry["name"] for entry in json.loads(baton("roles", "--json"))}
    assert roles, "`baton roles --json` listed no role"
    return roles


def engine_partitions():
    match = re.search(r"var partitions: Int32 = (\d+)", ENGINE_CONFIGURATION.read_text())
    return int(match.group(1)) if match else None


# --- Every file parses ---------------------------------------------------------------------


@pytest.mark.parametrize("path", yaml_files(COMPOSE) + yaml_files(DEPLOY), ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses(path):
    docs = load_all(path)
    assert docs, f"{path} holds no YAML document"
    assert all(isinstance(doc, dict) for doc in docs), f"{path}: every document must be a mapping"


def test_there_are_manifests():
    assert (COMPOSE / "docker-compose.yaml").is_file()
    assert (DEPLOY / "kustomization.yaml").is_file()
    assert len(k8s_objects()) >= 10


def test_every_k8s_object_is_identified():
    for path, obj in k8s_objects():
        where = f"{path.relative_to(ROOT)}: {obj.get('kind')}"
        assert obj.get("apiVersion"), f"{where} has no apiVersion"
        assert obj.get("kind"), f"{path.relative_to(ROOT)}: an object has no kind"
        assert obj.get("metadata", {}).get("name"), f"{where} has no metadata.name"
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "baton", f"{where} is not in namespace baton"


def test_object_names_are_unique():
    seen = set()
    for path, obj in k8s_objects():
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in seen, f"{path.relative_to(ROOT)}: {key} is defined twice"
        seen.add(key)


# --- Configuration variables ---------------------------------------------------------------


def test_every_baton_variable_is_documented():
    documented = documented_variables()
    sources = yaml_files(COMPOSE) + yaml_files(DEPLOY) + [DOCKERFILE, DEPLOY / "images" / "jobs.Dockerfile"]
    for path in sources:
        used = set(BATON_VARIABLE.findall(path.read_text()))
        unknown = sorted(used - documented)
        assert not unknown, f"{path.relative_to(ROOT)} uses {unknown}, which README.md's configuration table lacks"


def test_compose_services_get_connection_settings():
    for name, service in compose_file()["services"].items():
        if not is_baton_image(service.get("image", "")):
            continue
        env = service.get("environment", {})
        assert isinstance(env, dict), f"compose service {name}: use the mapping form of environment"
        assert "BATON_DATABASE_URL" in env, f"compose service {name} has no BATON_DATABASE_URL"
        assert "BATON_KAFKA_BROKERS" in env, f"compose service {name} has no BATON_KAFKA_BROKERS"


def test_k8s_workloads_get_the_secret():
    for path, obj in workloads():
        for container in baton_containers(obj):
            refs = [ref["secretRef"]["name"] for ref in container.get("envFrom", []) if "secretRef" in ref]
            assert "baton-secrets" in refs, f"{path.relative_to(ROOT)}: {obj['metadata']['name']} lacks baton-secrets"


# --- Roles and pools -----------------------------------------------------------------------


def roles_of(argv, env):
    values = flag_values(argv, "--roles") or ([env["BATON_ROLES"]] if env.get("BATON_ROLES") else [])
    return [role for value in values for role in split_list(value)]


def compose_roles():
    """service name -> roles, for compose services that run `baton serve`."""
    result = {}
    for name, service in compose_file()["services"].items():
        argv = as_argv(service.get("command"))
        if argv[:1] == ["serve"]:
            result[name] = roles_of(argv, service.get("environment") or {}) or sorted(serve_roles())
    return result


def k8s_roles():
    """Deployment name -> roles."""
    result = {}
    for _, obj in workloads():
        for container in baton_containers(obj):
            argv = container_argv(container)
            if argv[:1] == ["serve"]:
                result[obj["metadata"]["name"]] = roles_of(argv, container_env(container)) or sorted(serve_roles())
    return result


def test_roles_are_known():
    for where, roles in [*compose_roles().items(), *k8s_roles().items()]:
        assert roles, f"{where} names no role"
        unknown = set(roles) - serve_roles()
        assert not unknown, f"{where}: unknown roles {sorted(unknown)}; roles are {sorted(serve_roles())}"


@pytest.mark.parametrize("source", ["compose", "deploy"])
def test_every_role_runs_somewhere(source):
    roles = compose_roles() if source == "compose" else k8s_roles()
    running = {role for names in roles.values() for role in names}
    missing = sorted(serve_roles() - running)
    assert not missing, f"{source}/ runs no {missing}; `baton roles` lists {sorted(serve_roles())}"


def k8s_env(obj):
    """The settings a Baton Deployment's container sees: ConfigMaps it names, then its env."""
    maps = {o["metadata"]["name"]: o.get("data", {}) for _, o in k8s_objects() if o["kind"] == "ConfigMap"}
    env = {}
    for container in baton_containers(obj):
        for ref in container.get("envFrom", []):
            env.update(maps.get(ref.get("configMapRef", {}).get("name"), {}))
        env.update(container_env(container))
    return env


def role_settings():
    """(where, roles, settings) for every compose service and Deployment that runs `baton serve`."""
    services = compose_file()["services"]
    deployments = {o["metadata"]["name"]: o for _, o in workloads()}
    return [(f"compose service {name}", roles, services[name].get("environment") or {})
            for name, roles in compose_roles().items()] + [
        (f"Deployment {name}", roles, k8s_env(deployments[name])) for name, roles in k8s_roles().items()]


def test_mirror_runs_where_mlflow_is_set():
    for where, roles, env in role_settings():
        if "mirror" in roles:
            assert env.get("BATON_MLFLOW_URI"), f"{where} runs the mirror without BATON_MLFLOW_URI"


def test_api_listens_on_every_interface():
    ports = {}
    for where, roles, env in role_settings():
        if "api" in roles:
            address = env.get("BATON_API_ADDRESS", "127.0.0.1:8088")
            ports[where] = metrics_address_port(address, where, "BATON_API_ADDRESS")
    assert ports, "no service runs the api role"
    for _, obj in workloads():
        if "api" in k8s_roles().get(obj["metadata"]["name"], []):
            where = f"Deployment {obj['metadata']['name']}"
            declared = {p["containerPort"] for c in baton_containers(obj) for p in c.get("ports", [])}
            assert ports[where] in declared, f"{where} does not declare the API port {ports[where]}"


def test_watcher_runs_beside_ray_stages():
    # Ray attempts outlive their worker: only a watcher adopts them and enforces their timeout.
    for source, roles in (("compose", compose_roles()), ("deploy", k8s_roles())):
        running = {role for names in roles.values() for role in names}
        if "worker" in running:
            assert "watcher" in running, f"{source}/ runs workers but no watcher"


def test_compose_worker_pools_are_given():
    for name, service in compose_file()["services"].items():
        argv = as_argv(service.get("command"))
        if argv[:1] == ["serve"] and "worker" in roles_of(argv, service.get("environment") or {}):
            assert flag_values(argv, "--pools"), f"compose service {name}: a worker names its --pools"


def scaled_objects():
    return [(p, o) for p, o in k8s_objects() if o["kind"] == "ScaledObject"]


# A postgresql trigger that keeps a pool's workers while attempts run inside them (gate, register,
# rollout, noop: everything but Ray attempts, which a watcher adopts).
IN_WORKER_QUERY = re.compile(
    r"SELECT count\(\*\) FROM stage_attempts WHERE pool = '([^']+)' AND state = 'running' AND kind <> 'ray'"
)


def test_keda_triggers_follow_the_deployments_pools():
    prefix = topic_prefix()
    brokers = config_map()["BATON_KAFKA_BROKERS"]
    deployments = {o["metadata"]["name"]: o for _, o in k8s_objects() if o["kind"] == "Deployment"}
    assert scaled_objects(), "deploy/ has no KEDA ScaledObject"
    partitions = engine_partitions()
    for path, obj in scaled_objects():
        where = f"{path.relative_to(ROOT)}: ScaledObject {obj['metadata']['name']}"
        target = obj["spec"]["scaleTargetRef"]
        assert target.get("kind", "Deployment") == "Deployment", where
        deployment = deployments.get(target["name"])
        assert deployment is not None, f"{where} targets a Deployment that deploy/ lacks: {target['name']}"
        assert "replicas" not in deployment["spec"], f"{where}: the HPA owns replicas; drop them from the Deployment"
        pools = deployment_pools(deployment)
        assert "worker" in k8s_roles()[target["name"]], f"{where} scales a Deployment that runs no worker"
        triggered, guarded = [], []
        for trigger in obj["spec"]["triggers"]:
            meta = trigger["metadata"]
            if trigger["type"] == "postgresql":
                match = IN_WORKER_QUERY.fullmatch(meta["query"])
                assert match, f"{where}: unexpected postgresql query {meta['query']!r}"
                assert match.group(1) in pools, f"{where}: the query counts pool {match.group(1)}, not one of {pools}"
                env = meta.get("connectionFromEnv")
                assert env == "BATON_DATABASE_URL", f"{where}: connectionFromEnv should be the database URL"
                assert float(meta["targetQueryValue"]) == 1, f"{where}: one pod per running attempt"
                guarded.append(match.group(1))
                continue
            assert trigger["type"] == "kafka", f"{where}: unexpected trigger type {trigger['type']}"
            group, topic = meta["consumerGroup"], meta["topic"]
            match = re.fullmatch(re.escape(prefix) + r"\.worker\.([A-Za-z0-9_-]+)", group)
            assert match, f"{where}: consumerGroup {group!r} is not {prefix}.worker.<pool>"
            pool = match.group(1)
            assert topic == f"{prefix}.stage.ready.{pool}", (
                f"{where}: topic {topic!r} is not {prefix}.stage.ready.{pool}"
            )
            assert pool in pools, f"{where}: pool {pool} is not among the Deployment's --pools {pools}"
            assert meta["bootstrapServers"] == brokers, f"{where}: bootstrapServers differ from BATON_KAFKA_BROKERS"
            assert int(meta["lagThreshold"]) > 0, where
            triggered.append(pool)
        assert sorted(triggered) == sorted(pools), f"{where}: triggers for {triggered}, Deployment serves {pools}"
        spec = obj["spec"]
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"], where
        if partitions:
            assert spec["maxReplicaCount"] <= partitions, f"{where}: more replicas than the {partitions} partitions"
        if spec["minReplicaCount"] == 0:
            assert sorted(guarded) == sorted(pools), (
                f"{where} scales to zero: every pool needs a postgresql trigger counting its in-worker attempts, "
                f"or a scale-in ends a running canary (pools {pools}, guarded {guarded})"
            )
        else:
            # cooldownPeriod only delays the step to zero; set on a pool that never gets there it
            # suggests a scale-in delay that does not exist (the HPA behavior below is that).
            assert "cooldownPeriod" not in spec, f"{where}: cooldownPeriod does nothing without minReplicaCount 0"


def test_keda_scales_in_gently():
    for path, obj in scaled_objects():
        where = f"{path.relative_to(ROOT)}: ScaledObject {obj['metadata']['name']}"
        behavior = obj["spec"].get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior", {})
        down = behavior.get("scaleDown")
        assert down, f"{where}: no advanced.horizontalPodAutoscalerConfig.behavior.scaleDown"
        # Lag drops to zero as soon as workers claim a burst, long before its attempts end.
        assert down.get("stabilizationWindowSeconds", 0) >= 120, f"{where}: scale-in follows every dip of the lag"
        assert down.get("policies"), f"{where}: no scale-in rate limit"
        for policy in down["policies"]:
            assert (policy["type"], policy["value"]) == ("Pods", 1), f"{where}: scale in one pod at a time"


def test_scale_to_zero_is_safe():
    zero = [o for _, o in scaled_objects() if o["spec"]["minReplicaCount"] == 0]
    if not zero:
        return
    # A queued attempt in a pool with no live worker fails after BATON_QUEUE_TIMEOUT_SECONDS; from
    # zero, a worker is live after KEDA's poll and the pod's start (at most its startup probe).
    timeout = int(config_map().get("BATON_QUEUE_TIMEOUT_SECONDS", "1800"))
    deployments = {o["metadata"]["name"]: o for _, o in k8s_objects() if o["kind"] == "Deployment"}
    for obj in zero:
        deployment = deployments[obj["spec"]["scaleTargetRef"]["name"]]
        probe = baton_containers(deployment)[0]["startupProbe"]
        start = obj["spec"].get("pollingInterval", 30) + probe["periodSeconds"] * probe["failureThreshold"]
        assert timeout > 3 * start, f"BATON_QUEUE_TIMEOUT_SECONDS {timeout} leaves no room to scale up from zero"
    assert "watcher" in {r for roles in k8s_roles().values() for r in roles}, "scaling to zero needs a watcher"


def test_every_worker_deployment_is_scaled():
    scaled = {o["spec"]["scaleTargetRef"]["name"] for _, o in k8s_objects() if o["kind"] == "ScaledObject"}
    for name, roles in k8s_roles().items():
        if "worker" in roles:
            assert name in scaled, f"worker Deployment {name} has no ScaledObject"


def test_every_pool_has_its_topic_provisioned():
    # Every role provisions the topics of BATON_POOLS at start; the pools workers consume must be among them.
    provisioned = set(split_list(config_map()["BATON_POOLS"]))
    for _, obj in workloads():
        if obj["kind"] == "Deployment" and "worker" in k8s_roles().get(obj["metadata"]["name"], []):
            missing = set(deployment_pools(obj)) - provisioned
            assert not missing, f"{obj['metadata']['name']}: pools {sorted(missing)} are missing from BATON_POOLS"


# --- Pod hardening and shutdown -------------------------------------------------------------


def test_baton_pods_are_hardened():
    uid = re.search(r"^USER (\d+)", DOCKERFILE.read_text(), re.MULTILINE)
    for path, obj in workloads():
        where = f"{path.relative_to(ROOT)}: {obj['metadata']['name']}"
        pod = obj["spec"]["template"]["spec"]
        assert pod.get("serviceAccountName") == "baton", where
        assert pod["securityContext"].get("runAsNonRoot") is True, where
        if uid:
            assert pod["securityContext"].get("runAsUser") == int(uid.group(1)), (
                f"{where}: uid differs from the image's"
            )
        for container in baton_containers(obj):
            context = container["securityContext"]
            assert context.get("readOnlyRootFilesystem") is True, where
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("capabilities", {}).get("drop") == ["ALL"], where
            assert container.get("resources", {}).get("requests"), f"{where}: no resource requests"
            assert container.get("resources", {}).get("limits", {}).get("memory"), f"{where}: no memory limit"


def shutdown_budget(env, where):
    """Seconds a `baton serve` may take after SIGTERM: BATON_SHUTDOWN_SECONDS (set explicitly, so
    the manifests do not lean on a default), then the cancelled roles' last chance."""
    assert "BATON_SHUTDOWN_SECONDS" in env, f"{where}: set BATON_SHUTDOWN_SECONDS next to the grace period"
    match = re.search(r"maximumCancellation = Duration\.seconds\((\d+)\)", SERVE_COMMAND.read_text())
    assert match, "ServeCommand.maximumCancellation was not found"
    return int(env["BATON_SHUTDOWN_SECONDS"]) + int(match.group(1))


def test_graceful_termination_outlasts_the_shutdown():
    budget = shutdown_budget(config_map(), "configmap.yaml")
    for name, roles in k8s_roles().items():
        pod = next(o for _, o in workloads() if o["metadata"]["name"] == name)["spec"]["template"]["spec"]
        assert pod.get("terminationGracePeriodSeconds", 30) > budget, (
            f"Deployment {name}: terminationGracePeriodSeconds must exceed {budget} s, or Kubernetes kills it mid-drain"
        )
    for name in compose_roles():
        service = compose_file()["services"][name]
        budget = shutdown_budget(service.get("environment") or {}, f"compose service {name}")
        grace = re.fullmatch(r"(\d+)s", str(service.get("stop_grace_period", "10s")))
        assert grace and int(grace.group(1)) > budget, (
            f"compose service {name}: stop_grace_period must exceed {budget} s"
        )


def test_replicated_roles_keep_one_through_drains():
    budgets = [o for _, o in k8s_objects() if o["kind"] == "PodDisruptionBudget"]
    for _, obj in workloads():
        if obj["kind"] != "Deployment" or "replicas" not in obj["spec"]:
            continue  # a Job, or KEDA's: a worker's attempt survives its pod (lease, adoption)
        name, replicas = obj["metadata"]["name"], obj["spec"]["replicas"]
        labels = obj["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        if replicas > 1:
            assert matching, f"Deployment {name} ({replicas} replicas) has no PodDisruptionBudget"
        for budget in matching:
            # A budget no eviction can meet blocks every node drain.
            assert budget["spec"].get("minAvailable", 0) < replicas, f"{budget['metadata']['name']} blocks drains"


def metrics_address_port(address, where, variable="BATON_METRICS_ADDRESS"):
    host, _, port = address.rpartition(":")
    assert host and port.isdigit(), f"{where}: {variable} {address!r} is not host:port"
    assert host not in ("127.0.0.1", "localhost", "::1", "[::1]"), (
        f"{where}: {variable} binds loopback; nothing outside the container can reach it"
    )
    return int(port)


def test_serve_pods_probe_the_metrics_port():
    port = metrics_address_port(config_map().get("BATON_METRICS_ADDRESS", "127.0.0.1:9464"), "configmap.yaml")
    for path, obj in workloads():
        for container in baton_containers(obj):
            if container_argv(container)[:1] != ["serve"]:
                continue
            where = f"{path.relative_to(ROOT)}: {obj['metadata']['name']}"
            ports = {p.get("name", p["containerPort"]): p["containerPort"] for p in container.get("ports", [])}
            for probe, path_ in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                get = container.get(probe, {}).get("httpGet")
                assert get, f"{where} has no {probe}"
                assert get["path"] == path_, f"{where}: {probe} should GET {path_}"
                assert ports.get(get["port"], get["port"]) == port, f"{where}: {probe} misses port {port}"


def test_compose_metrics_address_is_reachable():
    for name, service in compose_file()["services"].items():
        env = service.get("environment") or {}
        if "BATON_METRICS_ADDRESS" in env and as_argv(service.get("command"))[:1] == ["serve"]:
            metrics_address_port(env["BATON_METRICS_ADDRESS"], f"compose service {name}")


# --- Kustomization -------------------------------------------------------------------------


def test_kustomization_lists_every_manifest():
    kustomization = load_all(DEPLOY / "kustomization.yaml")[0]
    listed = kustomization.get("resources", [])
    for resource in listed:
        assert (DEPLOY / resource).is_file(), f"kustomization.yaml lists {resource}, which does not exist"
    holding_objects = {
        str(path.relative_to(DEPLOY))
        for path in k8s_files()
        if any("apiVersion" in obj and "kind" in obj for obj in load_all(path))
    }
    expected = {name for name in holding_objects if not name.endswith(TEMPLATE_SUFFIX)}
    assert sorted(set(listed)) == sorted(expected), "kustomization.yaml resources must be every manifest but templates"
    assert not [r for r in listed if r.endswith(TEMPLATE_SUFFIX)], "templates stay out of the kustomization"


def test_templates_hold_only_secrets():
    for path in DEPLOY.rglob("*" + TEMPLATE_SUFFIX):
        kinds = {obj["kind"] for obj in load_all(path)}
        assert kinds == {"Secret"}, f"{path.relative_to(ROOT)} should hold only Secret templates, not {kinds}"


def test_images_are_set_in_one_place():
    kustomization = load_all(DEPLOY / "kustomization.yaml")[0]
    names = {image["name"] for image in kustomization.get("images", [])}
    for path, obj in workloads():
        for container in baton_containers(obj):
            name = container["image"].rsplit(":", 1)[0]
            assert name in names, f"{path.relative_to(ROOT)}: image {name} is not set by kustomization images"


# --- Dockerfile ----------------------------------------------------------------------------


def dockerfile_instructions(path=DOCKERFILE):
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        instruction, _, arguments = current.partition(" ")
        lines.append((instruction.upper(), arguments.strip()))
        current = ""
    return lines


def final_stage(path=DOCKERFILE):
    instructions = dockerfile_instructions(path)
    start = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    return instructions[start:]


def image_copies(path=DOCKERFILE):
    """{source in the build context: path in the image} of the final stage's COPY instructions."""
    copies = {}
    for instruction, arguments in final_stage(path):
        if instruction == "COPY" and not arguments.startswith("--from"):
            parts = [part for part in arguments.split() if not part.startswith("--")]
            for source in parts[:-1]:
                copies[source.rstrip("/")] = parts[-1].rstrip("/")
    return copies


def image_env(path=DOCKERFILE):
    """The ENV settings of a Dockerfile's final stage."""
    env = {}
    for instruction, arguments in final_stage(path):
        if instruction == "ENV":
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def test_dockerfile_ships_migrations_where_baton_looks():
    copies = image_copies()
    assert "migrations" in copies, "the runtime image must COPY migrations/"
    assert "examples" in copies, "the runtime image must COPY examples/ (compose/README.md submits them)"
    assert image_env().get("BATON_MIGRATIONS_DIR") == copies["migrations"], (
        "BATON_MIGRATIONS_DIR must point at the copy"
    )


def test_dockerfile_builds_a_static_release_binary():
    text = DOCKERFILE.read_text()
    assert re.search(r"swift build -c release --product baton --static-swift-stdlib", text)
    stage = final_stage()
    assert ("ENTRYPOINT", '["baton"]') in stage
    assert ("CMD", '["serve"]') in stage
    users = [arguments for instruction, arguments in stage if instruction == "USER"]
    assert users and not users[-1].startswith("0") and users[-1] != "root", "the runtime image runs as non-root"
    assert any("librdkafka1" in arguments for instruction, arguments in stage if instruction == "RUN")


def test_dockerignore_keeps_build_state_out():
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for pattern in (".build", ".build-*", ".stack", ".git"):
        assert pattern in patterns, f".dockerignore lacks {pattern}"


# --- Secrets -------------------------------------------------------------------------------

CREDENTIAL_KEY = re.compile(r"(password|passwd|pwd|secret|token|apikey|api_key)", re.IGNORECASE)
# key=value or key: value pairs, in values and in comments (a commented example is copied too).
CREDENTIAL_PAIR = re.compile(r"(?:password|passwd|pwd|secret|token)[\w.-]*\s*[=:]\s*([^\s,;'\"]+)", re.IGNORECASE)


def url_passwords(text):
    for match in re.finditer(r"\b[a-z][a-z0-9+.-]*://[^\s'\"]+", text):
        try:
            password = urlsplit(match.group(0)).password
        except ValueError:
            continue
        if password is not None:
            yield password


def secret_objects():
    return [(p, o) for p, o in k8s_objects() if o["kind"] == "Secret"]


def test_secrets_hold_only_placeholders():
    assert secret_objects(), "deploy/ should carry the baton-secrets template"
    for path, obj in secret_objects():
        where = f"{path.relative_to(ROOT)}: Secret {obj['metadata']['name']}"
        assert "data" not in obj, f"{where}: use stringData, so a reviewer can see nothing real is in it"
        for key, value in (obj.get("stringData") or {}).items():
            value = str(value)
            for password in url_passwords(value):
                assert PLACEHOLDER.match(password), f"{where}: {key} has a password in its URL"
            if CREDENTIAL_KEY.search(key):
                assert PLACEHOLDER.match(value), f"{where}: {key} is not a placeholder"
        # Comments too: a commented example is the first thing someone copies.
        text = path.read_text()
        for password in url_passwords(text):
            assert PLACEHOLDER.match(password), f"{path.relative_to(ROOT)}: a URL carries a password"
        for value in CREDENTIAL_PAIR.findall(text):
            assert PLACEHOLDER.match(value), f"{path.relative_to(ROOT)}: {value!r} looks like a credential"


def test_baton_secrets_template_names_the_database_url():
    templates = {o["metadata"]["name"]: o for _, o in secret_objects()}
    assert "BATON_DATABASE_URL" in templates["baton-secrets"]["stringData"]


@pytest.mark.parametrize(
    "value,placeholder",
    [("REPLACE_ME", True), ("<password>", True), ("${DB_PASSWORD}", True), ("hunter2", False), ("baton", False)],
)
def test_placeholder_rule(value, placeholder):
    assert bool(PLACEHOLDER.match(value)) is placeholder


# --- Argo Rollouts (rollout stages with target argo) ---------------------------------------

ARGO_DRIVER = ROOT / "Sources" / "BatonArgo" / "ArgoRolloutDriver.swift"
ARGO_API_VERSION = "argoproj.io/v1alpha1"


def argo_objects(kind):
    return [obj for _, obj in k8s_objects() if obj.get("kind") == kind]


def driver_environment_names():
    """The env var names the driver sets, read from ArgoRolloutDriver.EnvironmentName."""
    return set(re.findall(r'public static let \w+ = "(MODEL_[A-Z0-9_]+)"', ARGO_DRIVER.read_text()))


def test_argo_objects_use_the_v1alpha1_api():
    kinds = {"Rollout", "AnalysisTemplate"}
    objects = [obj for _, obj in k8s_objects() if obj.get("kind") in kinds]
    assert {obj["kind"] for obj in objects} == kinds
    for obj in objects:
        assert obj["apiVersion"] == ARGO_API_VERSION, f"{obj['kind']} {obj['metadata']['name']}"


def test_rollout_steps_use_existing_analysis_templates():
    templates = {obj["metadata"]["name"] for obj in argo_objects("AnalysisTemplate")}
    for rollout in argo_objects("Rollout"):
        steps = rollout["spec"]["strategy"]["canary"]["steps"]
        kinds = {next(iter(step)) for step in steps}
        assert {"setWeight", "pause", "analysis"} <= kinds, f"{rollout['metadata']['name']}: {kinds}"
        weights = [step["setWeight"] for step in steps if "setWeight" in step]
        assert weights == sorted(weights) and all(0 < w <= 100 for w in weights)
        for step in steps:
            for used in step.get("analysis", {}).get("templates", []):
                assert used["templateName"] in templates, f"unknown AnalysisTemplate {used['templateName']}"


def test_analysis_templates_query_prometheus_for_success_rate_and_latency():
    metrics = {}
    for template in argo_objects("AnalysisTemplate"):
        for metric in template["spec"]["metrics"]:
            assert "prometheus" in metric["provider"], metric["name"]
            assert metric["provider"]["prometheus"]["query"].strip(), metric["name"]
            assert metric.get("successCondition"), f"{metric['name']} has no successCondition"
            metrics[metric["name"]] = metric
    assert {"success-rate", "latency-p95"} <= set(metrics)
    assert "histogram_quantile(0.95" in metrics["latency-p95"]["provider"]["prometheus"]["query"]


def test_rollout_container_carries_the_drivers_env_vars():
    names = driver_environment_names()
    assert names == {"MODEL_URI", "MODEL_VERSION", "MODEL_MD5"}
    for rollout in argo_objects("Rollout"):
        containers = rollout["spec"]["template"]["spec"]["containers"]
        server = [c for c in containers if c["name"] == "server"]
        assert server, "the example Rollout names its model container 'server' (BATON_ARGO_CONTAINER's default)"
        assert names <= {env["name"] for env in server[0].get("env", [])}


def test_argo_rbac_covers_what_the_driver_calls():
    roles = [obj for _, obj in k8s_objects() if obj["kind"] == "Role" and obj["metadata"]["name"] == "baton-argo"]
    assert len(roles) == 1
    granted = {}
    for rule in roles[0]["rules"]:
        assert rule["apiGroups"] == ["argoproj.io"]
        for resource in rule["resources"]:
            granted.setdefault(resource, set()).update(rule["verbs"])
    # GET and PATCH of the Rollout, PATCH of its status (abort), GET of AnalysisRuns.
    assert {"get", "list", "watch", "patch"} <= granted.get("rollouts", set())
    assert "patch" in granted.get("rollouts/status", set())
    assert "get" in granted.get("analysisruns", set())
    assert not {"create", "delete", "update", "*"} & set().union(*granted.values()), "more than the driver needs"
    source = ARGO_DRIVER.read_text()
    assert '"/status"' in source and "/analysisruns/" in source and "/rollouts/" in source
    bindings = [o for _, o in k8s_objects() if o["kind"] == "RoleBinding" and o["roleRef"]["name"] == "baton-argo"]
    assert bindings and bindings[0]["subjects"][0]["name"] == "baton"


# --- Object store (S3) ---------------------------------------------------------------------

S3_ROLES = {"worker", "api"}  # the stage cache HEADs outputs; `cache explain` through the API
AWS_SETTINGS = ("AWS_REGION", "AWS_ENDPOINT_URL_S3")
AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def ray_pod_templates():
    """(where, pod template) of every Ray pod deploy/ makes: RayCluster and RayService groups."""
    for _, obj in k8s_objects():
        if obj["kind"] in ("RayCluster", "RayService"):
            cluster = obj["spec"] if obj["kind"] == "RayCluster" else obj["spec"]["rayClusterConfig"]
            for group in [cluster["headGroupSpec"], *cluster.get("workerGroupSpecs", [])]:
                yield f"{obj['kind']} {obj['metadata']['name']} {group.get('groupName', 'head')}", group["template"]


def s3_refs(container):
    """The ConfigMap and the Secret a container takes its S3 settings and keys from."""
    refs = container.get("envFrom", [])
    maps = {r["configMapRef"]["name"] for r in refs if "configMapRef" in r}
    secrets = {r["secretRef"]["name"]: r["secretRef"].get("optional", False) for r in refs if "secretRef" in r}
    return maps, secrets


def test_artifact_root_is_s3():
    roots = {"configmap.yaml": config_map().get("BATON_ARTIFACT_ROOT", "")}
    roots.update({f"compose {n}": (s.get("environment") or {}).get("BATON_ARTIFACT_ROOT", "")
                  for n, s in compose_file()["services"].items() if n in compose_roles()})
    for where, root in roots.items():
        assert re.fullmatch(r"s3://[a-z0-9.-]{3,63}/[\w./-]+", root), (
            f"{where}: BATON_ARTIFACT_ROOT {root!r} is not s3://BUCKET/PREFIX"
        )


def test_k8s_s3_users_get_the_bucket_settings():
    s3_maps = {o["metadata"]["name"] for _, o in k8s_objects()
               if o["kind"] == "ConfigMap" and set(AWS_SETTINGS) & set(o.get("data", {}))}
    assert s3_maps, "no ConfigMap holds the AWS settings"
    users = [(f"Deployment {o['metadata']['name']}", c) for _, o in workloads()
             if S3_ROLES & set(k8s_roles().get(o["metadata"]["name"], [])) for c in baton_containers(o)]
    users += [(where, c) for where, template in ray_pod_templates() for c in template["spec"]["containers"]]
    assert len(users) > 4
    for where, container in users:
        maps, secrets = s3_refs(container)
        assert maps & s3_maps, f"{where} lacks the S3 ConfigMap"
        # Optional, so that IRSA (an annotated ServiceAccount) can stand in for keys.
        assert secrets.get("baton-s3-credentials") is True, f"{where} lacks the optional Secret baton-s3-credentials"


def test_config_maps_hold_no_credentials():
    for path, obj in k8s_objects():
        if obj["kind"] == "ConfigMap":
            for key, value in (obj.get("data") or {}).items():
                where = f"{path.relative_to(ROOT)}: ConfigMap {obj['metadata']['name']}: {key}"
                assert key not in AWS_KEYS and not CREDENTIAL_KEY.search(key), f"{where} belongs in a Secret"
                assert not list(url_passwords(str(value))), f"{where} carries a password"


def test_s3_credentials_template_names_the_keys():
    templates = {o["metadata"]["name"]: o for _, o in secret_objects()}
    assert set(AWS_KEYS) <= set(templates["baton-s3-credentials"]["stringData"])


def test_compose_s3_users_reach_seaweedfs():
    services = compose_file()["services"]
    bucket = urlsplit(services["baton-control"]["environment"]["BATON_ARTIFACT_ROOT"]).netloc
    init = " ".join(as_argv(services["seaweedfs-init"].get("command")))
    assert f"s3.bucket.create -name {bucket}" in init, f"seaweedfs-init does not create the bucket {bucket}"
    users = [n for n, roles in compose_roles().items() if S3_ROLES & set(roles)] + ["ray-head"]
    for name in users:
        env = services[name].get("environment") or {}
        missing = [k for k in (*AWS_SETTINGS, *AWS_KEYS) if not env.get(k)]
        assert not missing, f"compose service {name} lacks {missing}"
        host = urlsplit(env["AWS_ENDPOINT_URL_S3"]).hostname
        assert host in services, f"compose service {name}: S3 endpoint {host} is no compose service"
        assert "seaweedfs-init" in services[name].get("depends_on", {}), f"{name} may start before the bucket exists"


# --- Ray and Ray Serve ---------------------------------------------------------------------

def k8s_service_url(url, where):
    """(namespace-less service name, port) of an in-cluster URL http://NAME.NAMESPACE.svc:PORT."""
    parts = urlsplit(url)
    match = re.fullmatch(r"([a-z0-9-]+)\.baton\.svc(?:\.cluster\.local)?", parts.hostname or "")
    assert match, f"{where}: {url} is not a Service of namespace baton"
    return match.group(1), parts.port


def objects_of(kind):
    return [o for _, o in k8s_objects() if o["kind"] == kind]


def head_ports(cluster_spec):
    (head,) = cluster_spec["headGroupSpec"]["template"]["spec"]["containers"]
    return {port["name"]: port["containerPort"] for port in head["ports"]}


def test_ray_address_is_the_ray_cluster_head():
    # KubeRay names a RayCluster's head Service <cluster>-head-svc, and a RayService's
    # <rayservice>-head-svc (it follows the current cluster); the dashboard serves both APIs.
    settings = config_map()
    for variable, kind in (("BATON_RAY_ADDRESS", "RayCluster"), ("BATON_RAY_SERVE_ADDRESS", "RayService")):
        service, port = k8s_service_url(settings[variable], f"configmap.yaml {variable}")
        owners = {o["metadata"]["name"]: o for o in objects_of(kind)}
        owner = owners.get(service.removesuffix("-head-svc"))
        assert service.endswith("-head-svc") and owner, f"{variable} names {service}, not the head of a {kind} here"
        spec = owner["spec"] if kind == "RayCluster" else owner["spec"]["rayClusterConfig"]
        assert head_ports(spec).get("dashboard") == port, f"{variable}: port {port} is not the head's dashboard"
        assert spec["headGroupSpec"]["rayStartParams"].get("dashboard-host") == "0.0.0.0", (
            f"{kind}: the dashboard listens on loopback"
        )


def serve_config():
    (service,) = objects_of("RayService")
    return yaml.safe_load(service["spec"]["serveConfigV2"])


def test_ray_service_and_baton_agree_on_serve_options():
    config = serve_config()
    proxy = urlsplit(config_map()["BATON_RAY_SERVE_HTTP"])
    options = config.get("http_options", {})
    assert (options.get("host"), options.get("port")) == (proxy.hostname, proxy.port), (
        "serveConfigV2's http_options and BATON_RAY_SERVE_HTTP differ: KubeRay's and Baton's PUTs would flip them"
    )
    assert proxy.hostname == "0.0.0.0", "Serve's proxy must bind every interface for the serve Service"
    placement = re.search(r'"proxy_location": \.string\("(\w+)"\)', (ROOT / "Sources" / "BatonRayServe" /
                                                                     "RayServeCanaryApplications.swift").read_text())
    assert placement and config.get("proxy_location") == placement.group(1), "proxy_location differs from Baton's"
    (service,) = objects_of("RayService")
    assert head_ports(service["spec"]["rayClusterConfig"]).get("serve") == proxy.port


def test_ray_service_has_an_application_of_its_own():
    # With none, KubeRay never creates its Services and PUTs serveConfigV2 on every reconcile.
    apps = serve_config().get("applications") or []
    assert apps, "serveConfigV2 needs an application (deploy/README.md, Ray Serve: RayService and Baton)"
    for app in apps:
        assert app["import_path"] != "baton_serve.model:build", f"{app['name']}: a model version is Baton's to deploy"


def test_compose_ray_head_serves_baton():
    services = compose_file()["services"]
    env = services["baton-control"]["environment"]
    head = services[urlsplit(env["BATON_RAY_ADDRESS"]).hostname]
    argv = as_argv(head.get("command"))
    assert "--dashboard-host=0.0.0.0" in argv, "the Ray head's dashboard must listen beyond loopback"
    published = {str(p).rsplit(":", 1)[-1] for p in head.get("ports", [])}
    assert str(urlsplit(env["BATON_RAY_SERVE_HTTP"]).port) in published, "Serve's proxy port is not published"


# --- Prometheus ----------------------------------------------------------------------------

def test_prometheus_is_one_server():
    address = config_map()["BATON_PROMETHEUS_URL"]
    for template in argo_objects("AnalysisTemplate"):
        for metric in template["spec"]["metrics"]:
            assert metric["provider"]["prometheus"]["address"] == address, (
                f"AnalysisTemplate {template['metadata']['name']} queries another Prometheus than BATON_PROMETHEUS_URL"
            )


def test_pod_monitors_cover_baton_and_ray():
    monitors = objects_of("PodMonitor")
    baton_pods = [o["spec"]["template"] for _, o in workloads() if o["kind"] == "Deployment"]
    ray_pods = [template for _, template in ray_pod_templates()]
    for name, pods in (("Baton", baton_pods), ("Ray", ray_pods)):
        for pod in pods:
            labels = pod["metadata"]["labels"] | ({"ray.io/is-ray-node": "yes"} if name == "Ray" else {})
            covering = [m for m in monitors if m["spec"]["selector"]["matchLabels"].items() <= labels.items()]
            assert len(covering) == 1, (
                f"{name} pods {pod['metadata']['labels']} are scraped by {len(covering)} PodMonitors"
            )
            ports = {p.get("name") for c in pod["spec"]["containers"] for p in c.get("ports", [])}
            for endpoint in covering[0]["spec"]["podMetricsEndpoints"]:
                assert endpoint["port"] in ports, f"{name} pods have no port named {endpoint['port']}"


def test_compose_prometheus_scrapes_ray_and_every_role():
    compose = compose_file()
    config = yaml.safe_load(compose["configs"]["prometheus"]["content"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    names = {n for sd in jobs["baton"]["dns_sd_configs"] for n in sd["names"]}
    assert names == set(compose_roles()), f"Prometheus scrapes {sorted(names)}, Baton runs in {sorted(compose_roles())}"
    head = compose["services"]["ray-head"]
    export = next(a.split("=", 1)[1] for a in as_argv(head["command"]) if a.startswith("--metrics-export-port="))
    assert jobs["ray"]["static_configs"][0]["targets"] == [f"ray-head:{export}"]
    server = urlsplit(compose["services"]["baton-control"]["environment"]["BATON_PROMETHEUS_URL"]).hostname
    assert "prometheus" in {c["source"] for c in compose["services"][server].get("configs", [])}, (
        f"BATON_PROMETHEUS_URL names {server}, which is not the Prometheus configured here"
    )


# --- The Istio variant of the canary (deploy/istio, a kustomize Component) -------------------

def test_istio_component_routes_between_the_rollouts_services():
    istio = DEPLOY / "istio"
    component = load_all(istio / "kustomization.yaml")[0]
    patches = [entry["path"] for entry in component.get("patches", [])]
    listed = set(component.get("resources", [])) | set(patches)
    assert listed == {p.name for p in istio.glob("*.yaml")} - {"kustomization.yaml"}, "list every file of the Component"
    (patch,) = [load_all(istio / path)[0] for path in patches]
    (rollout,) = argo_objects("Rollout")
    assert (patch["kind"], patch["metadata"]["name"]) == ("Rollout", rollout["metadata"]["name"])
    canary = rollout["spec"]["strategy"]["canary"]
    routing = patch["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]["virtualService"]
    services = {o["metadata"]["name"]: o for path in component["resources"] for o in load_all(istio / path)}
    virtual = services[routing["name"]]
    assert virtual["kind"] == "VirtualService"
    routes = {route["name"]: route["route"] for route in virtual["spec"]["http"]}
    for name in routing["routes"]:
        destinations = {d["destination"]["host"]: d["weight"] for d in routes[name]}
        # Argo rewrites exactly these two weights; the stable Service takes all until a step.
        assert destinations == {canary["stableService"]: 100, canary["canaryService"]: 0}, destinations
