"""Synthetic series of the Elasticsearch exporter (v1.9.0, `--es.all --collector.snapshots`) as
Prometheus stores them for hospital-elk; see synthetic.py for the conventions.

The exporter's own labels, merged with its ServiceMonitor target's (no honorLabels): cluster health by
`cluster` (and `color` for the status), which the monitor's metricRelabelings rename `es_cluster`; node
metrics by `name`, `host` and the node's roles; snapshot stats by `repository` (the latest snapshot's
also by `state` and `version`). ECK's pods themselves are synthetic.PODS' elasticsearch-es-default-N.
"""
from __future__ import annotations

from synthetic import NODES, PODS, Pod, Series, counter, gauge, target
from synthetic_stack import STACK, TIMESTAMP_NOW, Scraped

EXPORTER = Pod(STACK, "elasticsearch-exporter-6c9d8f7b5-esx01", NODES[1], "Deployment", "elasticsearch-exporter",
               ("exporter",), "10.0.2.60")
CLUSTER = {"es_cluster": "elasticsearch"}
GIB = 2**30
SHARDS = {"active": 12, "relocating": 0, "initializing": 0, "unassigned": 0}


def es_nodes() -> list[Pod]:
    return [p for p in PODS if p.workload == "elasticsearch-es-default"]


def node_labels(p: Pod) -> dict[str, str]:
    roles = {f"es_{role}_node": "true" for role in ("master", "data", "ingest", "client")}
    return {**CLUSTER, "name": p.name, "host": p.ip, **roles}


def cluster_health(m: Scraped) -> None:
    for color in ("green", "yellow", "red"):
        m.add("elasticsearch_cluster_health_status", {**CLUSTER, "color": color}, gauge(int(color == "green")))
    m.add("elasticsearch_cluster_health_number_of_nodes", CLUSTER, gauge(len(es_nodes())))
    for state, count in SHARDS.items():
        m.add(f"elasticsearch_cluster_health_{state}_shards", CLUSTER, gauge(count))


def node_stats(m: Scraped, p: Pod) -> None:
    labels = node_labels(p)
    data = {**labels, "mount": "/usr/share/elasticsearch/data (/dev/nvme1n1)", "path": "/usr/share/elasticsearch/data"}
    m.add("elasticsearch_filesystem_data_size_bytes", data, gauge(20 * GIB))
    m.add("elasticsearch_filesystem_data_available_bytes", data, gauge(14 * GIB))
    for area, used in (("heap", 0.3 * GIB), ("non-heap", 0.15 * GIB)):
        m.add("elasticsearch_jvm_memory_used_bytes", {**labels, "area": area}, gauge(used))
    m.add("elasticsearch_jvm_memory_max_bytes", {**labels, "area": "heap"}, gauge(0.5 * GIB))
    m.add("elasticsearch_indices_docs", labels, gauge(2_000_000))
    m.add("elasticsearch_indices_indexing_index_total", labels, counter(1200))


def snapshot_stats(m: Scraped) -> None:
    repository = {"repository": "s3-snapshots"}
    m.add("elasticsearch_snapshot_stats_number_of_snapshots", repository, gauge(30))
    m.add("elasticsearch_snapshot_stats_latest_snapshot_timestamp_seconds", repository, TIMESTAMP_NOW)
    m.add("elasticsearch_snapshot_stats_snapshot_number_of_failures",
          {**repository, "state": "SUCCESS", "version": "9.1.5"}, gauge(0))


def elasticsearch_exporter(s: Series) -> None:
    m = Scraped(s, target(EXPORTER, "elasticsearch-exporter", "http", 9114))
    cluster_health(m)
    for p in es_nodes():
        node_stats(m, p)
    snapshot_stats(m)


EXPORTERS = [elasticsearch_exporter]
