"""The module graph of Package.swift only points down.

docs/architecture.md states a level for every library target (its "Module levels" table);
this test reads that table and Package.swift and fails when a target depends on one at its own
level or above (an upward or sideways edge), when a target has no level, or when the table names
a target Package.swift does not have. Test targets and test support (under Tests/) may depend on
anything and are not checked.
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "Package.swift"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def levels(text):
    """{module: level} from the rows of the "Module levels" table: | 2 | `BatonRay`, ... |"""
    section = text.split("## Module levels", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*(\d+)\s*\|(.*)\|", line)
        if match:
            for module in re.findall(r"`([A-Za-z0-9-]+)`", match.group(2)):
                table[module] = int(match.group(1))
    return table


def targets(text):
    """{target: [our dependencies]} for the library and executable targets outside Tests/."""
    graph = {}
    starts = [m.start() for m in re.finditer(r"\.(target|executableTarget|systemLibrary|testTarget)\(", text)]
    for begin, end in zip(starts, starts[1:] + [len(text)]):
        block = text[begin:end]
        kind = re.match(r"\.(\w+)\(", block).group(1)
        name = re.search(r'name:\s*"([^"]+)"', block).group(1)
        if kind == "testTarget" or re.search(r'path:\s*"Tests/', block):
            continue
        deps = re.search(r"dependencies:\s*\[(.*?)\]\s*,?\s*(path|swiftSettings|\))", block, re.S)
        ours = re.findall(r'^\s*"([^"]+)"', deps.group(1), re.M) if deps else []
        ours += re.findall(r'\[\s*"([^"]+)"', deps.group(1)) if deps else []
        graph[name] = sorted(set(ours))
    return graph


def test_every_edge_points_down():
    table = levels(ARCHITECTURE.read_text())
    graph = targets(PACKAGE.read_text())
    assert graph, "no targets read from Package.swift"
    unplaced = sorted(set(graph) - set(table))
    assert not unplaced, f"targets with no level in docs/architecture.md: {unplaced}"
    stale = sorted(set(table) - set(graph))
    assert not stale, f"docs/architecture.md places modules Package.swift does not have: {stale}"
    bad = [
        f"{module} (level {table[module]}) -> {dependency} (level {table[dependency]})"
        for module, dependencies in graph.items()
        for dependency in dependencies
        if dependency in table and table[dependency] >= table[module]
    ]
    assert not bad, "upward or sideways edges: " + "; ".join(bad)


def test_the_checker_sees_a_sideways_edge():
    """The parser reads dependencies: a made-up sideways edge is reported."""
    package = PACKAGE.read_text().replace(
        'name: "BatonArgo",\n            dependencies: [\n',
        'name: "BatonArgo",\n            dependencies: [\n                "BatonKubeRay",\n',
    )
    assert package != PACKAGE.read_text(), "BatonArgo's declaration changed shape; update this test"
    graph = targets(package)
    table = levels(ARCHITECTURE.read_text())
    assert "BatonKubeRay" in graph["BatonArgo"]
    assert table["BatonKubeRay"] >= table["BatonArgo"]


def test_engine_and_drivers_do_not_import_each_other():
    """The engine names no platform driver, and no driver names the engine."""
    graph = targets(PACKAGE.read_text())
    drivers = {"BatonArgo", "BatonRayServe", "BatonKubeRay"}
    assert not drivers & set(graph["BatonEngine"]), graph["BatonEngine"]
    for driver in drivers:
        assert "BatonEngine" not in graph[driver], driver
