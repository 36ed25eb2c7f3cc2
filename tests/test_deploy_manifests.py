"""Offline checks of the deployment descriptions: Dockerfile, compose/ and deploy/.

Nothing here needs Docker or Kubernetes. The checks keep the manifests in step with the binary
and with each other: every ``BATON_*`` variable is one the README documents, every ``--roles``
value is a real role, each KEDA trigger watches the consumer group and topic of a pool its
Deployment actually serves, the kustomization lists every manifest, the image ships the
migrations where ``BATON_MIGRATIONS_DIR`` points, and no Secret carries a real credential.

Run with ``python3 -m pytest tests -q``.
"""

import pathlib
import re
import shlex
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

# The roles every deployment must run somewhere (DESIGN.md, "Moving parts"); `serve --roles`
# accepts the cases of ServeCommand.Role, read from the source (serve_roles).
ENGINE_ROLES = {"coordinator", "relay", "worker", "sweeper"}
# Secret values that are obviously not real.
PLACEHOLDER = re.compile(r"^(REPLACE_ME|CHANGE_ME|CHANGEME|<[^<>]+>|\$\{[^{}]+\}|\.\.\.)$")
# Template files (Secrets with placeholder values) stay out of the kustomization on purpose.
TEMPLATE_SUFFIX = ".template.yaml"
BATON_VARIABLE = re.compile(r"\bBATON_[A-Z0-9_]+\b")


def yaml_files(folder):
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml"))


def load_all(path):
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def k8s_files():
    return [p for p in yaml_files(DEPLOY) if p.name != "kustomization.yaml"]


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


def baton_containers(obj):
    return [c for c in containers(obj) if "baton" in c.get("image", "").rsplit("/", 1)[-1]]


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


def serve_roles():
    """The cases of ServeCommand.Role: what `serve --roles` accepts."""
    match = re.search(r"enum Role\b[^{]*\{\s*case ([a-z, ]+)", SERVE_COMMAND.read_text())
    assert match, "ServeCommand.Role was not found"
    return set(split_list(match.group(1)))


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
    sources = yaml_files(COMPOSE) + yaml_files(DEPLOY) + [DOCKERFILE]
    for path in sources:
        used = set(BATON_VARIABLE.findall(path.read_text()))
        unknown = sorted(used - documented)
        assert not unknown, f"{path.relative_to(ROOT)} uses {unknown}, which README.md's configuration table lacks"


def test_compose_services_get_connection_settings():
    for name, service in compose_file()["services"].items():
        if "baton" not in str(service.get("image", "")):
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


def test_engine_roles_are_serve_roles():
    assert ENGINE_ROLES <= serve_roles(), f"ServeCommand.Role lacks {sorted(ENGINE_ROLES - serve_roles())}"


def test_roles_are_known():
    for where, roles in [*compose_roles().items(), *k8s_roles().items()]:
        assert roles, f"{where} names no role"
        unknown = set(roles) - serve_roles()
        assert not unknown, f"{where}: unknown roles {sorted(unknown)}; roles are {sorted(serve_roles())}"


@pytest.mark.parametrize("source", ["compose", "deploy"])
def test_every_role_runs_somewhere(source):
    roles = compose_roles() if source == "compose" else k8s_roles()
    running = {role for names in roles.values() for role in names}
    assert ENGINE_ROLES <= running, f"{source}/ runs {sorted(running)}, not every role of {sorted(ENGINE_ROLES)}"


def test_compose_worker_pools_are_given():
    for name, service in compose_file()["services"].items():
        argv = as_argv(service.get("command"))
        if argv[:1] == ["serve"] and "worker" in roles_of(argv, service.get("environment") or {}):
            assert flag_values(argv, "--pools"), f"compose service {name}: a worker names its --pools"


def test_keda_triggers_follow_the_deployments_pools():
    prefix = topic_prefix()
    brokers = config_map()["BATON_KAFKA_BROKERS"]
    deployments = {o["metadata"]["name"]: o for _, o in k8s_objects() if o["kind"] == "Deployment"}
    scaled = [(p, o) for p, o in k8s_objects() if o["kind"] == "ScaledObject"]
    assert scaled, "deploy/ has no KEDA ScaledObject"
    partitions = engine_partitions()
    for path, obj in scaled:
        where = f"{path.relative_to(ROOT)}: ScaledObject {obj['metadata']['name']}"
        target = obj["spec"]["scaleTargetRef"]
        assert target.get("kind", "Deployment") == "Deployment", where
        deployment = deployments.get(target["name"])
        assert deployment is not None, f"{where} targets a Deployment that deploy/ lacks: {target['name']}"
        assert "replicas" not in deployment["spec"], f"{where}: the HPA owns replicas; drop them from the Deployment"
        pools = deployment_pools(deployment)
        assert "worker" in k8s_roles()[target["name"]], f"{where} scales a Deployment that runs no worker"
        triggered = []
        for trigger in obj["spec"]["triggers"]:
            assert trigger["type"] == "kafka", f"{where}: only kafka triggers are expected"
            meta = trigger["metadata"]
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
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"], where
        if partitions:
            assert spec["maxReplicaCount"] <= partitions, f"{where}: more replicas than the {partitions} partitions"


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
        if obj["kind"] == "Deployment":
            assert pod.get("terminationGracePeriodSeconds") == 45, f"{where}: graceful shutdown needs 45 s"


def metrics_address_port(address, where):
    host, _, port = address.rpartition(":")
    assert host and port.isdigit(), f"{where}: BATON_METRICS_ADDRESS {address!r} is not host:port"
    assert host not in ("127.0.0.1", "localhost", "::1", "[::1]"), (
        f"{where}: BATON_METRICS_ADDRESS binds loopback; probes and Prometheus cannot reach it"
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


def test_coordinator_has_a_disruption_budget():
    deployments = {o["metadata"]["name"]: o for _, o in k8s_objects() if o["kind"] == "Deployment"}
    coordinator = deployments["baton-coordinator"]
    labels = coordinator["spec"]["template"]["metadata"]["labels"]
    budgets = [o for _, o in k8s_objects() if o["kind"] == "PodDisruptionBudget"]
    matching = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
    assert matching, "no PodDisruptionBudget selects the coordinator's pods"
    assert coordinator["spec"]["replicas"] > matching[0]["spec"].get("minAvailable", 0)


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


def dockerfile_instructions():
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
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


def final_stage():
    instructions = dockerfile_instructions()
    start = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    return instructions[start:]


def test_dockerfile_ships_migrations_where_baton_looks():
    stage = final_stage()
    copies = {}
    for instruction, arguments in stage:
        if instruction == "COPY" and not arguments.startswith("--from"):
            parts = arguments.split()
            for source in parts[:-1]:
                copies[source.rstrip("/")] = parts[-1].rstrip("/")
    assert "migrations" in copies, "the runtime image must COPY migrations/"
    assert "examples" in copies, "the runtime image must COPY examples/ (compose/README.md submits them)"
    env = {}
    for instruction, arguments in stage:
        if instruction == "ENV":
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                env[key] = value
    assert env.get("BATON_MIGRATIONS_DIR") == copies["migrations"], "BATON_MIGRATIONS_DIR must point at the copy"


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
