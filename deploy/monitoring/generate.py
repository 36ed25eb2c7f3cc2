"""Writes what deploy/monitoring/ derives from one source each.

    python3 deploy/monitoring/generate.py           write prometheus-rule.yaml and dashboards/*.json
    python3 deploy/monitoring/generate.py --check   exit 1 (naming the files) if a written file differs

- prometheus-rule.yaml: the PrometheusRule (Prometheus Operator) holding exactly the groups of
  prometheus/baton-rules.yml, the plain rules file the local stack's Prometheus loads. Edit the
  plain file, then run this.
- dashboards/*.json: the Grafana dashboards, from the definitions below (engine overview, a
  pipeline's stages, the model and its rollouts). Import them in Grafana, or provision them from
  the folder; each asks for its Prometheus data source (the one BATON_PROMETHEUS_URL names).

Needs PyYAML (the tools venv: "$BATON_PYTHON_TOOLS" deploy/monitoring/generate.py).
tests/test_monitoring_rules.py and tests/test_monitoring_metrics.py check the result.
"""

import argparse
import json
import pathlib
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
RULES = HERE / "prometheus" / "baton-rules.yml"
PROMETHEUS_RULE = HERE / "prometheus-rule.yaml"
DASHBOARDS = HERE / "dashboards"

PROMETHEUS_RULE_HEADER = """\
# Baton's alert rules for a Prometheus run by the Prometheus Operator. WRITTEN BY
# deploy/monitoring/generate.py FROM deploy/monitoring/prometheus/baton-rules.yml: edit that file
# (its comments say what each rule is for), then run the script. The Prometheus must select this
# object (its ruleSelector and ruleNamespaceSelector; kube-prometheus-stack selects its own Helm
# release label by default, so add that label here), and its Alertmanager routes the alerts:
# severity=critical pages, action=retrain also goes to Baton's POST /v1/hooks/alertmanager.
"""


