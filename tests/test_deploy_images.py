"""The images that compose/ and deploy/ run are the ones this repository builds, and hold what
those files expect, checked statically (no Docker engine needed):

- every image of ours that a manifest names is built by a Dockerfile here, and every compose
  `build` points at one;
- every Baton command a manifest runs is a real subcommand of the built binary, with real flags;
- the reference pipeline runs from the image: each `working_dir` of examples/ resolves under
  BATON_JOBS_ROOT to a folder the image copies, and each entrypoint module is in it;
- the jobs image puts jobs/ where Baton's image does (the KubeRay launcher sends that path) and
  runs the Ray version the RayCluster and RayService declare;
- every path an image's ENV names exists in that image.
"""

import functools
import re
import shlex

import pytest
import yaml

from test_deploy_manifests import (
    COMPOSE,
    DEPLOY,
    DOCKERFILE,
    ROOT,
    as_argv,
    baton,
    baton_containers,
    compose_file,
    container_argv,
    dockerfile_instructions,
    final_stage,
    image_copies,
    image_env,
    k8s_objects,
    load_all,
    workloads,
)

JOBS_DOCKERFILE = DEPLOY / "images" / "jobs.Dockerfile"
# What deploy/kustomization.yaml's image names are built from (deploy/README.md says the same).
K8S_IMAGES = {
    "registry.example.com/baton": (DOCKERFILE, {}),
    "registry.example.com/baton-jobs": (JOBS_DOCKERFILE, {"VARIANT": "cpu"}),
    "registry.example.com/baton-jobs-gpu": (JOBS_DOCKERFILE, {"VARIANT": "gpu"}),
}
VERSIONS = ROOT / "scripts" / "stack.d" / "versions.sh"


def image_has(dockerfile, path):
    """Whether `path` exists in the image: the WORKDIR, a COPY destination or a folder above
    one, or a file or folder below one whose source is in the repository."""
    path = path.rstrip("/")
    if ("WORKDIR", path) in final_stage(dockerfile):
        return True
    for source, target in image_copies(dockerfile).items():
        if path == target or target.startswith(path + "/"):
            return True
        if path.startswith(target + "/") and (ROOT / source / path[len(target) + 1:]).exists():
            return True
    return False


def dockerfile_args(dockerfile):
    """The defaults of a Dockerfile's ARGs."""
    args = {}
    for instruction, arguments in dockerfile_instructions(dockerfile):
        if instruction == "ARG" and "=" in arguments:
            key, _, value = arguments.partition("=")
            args.setdefault(key, value.strip('"'))
    return args


def base_image(dockerfile, build_args):
    """The final stage's FROM, with ARGs substituted."""
    args = dockerfile_args(dockerfile) | build_args
    (base,) = [a for i, a in final_stage(dockerfile) if i == "FROM"]
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base.split()[0])


# --- Images named by the manifests ---------------------------------------------------------


