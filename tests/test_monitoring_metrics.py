"""Every PromQL query in deploy/monitoring/ (alert rules and Grafana dashboards) names only metrics
that exist, with labels they have; every dashboard query parses; every metric Baton exports is on
a dashboard.

What exists: Baton's own catalog, as the built binary prints it (`baton metrics --json`: a JSON
array of {"name", "type", "help", "labels"}; BATON_BIN, else .build/debug/baton), plus the few
series that come from elsewhere, declared below with where they come from. A histogram `h` is
queried as h_bucket (with `le`), h_sum and h_count; a counter keeps the name the catalog gives it.
Every scraped series also has the target labels `job` and `instance`.
"""

import functools
import json
import re

import pytest
import yaml

from test_deploy_manifests import DEPLOY, baton
from test_monitoring_rules import RULES, run_promtool

DASHBOARDS = DEPLOY / "monitoring" / "dashboards"
TARGET_LABELS = {"job", "instance"}

# Ray's exporter names a Ray custom metric ray_<name>, adds _total to counters, and adds labels of its
# own (seen on the local stack's Prometheus: GET /api/v1/series?match[]=ray_baton_serve_latency_ms_bucket).
RAY_LABELS = {"Component", "NodeAddress", "SessionName", "Version", "WorkerId", "application", "deployment",
              "replica", "otel_scope_name", "ray_io_cluster", "ray_io_node_type"}
OTHER_METRICS = [
    # Ray Serve's weighted router (jobs/serve/baton_serve/router.py): metrics.Counter
    # "baton_serve_requests" and metrics.Histogram "baton_serve_latency_ms", as Ray exports them.
    {"name": "ray_baton_serve_requests_total", "type": "counter",
     "labels": ["model", "version", "role", "outcome", *RAY_LABELS]},
    {"name": "ray_baton_serve_latency_ms", "type": "histogram", "labels": ["model", "version", "role", *RAY_LABELS]},
    # The served model's watch, exported by the reference pipeline's evaluation-on-traffic job
    # (jobs/, issue 12 item 5) as plain Prometheus gauges, one series per model.
    {"name": "baton_model_live_accuracy", "type": "gauge", "labels": ["model"]},
    {"name": "baton_model_drift_score", "type": "gauge", "labels": ["model"]},
    # Prometheus itself: whether a target's last scrape worked, and the alerts its rules hold
    # (labels: alertname, alertstate and every label of the alert; None means any).
    {"name": "up", "type": "gauge", "labels": []},
    {"name": "ALERTS", "type": "gauge", "labels": None},
]
KINDS = {"counter", "gauge", "histogram"}


# --- The catalog -------------------------------------------------------------------------------


@functools.cache
def baton_catalog():
    """`baton metrics --json`, checked for the shape the dashboards and this test rely on."""
    try:
        entries = json.loads(baton("metrics", "--json"))
    except pytest.fail.Exception as error:
        pytest.fail(f"Baton's metric catalog is unavailable, so no query can be checked: {error}")
    except json.JSONDecodeError as error:
        pytest.fail(f"`baton metrics --json` did not print JSON: {error}")
    assert isinstance(entries, list) and entries, "`baton metrics --json` printed no metric"
    for entry in entries:
        kind = entry.get("type", entry.get("kind"))
        assert kind in KINDS, f"`baton metrics --json`: {entry.get('name')} has type {kind!r}"
        # process_*: the process's own CPU and memory, named as Prometheus' process collector names them.
        assert re.fullmatch(r"(baton|process)_[a-z0-9_]+", entry["name"]), f"not a Baton metric name: {entry['name']}"
        assert isinstance(entry.get("labels"), list), f"{entry['name']}: labels must be a list"
        assert entry.get("help"), f"{entry['name']} has no help text"
        if kind == "counter":
            assert entry["name"].endswith("_total"), f"counter {entry['name']} must end in _total"
    return [dict(entry, type=entry.get("type", entry.get("kind"))) for entry in entries]