# --- The PrometheusRule ----------------------------------------------------------------------


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (PromQL, descriptions) as literal blocks, the rest as PyYAML writes it."""


def _string(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _string)


def prometheus_rule():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    document = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "baton", "namespace": "baton", "labels": {"app.kubernetes.io/name": "baton"}},
        "spec": {"groups": groups},
    }
    return PROMETHEUS_RULE_HEADER + yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, width=120)


# --- Dashboards --------------------------------------------------------------------------------

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"


def panel(kind, title, targets, unit=None, width=12, height=8, description=None, **options):
    """A panel of `kind` whose targets are (expr, legend) pairs; laid out by `dashboard`."""
    result = {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
        "fieldConfig": {"defaults": {"unit": unit or "short"}, "overrides": []},
        "options": options,
        "gridPos": {"w": width, "h": height},
    }
    if description:
        result["description"] = description
    return result


def timeseries(title, targets, unit=None, **kwargs):
    return panel("timeseries", title, targets, unit, **kwargs)


def stat(title, expr, unit=None, description=None):
    return panel("stat", title, [(expr, "")], unit, width=4, height=4, description=description,
                 reduceOptions={"calcs": ["lastNotNull"]})


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"w": 24, "h": 1}}


def variable(name, query, label, multi=False):
    return {
        "type": "query", "name": name, "label": label, "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"}, "definition": query,
        "refresh": 2, "sort": 1, "multi": multi, "includeAll": multi,
        **({"allValue": ".*", "current": {"text": "All", "value": "$__all"}} if multi else {}),
    }


def dashboard(uid, title, description, panels, variables=()):
    """A Grafana dashboard (schema 39) whose panels flow left to right, top to bottom."""
    x = y = row_height = 0
    laid_out = []
    for number, item in enumerate(panels, start=1):
        item = dict(item, id=number)
        w, h = item["gridPos"]["w"], item["gridPos"]["h"]
        if x + w > 24:
            x, y, row_height = 0, y + row_height, 0
        item["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x, row_height = x + w, max(row_height, h)
        laid_out.append(item)
    source = {
        "type": "datasource", "name": "datasource", "label": "Prometheus", "query": "prometheus",
        "current": {}, "hide": 0,
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["baton"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "templating": {"list": [source, *variables]},
        "annotations": {"list": []},
        "links": [{"type": "dashboards", "tags": ["baton"], "title": "Baton", "asDropdown": True}],
        "panels": laid_out,
    }


def engine_overview():
    return dashboard("baton-engine", "Baton: engine overview",
                     "Backlogs, lag, runs and the health of Baton's roles (every `baton serve`).", [
        row("Now"),
        stat("Runs running", 'max(baton_runs{state="running"})'),
        stat("Runs stalled", "max(baton_runs_stalled)",
             description="Running runs with no attempt queued or running and no change for 5 minutes."),
        stat("Outbox pending", "max(baton_outbox_pending)"),
        stat("Oldest unpublished event", "max(baton_outbox_oldest_pending_seconds)", "s"),
        stat("Outbox parked", "max(baton_outbox_parked)"),
        stat("Dead letters (24 h)", "sum(increase(baton_dead_letters_total[24h]))"),
        timeseries("Baton alerts firing", [('sum by (alertname, severity) (ALERTS{alertname=~"Baton.*", alertstate="firing"})',
                                            "{{alertname}} ({{severity}})")], width=24, height=6),
        row("Runs and attempts"),
        timeseries("Runs ended per hour, by state",
                   [("sum by (state) (increase(baton_runs_finished_total[1h]))", "{{state}}")]),
        timeseries("Attempts queued and running, by pool",
                   [("max by (pool, state) (baton_attempts)", "{{pool}} {{state}}")]),
        timeseries("Queue wait p95 (stage.ready to claimed), by pool",
                   [(f"histogram_quantile(0.95, sum by (pool, le) (rate(baton_queue_wait_seconds_bucket[{RATE}])))",
                     "{{pool}}")], "s"),
        timeseries("Stage attempts ended, by state",
                   [(f"sum by (state) (rate(baton_stage_attempts_total[{RATE}]))", "{{state}}")], "ops"),
        timeseries("GPU-hours reserved and saved by the cache (per hour)", [
            ("sum(increase(baton_gpu_seconds_total[1h])) / 3600", "reserved"),
            ("sum(increase(baton_gpu_seconds_saved_total[1h])) / 3600", "saved by the cache"),
        ]),
        timeseries("Sweeper actions", [
            (f"sum by (action) (rate(baton_sweeper_actions_total[{RATE}]))", "{{action}}"),
            (f"sum(rate(baton_attempts_without_worker_total[{RATE}]))", "failed: no worker for the pool"),
        ], "ops"),
        row("Messaging"),
        timeseries("Outbox: published, parked, backlog", [
            (f"sum(rate(baton_outbox_published_total[{RATE}]))", "published/s"),
            (f"sum(rate(baton_outbox_parked_total[{RATE}]))", "parked/s"),
            ("max(baton_outbox_pending)", "pending"),
        ]),
        timeseries("Consumer lag, by group and topic",
                   [("sum by (group, topic) (max by (group, topic, partition) (baton_consumer_lag_messages))",
                     "{{group}} {{topic}}")]),
        timeseries("Event handling p95, by consumer",
                   [(f"histogram_quantile(0.95, sum by (consumer, le) (rate(baton_event_handling_seconds_bucket[{RATE}])))",
                     "{{consumer}}")], "s"),
        timeseries("Hand-off steps p95 (commit -> relay -> broker -> consumer), by consumer and step",
                   [(f"histogram_quantile(0.95, sum by (consumer, hop, le) (rate(baton_handoff_hop_seconds_bucket[{RATE}])))",
                     "{{consumer}} {{hop}}")], "s",
                   description="Each step of an event's way from its transaction to its consumer (docs/performance.md)."),
        timeseries("Handling retries and dead letters", [
            (f"sum by (consumer, failure) (rate(baton_handling_retries_total[{RATE}]))", "retry {{consumer}} ({{failure}})"),
            (f"sum by (consumer) (rate(baton_dead_letters_total[{RATE}]))", "dead letter {{consumer}}"),
            (f"sum(rate(baton_kafka_producer_rebuilds_total[{RATE}]))", "producer rebuilds"),
        ], "ops"),
        timeseries("Events handled, by type",
                   [(f"sum by (type) (rate(baton_events_handled_total[{RATE}]))", "{{type}}")], "ops"),
        row("Processes"),
        # job "baton" locally, "<namespace>/baton" from a ServiceMonitor.
        timeseries("CPU per baton process (cores)",
                   [(f"rate(process_cpu_seconds_total{{job=~\"(.*/)?baton\"}}[{RATE}])", "{{instance}}")]),
        timeseries("Memory per baton process", [
            ('process_resident_memory_bytes{job=~"(.*/)?baton"}', "{{instance}} resident"),
            ('process_max_resident_memory_bytes{job=~"(.*/)?baton"}', "{{instance}} peak"),
        ], "bytes"),
        row("Outside services"),
        timeseries("Calls to Ray, MLflow, Kubernetes, S3: by service and outcome",
                   [(f"sum by (service, outcome) (rate(baton_http_client_requests_total[{RATE}]))",
                     "{{service}} {{outcome}}")], "reqps"),
        timeseries("Call latency p95, by service and endpoint",
                   [(f"histogram_quantile(0.95, sum by (service, endpoint, le) (rate(baton_http_client_request_seconds_bucket[{RATE}])))",
                     "{{service}} {{endpoint}}")], "s"),
        timeseries("Ray job submission p95",
                   [(f"histogram_quantile(0.95, sum by (le) (rate(baton_ray_submit_seconds_bucket[{RATE}])))", "p95")],
                   "s"),
        timeseries("MLflow mirror", [
            ("max(baton_mlflow_mirror_lag_seconds)", "lag (s)"),
            ("max(baton_mlflow_mirror_runs_behind)", "runs behind"),
            ("max by (kind) (baton_mlflow_mirror_parked)", "parked {{kind}}s"),
            (f"sum(increase(baton_mlflow_mirror_failures_total[{RATE}]))", "failed passes"),
            (f"sum by (kind) (increase(baton_mlflow_mirror_parked_total[{RATE}]))", "newly parked {{kind}}s"),
        ]),
    ])


def pipeline_stages():
    selector = 'pipeline="$pipeline"'
    stages = f'{selector}, stage=~"$stage"'
    return dashboard("baton-pipeline", "Baton: a pipeline's stages",
                     "One pipeline: how its runs end, what its gate decides, and how long each stage takes.", [
        row("Runs"),
        stat("Runs ended (24 h)", f"sum(increase(baton_runs_finished_total{{{selector}}}[24h]))"),
        stat("Failed (24 h)", f'sum(increase(baton_runs_finished_total{{{selector}, state="failed"}}[24h]))'),
        stat("Gate rejections (24 h)",
             f'sum(increase(baton_gate_decisions_total{{{selector}, outcome="rejected"}}[24h]))'),
        stat("GPU-hours reserved (24 h)", f"sum(increase(baton_gpu_seconds_total{{{selector}}}[24h])) / 3600"),
        stat("GPU-hours saved by the cache (24 h)",
             f"sum(increase(baton_gpu_seconds_saved_total{{{selector}}}[24h])) / 3600"),
        stat("Failure rate (1 h)",
             f'sum(increase(baton_runs_finished_total{{{selector}, state="failed"}}[1h])) '
             f"/ sum(increase(baton_runs_finished_total{{{selector}}}[1h]))", "percentunit"),
        timeseries("Runs ended per hour, by state",
                   [(f"sum by (state) (increase(baton_runs_finished_total{{{selector}}}[1h]))", "{{state}}")]),
        timeseries("Gate decisions per hour",
                   [(f"sum by (outcome) (increase(baton_gate_decisions_total{{{selector}}}[1h]))", "{{outcome}}")]),
        row("Stages"),
        timeseries("Stage duration p95",
                   [(f"histogram_quantile(0.95, sum by (stage, le) (rate(baton_stage_duration_seconds_bucket{{{stages}}}[{RATE}])))",
                     "{{stage}}")], "s"),
        timeseries("Stage duration p50",
                   [(f"histogram_quantile(0.5, sum by (stage, le) (rate(baton_stage_duration_seconds_bucket{{{stages}}}[{RATE}])))",
                     "{{stage}}")], "s"),
        timeseries("Mean stage duration, by outcome",
                   [(f"sum by (stage, outcome) (rate(baton_stage_duration_seconds_sum{{{stages}}}[1h])) "
                     f"/ sum by (stage, outcome) (rate(baton_stage_duration_seconds_count{{{stages}}}[1h]))",
                     "{{stage}} {{outcome}}")], "s"),
        timeseries("Stage attempts ended per hour, by outcome",
                   [(f"sum by (stage, outcome) (increase(baton_stage_duration_seconds_count{{{stages}}}[1h]))",
                     "{{stage}} {{outcome}}")]),
        timeseries("GPU-hours per hour: reserved and saved", [
            (f"sum(increase(baton_gpu_seconds_total{{{selector}}}[1h])) / 3600", "reserved"),
            (f"sum(increase(baton_gpu_seconds_saved_total{{{selector}}}[1h])) / 3600", "saved by the cache"),
        ], width=24),
    ], variables=[
        variable("pipeline", "label_values(baton_runs_finished_total, pipeline)", "Pipeline"),
        variable("stage", 'label_values(baton_stage_duration_seconds_count{pipeline="$pipeline"}, stage)', "Stage",
                 multi=True),
    ])


def model_rollouts():
    model = 'model="$model"'
    return dashboard("baton-model", "Baton: the model and its rollouts",
                     "The served model as users see it (Ray Serve's router), its live accuracy and drift, "
                     "and its canary rollouts.", [
        row("Quality (evaluation on traffic)"),
        timeseries("Live accuracy (alert below 0.85)",
                   [(f"min(baton_model_live_accuracy{{{model}}})", "accuracy")], "percentunit"),
        timeseries("Drift score (alert above 0.2)",
                   [(f"max(baton_model_drift_score{{{model}}})", "drift")]),
        row("Serving"),
        timeseries("Requests per second, by version and role",
                   [(f"sum by (version, role) (rate(ray_baton_serve_requests_total{{{model}}}[{RATE}]))",
                     "v{{version}} {{role}}")], "reqps"),
        timeseries("Error rate, by version",
                   [(f'sum by (version) (rate(ray_baton_serve_requests_total{{{model}, outcome="error"}}[{RATE}])) '
                     f"/ sum by (version) (rate(ray_baton_serve_requests_total{{{model}}}[{RATE}]))", "v{{version}}")],
                   "percentunit"),
        timeseries("Latency p95 and p50, by version", [
            (f"histogram_quantile(0.95, sum by (version, le) (rate(ray_baton_serve_latency_ms_bucket{{{model}}}[{RATE}])))",
             "p95 v{{version}}"),
            (f"histogram_quantile(0.5, sum by (version, le) (rate(ray_baton_serve_latency_ms_bucket{{{model}}}[{RATE}])))",
             "p50 v{{version}}"),
        ], "ms"),
        timeseries("Alerts on this model",
                   [(f'sum by (alertname, alertstate) (ALERTS{{{model}}})', "{{alertname}} {{alertstate}}")]),
        row("Rollouts"),
        timeseries("Candidate weight (%)", [(f"max(baton_rollout_weight{{{model}}})", "candidate weight")], "percent"),
        timeseries("Canary analyses per hour, by result",
                   [(f"sum by (result) (increase(baton_rollout_analyses_total{{{model}}}[1h]))", "{{result}}")]),
        timeseries("Champion restores by the sweeper, by target and outcome",
                   [("sum by (target, outcome) (increase(baton_serve_restores_total[1h]))", "{{target}} {{outcome}}")]),
        timeseries("Gate decisions per hour (all pipelines)",
                   [("sum by (pipeline, outcome) (increase(baton_gate_decisions_total[1h]))",
                     "{{pipeline}} {{outcome}}")]),
    ], variables=[variable("model", "label_values(ray_baton_serve_requests_total, model)", "Model")])


DASHBOARD_BUILDERS = {
    "engine-overview.json": engine_overview,
    "pipeline-stages.json": pipeline_stages,
    "model-rollouts.json": model_rollouts,
}


# --- Writing -----------------------------------------------------------------------------------


def outputs():
    """{path: text} of every file this script writes."""
    files = {PROMETHEUS_RULE: prometheus_rule()}
    for name, build in DASHBOARD_BUILDERS.items():
        files[DASHBOARDS / name] = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; fail if a file is not up to date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    names = ", ".join(str(path.relative_to(HERE.parent.parent)) for path in stale)
    if args.check and stale:
        print(f"not up to date (run deploy/monitoring/generate.py): {names}", file=sys.stderr)
        return 1
    if stale:
        print(f"wrote {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
