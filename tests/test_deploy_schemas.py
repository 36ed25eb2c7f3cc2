"""Schema validation of what deploy/ and compose/ hand to Kubernetes and Docker Compose.

deploy/ is rendered as `kubectl apply -k` would: with kubectl (PATH, or BATON_KUBECTL) when there
is one, else with the small renderer below, which does the kustomize features deploy/ uses and
is checked against kubectl wherever both exist. The Istio Component is rendered through an
overlay of the kind deploy/istio/kustomization.yaml describes.

Every object must then validate as the API server would take it, unknown fields rejected:
Kubernetes' own kinds against the schemas kubernetes-validate ships, custom resources against
the CRD schemas vendored in tests/schemas/crd (sources and versions: tests/schemas/README.md).
compose/docker-compose.yaml must validate against the Compose Specification's schema. Each
validator is also shown a broken document, which it must reject.
"""

import copy
import json
import os
import pathlib
import shutil
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml

from test_deploy_manifests import COMPOSE, DEPLOY, ROOT, compose_file

SCHEMAS = ROOT / "tests" / "schemas"
# The oldest Kubernetes release deploy/README.md supports, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


# --- Rendering -----------------------------------------------------------------------------


def kubectl():
    found = os.environ.get("BATON_KUBECTL") or shutil.which("kubectl")
    return found if found and os.access(found, os.X_OK) else None


def render_with_kubectl(folder):
    result = subprocess.run([kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kubectl kustomize {folder} failed: {result.stderr.strip()[-2000:]}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch: how kustomize applies a patch to a custom resource."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def set_images(node, images):
    """kustomize's image transformer: every containers[]/initContainers[] image, at any depth."""
    if isinstance(node, list):
        for item in node:
            set_images(item, images)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    name, _, _ = container.get("image", "").partition(":")
                    if name in images:
                        rule = images[name]
                        container["image"] = f"{rule.get('newName', name)}:{rule['newTag']}"
            set_images(value, images)


def render_with_python(folder):
    """The kustomize features deploy/ uses: resources (files and folders), components, patches
    of whole objects (merge patches, matched by kind and name), namespace, labels without
    selectors, image tags."""
    folder = pathlib.Path(folder)
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "resources", "components", "patches", "namespace", "labels", "images"}
    assert set(spec) <= known, f"{folder}: the fallback renderer does not know {sorted(set(spec) - known)}"
    objects = []
    for entry in spec.get("resources", []):
        path = (folder / entry).resolve()
        if path.is_dir():
            objects += render_with_python(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for entry in spec.get("components", []):
        component = (folder / entry).resolve()
        # A Component's patches see everything accumulated so far, its own resources too.
        objects = render_component(component, objects)
    objects = apply_patches(folder, spec, objects)
    for obj in objects:
        metadata = obj.setdefault("metadata", {})
        if spec.get("namespace") and obj["kind"] not in CLUSTER_SCOPED:
            metadata["namespace"] = spec["namespace"]
        for label in spec.get("labels", []):
            assert label.get("includeSelectors") is False, "the fallback renderer adds labels to metadata only"
            metadata.setdefault("labels", {}).update(label["pairs"])
    set_images(objects, {image["name"]: image for image in spec.get("images", [])})
    return objects


def render_component(folder, objects):
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert spec["kind"] == "Component", f"{folder} is not a Component"
    for entry in spec.get("resources", []):
        objects = objects + [doc for doc in yaml.safe_load_all((folder / entry).read_text()) if doc]
    return apply_patches(folder, spec, objects)


def apply_patches(folder, spec, objects):
    for entry in spec.get("patches", []):
        assert set(entry) == {"path"}, f"{folder}: the fallback renderer takes patches by path only"
        patch = yaml.safe_load((folder / entry["path"]).read_text())
        key = (patch["kind"], patch["metadata"]["name"])
        matches = [i for i, obj in enumerate(objects) if (obj["kind"], obj["metadata"]["name"]) == key]
        assert len(matches) == 1, f"{folder}/{entry['path']}: patches {key}, found {len(matches)} times"
        objects[matches[0]] = merge_patch(objects[matches[0]], patch)
    return objects


@pytest.fixture(scope="session")
def istio_overlay(tmp_path_factory):
    """An overlay of one's own beside the repository, as deploy/istio/kustomization.yaml shows."""
    folder = tmp_path_factory.mktemp("istio-overlay")
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # kustomize takes only relative paths to other kustomizations.
        "resources": [os.path.relpath(DEPLOY, folder)],
        "components": [os.path.relpath(DEPLOY / "istio", folder)],
    }))
    return folder


@pytest.fixture(scope="session", params=["deploy", "deploy+istio"])
def rendered(request, istio_overlay):
    """(name, objects) of each way to apply deploy/, rendered by kubectl or, without it, here."""
    folder = DEPLOY if request.param == "deploy" else istio_overlay
    objects = render_with_kubectl(folder) if kubectl() else render_with_python(folder)
    return request.param, objects


def identity(obj):
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def test_rendering_yields_the_expected_objects(rendered):
    name, objects = rendered
    kinds = {obj["kind"] for obj in objects}
    # Kinds deploy/ must always hold (its README's table): a render that lost files loses these.
    assert {"Deployment", "ScaledObject", "RayCluster", "RayService", "PodMonitor", "Rollout"} <= kinds, kinds
    assert ("VirtualService" in kinds) == (name == "deploy+istio")
    assert len({identity(obj) for obj in objects}) == len(objects), "an object is rendered twice"


