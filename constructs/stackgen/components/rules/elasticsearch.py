"""Elasticsearch's alerts, from the exporter's metrics (elasticsearch_exporter v1.9.0): rendered with
`logs.backend: elasticsearch | both`. Disk thresholds are Elasticsearch's own watermarks (high 90%:
shards move away; flood stage 95%: its indices turn read-only and Fluent Bit's writes are refused).

With `logs.backend: elasticsearch` Loki is not rendered, so its rules go too (`adjust`): an alert on a
component that does not exist would fire for ever (LokiDown) or never.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.components.elk import elasticsearch
from stackgen.lib.alerts import Alert

if TYPE_CHECKING:
    from stackgen.config import StackConfig

JOB = "elasticsearch-exporter"
DISK_USED = ("1 - max by (namespace, name) (elasticsearch_filesystem_data_available_bytes) / "
             "max by (namespace, name) (elasticsearch_filesystem_data_size_bytes)")


# Elasticsearch's own disk watermarks (its defaults), and heap pressure; the dashboard draws the same lines.
HIGH_WATERMARK, FLOOD_STAGE, HEAP_PRESSURE = 0.90, 0.95, 0.9


def _disk(name: str, severity: str, threshold: float, what: str) -> Alert:
    return Alert(name, f"{DISK_USED} > $threshold", severity,
                 "Elasticsearch node {{ $labels.name }} data disk is {{ $value | humanizePercentage }} full",
                 f"The data volume of node {{{{ $labels.name }}}} is {{{{ $value | humanizePercentage }}}} full, above "
                 f"$threshold: {what}", "10m", threshold, "ratio")


def _rules(stack: StackConfig) -> list:
    health = "elasticsearch_cluster_health_status"
    return [
        Alert("ElasticsearchExporterDown", f'absent(up{{job="{JOB}"}} == 1)', "warning",
              "The Elasticsearch exporter is down",
              f"No {JOB} target has answered Prometheus for 10 minutes (absent={{{{ $value }}}}): Elasticsearch's "
              "health, disk and snapshots are not watched.", "10m"),
        Alert("ElasticsearchClusterRed", f'max by (namespace, es_cluster) ({health}{{color="red"}}) == 1', "critical",
              "Elasticsearch cluster {{ $labels.es_cluster }} is red",
              "Cluster {{ $labels.es_cluster }} has a primary shard unassigned (red={{ $value }}): some logs cannot be "
              "searched or written.", "5m"),
        Alert("ElasticsearchClusterYellow", f'max by (namespace, es_cluster) ({health}{{color="yellow"}}) == 1',
              "warning", "Elasticsearch cluster {{ $labels.es_cluster }} is yellow",
              "Cluster {{ $labels.es_cluster }} has replica shards unassigned (yellow={{ $value }}) for 30 minutes: "
              "one more node lost loses data.", "30m"),
        Alert("ElasticsearchUnassignedShards",
              "max by (namespace, es_cluster) (elasticsearch_cluster_health_unassigned_shards) > $threshold", "warning",
              "Elasticsearch cluster {{ $labels.es_cluster }} has {{ $value }} unassigned shards",
              "{{ $value }} shards of cluster {{ $labels.es_cluster }} have been unassigned for 30 minutes "
              "(threshold $threshold): check the allocation explanation.", "30m", 0),
        _disk("ElasticsearchDiskHighWatermark", "warning", HIGH_WATERMARK,
              "past the high watermark Elasticsearch moves shards away and allocates none here."),
        _disk("ElasticsearchDiskFloodStage", "critical", FLOOD_STAGE,
              "past the flood stage its indices are read-only and log writes are refused."),
        Alert("ElasticsearchHeapPressure",
              'max by (namespace, name) (elasticsearch_jvm_memory_used_bytes{area="heap"}) / '
              'max by (namespace, name) (elasticsearch_jvm_memory_max_bytes{area="heap"}) > $threshold', "warning",
              "Elasticsearch node {{ $labels.name }} uses {{ $value | humanizePercentage }} of its heap",
              "Node {{ $labels.name }} has used {{ $value | humanizePercentage }} of its JVM heap for 15 minutes "
              "(threshold $threshold): long GC pauses and circuit-breaker rejections follow.", "15m",
              HEAP_PRESSURE, "ratio"),
        Alert("ElasticsearchSnapshotFailed",
              "max by (namespace, repository) (elasticsearch_snapshot_stats_snapshot_number_of_failures) > $threshold",
              "warning", "Elasticsearch snapshots to {{ $labels.repository }} fail",
              "The latest snapshot in repository {{ $labels.repository }} reports {{ $value }} failures "
              "(threshold $threshold): some shards' logs are not backed up.", "1h", 0),
        # Without a registered repository the exporter reports no snapshot series, and the two alerts above
        # could never fire: the setup Job has not run to the end (its ILM policy is missing too).
        Alert("ElasticsearchSnapshotRepositoryMissing",
              f'count by (namespace) (up{{job="{JOB}"}} == 1) unless count by (namespace) '
              "(elasticsearch_snapshot_stats_number_of_snapshots)", "warning",
              "Elasticsearch has no snapshot repository",
              "The exporter answers but reports no snapshot repository for 2 hours ({{ $value }} exporter up in "
              "{{ $labels.namespace }}): the elasticsearch-setup Job has not completed, so neither snapshots nor "
              "the ILM retention policy may be in place.", "2h"),
        Alert("ElasticsearchSnapshotTooOld",
              "time() - max by (namespace, repository) "
              "(elasticsearch_snapshot_stats_latest_snapshot_timestamp_seconds) > $threshold", "warning",
              "No Elasticsearch snapshot in {{ $labels.repository }} for {{ $value | humanizeDuration }}",
              "The latest snapshot in repository {{ $labels.repository }} is {{ $value | humanizeDuration }} old "
              "(threshold $threshold): the nightly snapshot lifecycle policy is not running or failing.",
              "1h", 36 * 3600, "seconds"),
    ]


def _about_loki(rule) -> bool:
    """Loki's own alerts and recordings (LokiDown, ...:loki_...); shared ones (ring members) stay."""
    return "loki" in rule.name.lower()


def adjust(stack: StackConfig, areas: dict[str, list]) -> dict[str, list]:
    """The rule areas for this overlay's log backend."""
    if not elasticsearch.enabled(stack):
        return areas
    if not elasticsearch.loki_enabled(stack):
        areas = {area: [r for r in rules if not _about_loki(r)] for area, rules in areas.items()}
    return {**areas, "elasticsearch": _rules(stack)}