def k8s_images():
    """(where, image) of every container deploy/ runs, pod templates of custom resources included."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    found.extend((where, c["image"]) for c in value)
                walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for path, obj in k8s_objects():
        walk(obj, f"{path.relative_to(ROOT)}: {obj['kind']} {obj['metadata']['name']}")
    return found


def test_k8s_images_of_ours_are_built_here():
    kustomization = load_all(DEPLOY / "kustomization.yaml")[0]
    ours = {image["name"] for image in kustomization["images"]}
    assert ours == set(K8S_IMAGES), f"kustomization images {sorted(ours)} vs built here {sorted(K8S_IMAGES)}"
    used = set()
    for where, image in k8s_images():
        name = image.rsplit(":", 1)[0]
        if name.startswith("registry.example.com/") and name != "registry.example.com/model-server":
            assert name in K8S_IMAGES, f"{where} runs {name}, which no Dockerfile here builds"
            used.add(name)
    assert used == set(K8S_IMAGES), f"images set in kustomization.yaml but never run: {sorted(set(K8S_IMAGES) - used)}"
    for dockerfile, build_args in K8S_IMAGES.values():
        assert dockerfile.is_file(), dockerfile
        assert base_image(dockerfile, build_args)


def test_compose_builds_point_at_dockerfiles():
    built = {}
    for name, service in compose_file()["services"].items():
        if "build" in service:
            context = (COMPOSE / service["build"]["context"]).resolve()
            dockerfile = context / service["build"].get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"compose service {name} builds {dockerfile}, which does not exist"
            built[service["image"]] = dockerfile
    for name, service in compose_file()["services"].items():
        image = service.get("image", "")
        if image.endswith(":local"):
            assert image in built, f"compose service {name} runs {image}, which no service builds"
    assert set(built.values()) == {DOCKERFILE, JOBS_DOCKERFILE}


# --- Baton's commands ----------------------------------------------------------------------


@functools.cache
def subcommands():
    """The subcommands `baton --help` lists."""
    listing = baton("--help").split("SUBCOMMANDS:", 1)[1]
    names = set(re.findall(r"^  ([a-z][a-z-]*)\s", listing, re.MULTILINE))
    assert {"serve", "migrate"} <= names, f"`baton --help` lists {sorted(names)}"
    return names


@functools.cache
def subcommand_help(name):
    return baton(name, "--help")


def command_problems(argv):
    """Why the built binary would refuse `baton ARGV...`: an unknown subcommand or flag."""
    if not argv:
        return ["runs the image's default command; name it"]
    if argv[0] not in subcommands():
        return [f"`baton {argv[0]}` is no subcommand"]
    help_text = subcommand_help(argv[0])
    return [f"`baton {argv[0]}` has no {flag}" for flag in (a.split("=", 1)[0] for a in argv[1:] if a.startswith("--"))
            if not re.search(rf"(^|\s){re.escape(flag)}\b", help_text)]


def baton_commands():
    """(where, argv) of every Baton invocation in compose/ and deploy/ (the image's entrypoint is `baton`)."""
    commands = [(f"compose service {name}", as_argv(service.get("command")))
                for name, service in compose_file()["services"].items() if service.get("image") == "baton:local"]
    commands += [(f"{path.relative_to(ROOT)}: {obj['metadata']['name']}", container_argv(container))
                 for path, obj in workloads() for container in baton_containers(obj)]
    return commands


def test_baton_commands_exist():
    commands = baton_commands()
    assert len(commands) >= 10
    problems = [f"{where}: {problem}" for where, argv in commands for problem in command_problems(argv)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("argv", [["sever", "--roles", "api"], ["serve", "--role", "api"], []])
def test_a_command_the_binary_lacks_is_found(argv):
    assert command_problems(argv)


# --- The reference pipeline in the image ---------------------------------------------------


def ray_stages():
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        for stage in spec["stages"]:
            if stage.get("ray"):
                yield path, spec, stage


def test_working_dirs_resolve_inside_the_image():
    jobs_root = image_env()["BATON_JOBS_ROOT"]
    copies = {target: source for source, target in image_copies().items()}
    checked = 0
    for path, spec, stage in ray_stages():
        where = f"{path.relative_to(ROOT)} stage {stage['name']}"
        working_dir = stage["ray"].get("runtime_env", {}).get("working_dir")
        if not working_dir or "://" in working_dir:
            continue
        in_image = f"{jobs_root}/{working_dir}".rstrip("/")
        assert in_image in copies, f"{where}: working_dir {working_dir} is {in_image}, which the image does not copy"
        source = ROOT / copies[in_image]
        # `python -m package.module`: the module must be in the working_dir.
        argv = shlex.split(stage["ray"]["entrypoint"])
        if argv[:2] == ["python", "-m"]:
            module = source / argv[2].replace(".", "/")
            assert module.with_suffix(".py").is_file() or (module / "__main__.py").is_file(), (
                f"{where}: {argv[2]} is not in {copies[in_image]}/"
            )
        # Inputs named by param defaults are read relative to the working_dir.
        for name, reference in (stage.get("inputs") or {}).items():
            param = reference.removeprefix("params.")
            default = spec.get("params", {}).get(param, {}).get("default") if reference.startswith("params.") else None
            if isinstance(default, str) and "://" not in default and not default.startswith("/"):
                assert (source / default).exists(), f"{where}: input {name} ({default}) is not in {copies[in_image]}/"
        checked += 1
    assert checked >= 5, "examples/ has fewer Ray stages than the reference pipeline"


def test_serve_applications_are_in_the_image():
    # BATON_RAY_SERVE_APPS defaults to <jobs root>/jobs/serve (PlatformOptions.rayServeCanary).
    source = (ROOT / "Sources" / "baton" / "PlatformOptions.swift").read_text()
    match = re.search(r'jobsRoot\.appending\(path: "([^"]+)"\)', source)
    assert match, "the default of BATON_RAY_SERVE_APPS was not found"
    assert image_has(DOCKERFILE, f"{image_env()['BATON_JOBS_ROOT']}/{match.group(1)}")


def test_jobs_image_has_jobs_where_baton_sends_them():
    baton_jobs = image_copies(DOCKERFILE)["jobs"]
    assert image_copies(JOBS_DOCKERFILE).get("jobs") == baton_jobs, (
        "with BATON_RAY_LAUNCHER=kuberay Baton sends its own path of jobs/ as the working_dir"
    )
    for source in image_copies(JOBS_DOCKERFILE):
        assert (ROOT / source).exists(), f"jobs.Dockerfile copies {source}, which does not exist"


def test_jobs_image_runs_the_declared_ray_version():
    pinned = re.search(r"^RAY_VERSION=(\S+)", VERSIONS.read_text(), re.MULTILINE).group(1)
    for variant in ("cpu", "gpu"):
        assert base_image(JOBS_DOCKERFILE, {"VARIANT": variant}) == f"rayproject/ray:{pinned}-py311-{variant}"
    requirements = (ROOT / "jobs" / "requirements.txt").read_text()
    assert re.search(rf"^ray\[[^\]]*\]=={re.escape(pinned)}$", requirements, re.MULTILINE), "jobs/ pins another Ray"
    for path, obj in k8s_objects():
        if obj["kind"] in ("RayCluster", "RayService"):
            spec = obj["spec"] if obj["kind"] == "RayCluster" else obj["spec"]["rayClusterConfig"]
            assert spec["rayVersion"] == pinned, f"{path.relative_to(ROOT)}: rayVersion {spec['rayVersion']}"
    head = compose_file()["services"]["ray-head"]
    assert head["build"]["dockerfile"] == str(JOBS_DOCKERFILE.relative_to(ROOT))
    assert as_argv(head["command"])[0] == "ray", "the Ray head runs Ray's own CLI, from the base image"


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, JOBS_DOCKERFILE], ids=lambda p: str(p.relative_to(ROOT)))
def test_image_env_paths_exist(dockerfile):
    env = image_env(dockerfile)
    paths = [(key, part) for key, value in env.items() for part in value.split(":") if part.startswith("/")]
    assert paths, f"{dockerfile.relative_to(ROOT)} sets no path"
    for key, path in paths:
        assert image_has(dockerfile, path), f"{dockerfile.relative_to(ROOT)}: {key} names {path}, which the image lacks"
