"""Elasticsearch's dashboard (logs.backend elasticsearch | both), from the exporter's metrics
(elasticsearch_exporter v1.9.0, the catalog's `elasticsearch-exporter`): cluster health and shards, each
node's data disk against the watermarks the alerts use, JVM heap, indexing, snapshots, and the ECK pods'
resources. The exporter's `cluster` label is scraped as `es_cluster` (components/elk/elasticsearch.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.components.elk import elasticsearch
from stackgen.components.rules.elasticsearch import FLOOD_STAGE, HEAP_PRESSURE, HIGH_WATERMARK
from stackgen.dashboards.panels import STACK, Board, Row, namespace_var, prom, stat, table, text, timeseries
from stackgen.dashboards.stack_panels import TAGS, agg, or_none, rate, resources, sel, since

if TYPE_CHECKING:
    from stackgen.config import StackConfig

UID = "stack-elasticsearch"
JOB = 'job="elasticsearch-exporter"'
HEALTH = "elasticsearch_cluster_health"
SHARD_STATES = ("active", "relocating", "initializing", "unassigned")
HEAP = 'area="heap"'
SNAPSHOT = "elasticsearch_snapshot_stats"


def by_node(op: str, metric: str, *matchers: str) -> str:
    return agg(op, metric, JOB, *matchers, by="name")


def line(value: float, legend: str):
    return prom(f"vector({value})", legend)


def kibana(stack: StackConfig):
    return text("Kibana",
                "Logs are searched in Kibana (the clinical document's 15 saved searches): "
                f"`kubectl -n {stack.namespace} port-forward service/kibana-kb-http 5601`, then "
                "https://localhost:5601 with the `elastic` user (ECK's `elasticsearch-es-elastic-user` Secret).",
                width=6, height=8)


def overview(stack: StackConfig) -> list:
    return [
        table("Cluster health", "The cluster's status: green (every shard allocated), yellow (a replica "
              "unassigned), red (a primary unassigned).",
              prom(f"max by (es_cluster, color) ({HEALTH}_status{sel(JOB)}) == 1", "{{es_cluster}} {{color}}",
                   instant=True), width=6, height=4),
        stat("Nodes", "Nodes in the cluster, as its health reports them.",
             prom(agg("max", f"{HEALTH}_number_of_nodes", JOB, by="es_cluster"), "{{es_cluster}}")),
        stat("Unassigned shards", "Shards no node holds: above 0 the cluster is yellow or red.",
             prom(agg("max", f"{HEALTH}_unassigned_shards", JOB, by="es_cluster"), "{{es_cluster}}")),
        since("Since last snapshot", "Time since the latest successful snapshot in any repository "
              "(the nightly snapshot lifecycle policy).", f"{SNAPSHOT}_latest_snapshot_timestamp_seconds", JOB),
        timeseries("Health by color", "1 for the cluster's current status, 0 for the others.",
                   prom(agg("max", f"{HEALTH}_status", JOB, by="es_cluster, color"), "{{es_cluster}} {{color}}"),
                   width=9),
        timeseries("Shards by state", "Active, relocating, initializing and unassigned shards.",
                   *(prom(agg("max", f"{HEALTH}_{state}_shards", JOB, by="es_cluster"), f"{{{{es_cluster}}}} {state}")
                     for state in SHARD_STATES), width=9),
        kibana(stack),
    ]


def nodes() -> list:
    disk_used = (f"1 - {by_node('max', 'elasticsearch_filesystem_data_available_bytes')}"
                 f" / {by_node('max', 'elasticsearch_filesystem_data_size_bytes')}")
    heap_used = (f"{by_node('max', 'elasticsearch_jvm_memory_used_bytes', HEAP)}"
                 f" / {by_node('max', 'elasticsearch_jvm_memory_max_bytes', HEAP)}")
    return [
        Row("Nodes"),
        timeseries("Data disk used by node", f"Share of each node's data volume in use, against the high "
                   f"watermark ({HIGH_WATERMARK:.0%}: shards move away) and the flood stage ({FLOOD_STAGE:.0%}: "
                   "indices turn read-only and log writes are refused).",
                   prom(disk_used, "{{name}}"), line(HIGH_WATERMARK, "high watermark"),
                   line(FLOOD_STAGE, "flood stage"), unit="percentunit", width=8),
        timeseries("JVM heap by node", "Heap each node's JVM uses, and its maximum.",
                   prom(by_node("max", "elasticsearch_jvm_memory_used_bytes", HEAP), "{{name}} used"),
                   prom(by_node("max", "elasticsearch_jvm_memory_max_bytes", HEAP), "{{name}} max"),
                   unit="bytes", width=8),
        timeseries("JVM heap used share", f"Heap used over its maximum; above {HEAP_PRESSURE:.0%} for long, "
                   "garbage collection pauses and circuit-breaker rejections follow.",
                   prom(heap_used, "{{name}}"), line(HEAP_PRESSURE, "alert threshold"), unit="percentunit", width=8),
        Row("Indexing"),
        timeseries("Indexing rate by node", "Documents each node indexes per second (primaries and replicas).",
                   prom(rate("elasticsearch_indices_indexing_index_total", JOB, by="name"), "{{name}}"),
                   unit="short"),
        timeseries("Documents by node", "Documents each node holds (replicas counted on the node holding them).",
                   prom(by_node("max", "elasticsearch_indices_docs"), "{{name}}"), unit="short"),
    ]


def snapshots() -> list:
    return [
        Row("Snapshots"),
        timeseries("Snapshots by repository", "Snapshots each repository holds (the lifecycle policy deletes "
                   "those past its retention).",
                   prom(agg("max", f"{SNAPSHOT}_number_of_snapshots", JOB, by="repository"), "{{repository}}"),
                   width=8),
        timeseries("Age of the latest snapshot", "Time since the latest successful snapshot of each repository.",
                   prom(f"time() - max by (repository) ({SNAPSHOT}_latest_snapshot_timestamp_seconds{sel(JOB)})",
                        "{{repository}}"), unit="s", width=8),
        timeseries("Snapshot failures", "Shard failures of each repository's latest snapshot (\"none\": no "
                   "snapshot taken yet).",
                   prom(or_none(agg("max", f"{SNAPSHOT}_snapshot_number_of_failures", JOB, by="repository"),
                                "repository"), "{{repository}}"), width=8),
    ]


def board(stack: StackConfig) -> Board:
    return Board(
        UID, "Stack / Elasticsearch", STACK,
        "Elasticsearch on ECK, the log store Fluent Bit writes to: cluster health and shards, each node's disk "
        "and heap, indexing, snapshots to S3 and the pods' resources.",
        [*overview(stack), *nodes(), *snapshots(), *resources("elasticsearch", "elasticsearch-es-.*")],
        [namespace_var(stack.namespace, f"{HEALTH}_status")], ["stack-fluent-bit", "k8s-namespace-pods"],
        tags=TAGS)


def boards(stack: StackConfig) -> list[Board]:
    return [board(stack)] if elasticsearch.enabled(stack) else []