@pytest.mark.skipif(not kubectl(), reason="no kubectl: the tests render with the fallback alone")
@pytest.mark.parametrize("overlay", [False, True], ids=["deploy", "deploy+istio"])
def test_fallback_renderer_matches_kubectl(overlay, istio_overlay):
    folder = istio_overlay if overlay else DEPLOY
    expected = {identity(obj): obj for obj in render_with_kubectl(folder)}
    actual = {identity(obj): obj for obj in render_with_python(folder)}
    assert sorted(actual) == sorted(expected)
    for key, obj in expected.items():
        assert actual[key] == obj, f"{key} renders differently without kubectl"


# --- Kubernetes objects --------------------------------------------------------------------


def crd_schema(obj):
    """The vendored schema of a custom resource, made as strict as the API server's field
    validation (kubectl's default): an object that lists its properties takes no others."""
    group, _, version = obj["apiVersion"].rpartition("/")
    path = SCHEMAS / "crd" / f"{obj['kind'].lower()}_{group}_{version}.json"
    assert path.is_file(), f"{obj['kind']} ({obj['apiVersion']}) has no vendored schema {path.relative_to(ROOT)}"
    schema = json.loads(path.read_text())
    # The API server takes these on every object, whether or not the CRD's schema lists them.
    for field, kind in (("apiVersion", "string"), ("kind", "string"), ("metadata", "object")):
        schema.setdefault("properties", {}).setdefault(field, {"type": kind})
    return strict(schema)


def strict(schema):
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict(value) for key, value in schema.items()}
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        result["additionalProperties"] = False
    return result


def validate(obj, version):
    """Raises jsonschema.ValidationError (kubernetes_validate's is one) for an object the API
    server of `version` would refuse: Kubernetes' kinds by their own schema, the rest by their CRD's."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.utils.SchemaNotFoundError:
        jsonschema.Draft7Validator(crd_schema(obj)).validate(obj)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_validates(rendered, version):
    name, objects = rendered
    problems = []
    for obj in objects:
        try:
            validate(obj, version)
        except jsonschema.ValidationError as error:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: {error.message} at {list(error.absolute_path)}")
    assert not problems, f"{name} on Kubernetes {version}:\n" + "\n".join(problems)


def broken(objects, kind, name, change):
    obj = copy.deepcopy(next(o for o in objects if (o["kind"], o["metadata"]["name"]) == (kind, name)))
    change(obj)
    return obj


# Each change makes an object the API server (or the CRD) refuses; the validator must see it.
BREAKAGES = {
    "Deployment: unknown container field": (
        "Deployment", "baton-coordinator", lambda o: o["spec"]["template"]["spec"]["containers"][0].update(
            livenessProbes={})),
    "Deployment: replicas as text": ("Deployment", "baton-coordinator", lambda o: o["spec"].update(replicas="two")),
    "ConfigMap: a number value": ("ConfigMap", "baton-config", lambda o: o["data"].update(BATON_LEASE_SECONDS=30)),
    "ScaledObject: misspelt field": ("ScaledObject", "baton-worker-gpu", lambda o: o["spec"].update(minReplicas=0)),
    "RayService: serveConfigV2 as a mapping": (
        "RayService", "baton-serve", lambda o: o["spec"].update(serveConfigV2={"applications": []})),
    "RayCluster: worker group without a name": (
        "RayCluster", "baton-ray", lambda o: o["spec"]["workerGroupSpecs"][0].pop("groupName")),
    "Rollout: unknown strategy field": (
        "Rollout", "model-server", lambda o: o["spec"]["strategy"]["canary"].update(stepz=[])),
    "PrometheusRule: a duration Prometheus cannot parse": (
        "PrometheusRule", "baton", lambda o: o["spec"]["groups"][0]["rules"][0].update({"for": "ten minutes"})),
    "PodMonitor: endpoints as a mapping": (
        "PodMonitor", "baton", lambda o: o["spec"].update(podMetricsEndpoints={"port": "metrics"})),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_object_is_refused(rendered, breakage):
    _, objects = rendered
    obj = broken(objects, *BREAKAGES[breakage])
    with pytest.raises(jsonschema.ValidationError):
        validate(obj, KUBERNETES_VERSIONS[-1])


def test_a_broken_virtual_service_is_refused(istio_overlay):
    objects = render_with_kubectl(istio_overlay) if kubectl() else render_with_python(istio_overlay)
    obj = broken(objects, "VirtualService", "model-server",
                 lambda o: o["spec"]["http"][0]["route"][0].update(weight="all"))
    with pytest.raises(jsonschema.ValidationError):
        validate(obj, KUBERNETES_VERSIONS[-1])


def test_a_kind_without_a_schema_is_refused():
    with pytest.raises(AssertionError, match="no vendored schema"):
        validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "1.29")


# --- Compose -------------------------------------------------------------------------------


def compose_validator():
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    return jsonschema.Draft7Validator(schema)


def test_compose_file_validates():
    errors = sorted(compose_validator().iter_errors(compose_file()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("change", [
    lambda c: c["services"]["baton-control"].update(commandline=["serve"]),
    lambda c: c["services"]["seaweedfs"].update(ports=8333),
    lambda c: c["configs"]["prometheus"].update(contents="x"),
], ids=["unknown service key", "ports as a number", "unknown config key"])
def test_a_broken_compose_file_is_refused(change):
    document = yaml.safe_load((COMPOSE / "docker-compose.yaml").read_text())
    change(document)
    assert list(compose_validator().iter_errors(document)), "the compose schema accepted a broken file"