def series_labels(catalog):
    """{series name: label names it may carry, or None for any} of a catalog."""
    series = {}
    for entry in catalog:
        labels = None if entry["labels"] is None else set(entry["labels"]) | TARGET_LABELS
        if entry["type"] == "histogram":
            series[entry["name"] + "_bucket"] = None if labels is None else labels | {"le"}
            series[entry["name"] + "_sum"] = labels
            series[entry["name"] + "_count"] = labels
        else:
            series[entry["name"]] = labels
    return series


@functools.cache
def known_series():
    names = [entry["name"] for entry in baton_catalog()]
    clash = {entry["name"] for entry in OTHER_METRICS} & set(names)
    assert not clash, f"`baton metrics --json` now lists {clash}: drop them from OTHER_METRICS"
    return series_labels(baton_catalog() + OTHER_METRICS)


# --- Reading PromQL ----------------------------------------------------------------------------

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<variable>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)[a-zA-Z]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<matchop>=~|!~|!=|==|>=|<=)
  | (?P<punct>[{}(),=<>+\-*/%^@])
""", re.VERBOSE)
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
                "quantile", "limitk", "limit_ratio"}
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"}


def tokens(expr):
    position, result = 0, []
    while position < len(expr):
        match = TOKEN.match(expr, position)
        if not match:
            raise ValueError(f"cannot read {expr[position:position + 20]!r} in {expr!r}")
        position = match.end()
        if match.lastgroup != "space":
            result.append((match.lastgroup, match.group()))
    return result


def selectors(expr):
    """[(metric name, {label: value})] of every series selector in a PromQL expression (the name
    from __name__ where the selector has no name before its braces)."""
    found, items, i = [], tokens(expr), 0

    def matchers(start):
        """The matchers of the braces opening at items[start]; returns them and the index after."""
        labels, j = {}, start + 1
        while items[j][1] != "}":
            if items[j][1] == ",":
                j += 1
                continue
            name, value = items[j][1], items[j + 2][1]
            labels[name] = value[1:-1] if items[j + 2][0] == "string" else value
            j += 3
        return labels, j + 1

    while i < len(items):
        kind, text = items[i]
        following = items[i + 1][1] if i + 1 < len(items) else None
        if kind == "ident" and text in LABEL_LISTS:
            i += 1
            if following == "(":
                while items[i][1] != ")":
                    i += 1
                i += 1
        elif kind == "ident" and (text in AGGREGATIONS or text in KEYWORDS or following == "("):
            i += 1
        elif kind == "ident":
            labels, i = matchers(i + 1) if following == "{" else ({}, i + 1)
            found.append((text, labels))
        elif text == "{":
            labels, i = matchers(i)
            found.append((labels.pop("__name__", None), labels))
        else:
            i += 1
    return found


def grafana_selectors(query):
    """Selectors of a Grafana query: PromQL, or a variable's label_values(selector, label)."""
    match = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", query)
    return selectors(match.group(1) if match else query)


def problems(expr, series, parse=selectors):
    """What is wrong with the metrics and labels an expression names, in words."""
    result = []
    for name, labels in parse(expr):
        if name is None:
            result.append(f"a selector without a metric name in {expr!r}")
        elif name not in series:
            result.append(f"unknown metric {name} in {expr!r}")
        elif series[name] is not None and set(labels) - series[name]:
            result.append(f"{name} has no label {sorted(set(labels) - series[name])} in {expr!r}")
    return result


# --- Where the queries are ---------------------------------------------------------------------


def rule_expressions():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [(rule.get("alert") or rule["record"], rule["expr"]) for group in groups for rule in group["rules"]]


def dashboards():
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def dashboard_queries():
    """(where, query) of every panel target and every query variable of every dashboard."""
    queries = []
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                queries.append((f"{name}: {panel['title']}", target["expr"]))
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                query = variable["query"]
                queries.append((f"{name}: ${variable['name']}", query["query"] if isinstance(query, dict) else query))
    return queries


def test_the_dashboards_exist():
    assert set(dashboards()) == {"engine-overview.json", "pipeline-stages.json", "model-rollouts.json"}
    uids = [board["uid"] for board in dashboards().values()]
    assert len(set(uids)) == len(uids), "two dashboards share a uid"
    assert len(dashboard_queries()) >= 40


@pytest.mark.parametrize("where, expr", rule_expressions(), ids=[name for name, _ in rule_expressions()])
def test_rules_name_only_exported_metrics(where, expr):
    assert problems(expr, known_series()) == []


def test_dashboards_name_only_exported_metrics():
    found = [f"{where}: {problem}" for where, query in dashboard_queries()
             for problem in problems(query, known_series(), grafana_selectors)]
    assert found == [], "\n".join(found)


def test_every_baton_metric_is_on_a_dashboard():
    shown = {re.sub(r"_(bucket|sum|count)$", "", name) for _, query in dashboard_queries()
             for name, _ in grafana_selectors(query) if name}
    missing = sorted(entry["name"] for entry in baton_catalog() if entry["name"] not in shown)
    assert missing == [], f"metrics Baton exports that no dashboard shows: {missing}"


# Grafana's variables, replaced by values Prometheus parses (the way Grafana does before it asks).
GRAFANA_VALUES = {"$__rate_interval": "1m", "$__range": "1h", "$pipeline": "korean-llm", "$stage": ".*",
                  "$model": "korean-llm"}


def test_dashboard_queries_parse(tmp_path):
    """promtool checks each panel query as Prometheus would parse it, in a rules file of its own."""
    rules = []
    for number, (where, query) in enumerate(q for q in dashboard_queries() if "label_values(" not in q[1]):
        for name, value in sorted(GRAFANA_VALUES.items(), key=lambda item: -len(item[0])):
            query = query.replace(name, value)
        assert "$" not in query, f"{where}: an unknown Grafana variable in {query!r}"
        rules.append({"record": f"dashboard:query_{number}", "expr": query})
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run_promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- The reader itself -------------------------------------------------------------------------


@pytest.mark.parametrize("expr, expected", [
    ("max(baton_runs_stalled) > 0", [("baton_runs_stalled", {})]),
    ('sum by (pool, le) (rate(baton_queue_wait_seconds_bucket{pool="gpu"}[5m]))',
     [("baton_queue_wait_seconds_bucket", {"pool": "gpu"})]),
    ("a unless on (pool) b offset 15m", [("a", {}), ("b", {})]),
    ('{__name__="baton_outbox_pending", job="baton"}', [("baton_outbox_pending", {"job": "baton"})]),
    ('rate(x_total{model="$model", version!~"1|2"}[$__rate_interval]) / ignoring (outcome) group_left y',
     [("x_total", {"model": "$model", "version": "1|2"}), ("y", {})]),
    ("histogram_quantile(0.95, sum by (le) (rate(h_bucket[1m]))) * 1e3 > bool 2", [("h_bucket", {})]),
    ("topk(3, count_values(\"v\", m))", [("m", {})]),
])
def test_the_reader_finds_every_selector(expr, expected):
    assert selectors(expr) == expected


def test_an_unknown_metric_or_label_is_reported():
    series = series_labels([{"name": "baton_runs", "type": "gauge", "labels": ["state"]},
                            {"name": "baton_queue_wait_seconds", "type": "histogram", "labels": ["pool"]}])
    assert problems('max(baton_runs{state="running"})', series) == []
    assert problems('baton_queue_wait_seconds_bucket{pool="gpu", le="+Inf", job="baton"}', series) == []
    assert problems("max(baton_run)", series) == ["unknown metric baton_run in 'max(baton_run)'"]
    assert problems('max(baton_runs{stat="running"})', series) == [
        "baton_runs has no label ['stat'] in 'max(baton_runs{stat=\"running\"})'"]
    # A histogram is queried through its series, never by its own name.
    assert problems("rate(baton_queue_wait_seconds[5m])", series) != []
    assert grafana_selectors("label_values(baton_runs{state=\"x\"}, state)") == [("baton_runs", {"state": "x"})]

