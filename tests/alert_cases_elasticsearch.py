"""promtool cases for Elasticsearch's alerts (components/rules/elasticsearch.py), with the exporter's
series as v1.9.0 labels them and the ServiceMonitor relabels them (cluster health by `color` and
`cluster`, scraped as `es_cluster`; node metrics by `name`; snapshot stats by `repository`)."""
from alert_cases_base import case

ES = 'namespace="monitoring",job="elasticsearch-exporter",es_cluster="elasticsearch"'
NODE = f'{ES},name="elasticsearch-es-default-0"'
ES_LABELS = {"namespace": "monitoring", "es_cluster": "elasticsearch"}
NODE_LABELS = {"namespace": "monitoring", "name": "elasticsearch-es-default-0"}
REPO = f'{ES},repository="s3-snapshots"'
REPO_LABELS = {"namespace": "monitoring", "repository": "s3-snapshots"}
GIB = 2**30


def health(color, values):
    return {f'elasticsearch_cluster_health_status{{{ES},color="{color}"}}': values}


def disk(used_share):
    """A 100 GiB data volume `used_share` full."""
    return {f"elasticsearch_filesystem_data_available_bytes{{{NODE},mount=\"/usr/share/elasticsearch/data\"}}":
            f"{int((1 - used_share) * 100 * GIB)}x30",
            f"elasticsearch_filesystem_data_size_bytes{{{NODE},mount=\"/usr/share/elasticsearch/data\"}}": f"{100 * GIB}x30"}


def heap(used_share):
    return {f'elasticsearch_jvm_memory_used_bytes{{{NODE},area="heap"}}': f"{int(used_share * GIB)}x30",
            f'elasticsearch_jvm_memory_max_bytes{{{NODE},area="heap"}}': f"{GIB}x30"}


ELASTICSEARCH_CASES = {
    "ElasticsearchExporterDown": case({'up{job="other"}': "1x20"}, {f"up{{{ES}}}": "1x20"}, "15m", {}),
    "ElasticsearchClusterRed": case(health("red", "1x20"), health("red", "0x20"), "10m", ES_LABELS),
    # Yellow for 40 minutes fires; yellow for 20 minutes (a node restarting) does not.
    "ElasticsearchClusterYellow": case(health("yellow", "1x45"), health("yellow", "0x20 1x25"), "40m", ES_LABELS),
    "ElasticsearchUnassignedShards": case({f"elasticsearch_cluster_health_unassigned_shards{{{ES}}}": "3x45"},
                                          {f"elasticsearch_cluster_health_unassigned_shards{{{ES}}}": "0x45"},
                                          "40m", ES_LABELS),
    "ElasticsearchDiskHighWatermark": case(disk(0.92), disk(0.80), "15m", NODE_LABELS),
    "ElasticsearchDiskFloodStage": case(disk(0.97), disk(0.92), "15m", NODE_LABELS),
    "ElasticsearchHeapPressure": case(heap(0.95), heap(0.70), "20m", NODE_LABELS),
    "ElasticsearchSnapshotFailed": case(
        {f"elasticsearch_snapshot_stats_snapshot_number_of_failures{{{REPO}}}": "2x80"},
        {f"elasticsearch_snapshot_stats_snapshot_number_of_failures{{{REPO}}}": "0x80"}, "75m", REPO_LABELS),
    # The exporter up with no repository's series, versus a repository reporting its snapshots.
    "ElasticsearchSnapshotRepositoryMissing": case(
        {f"up{{{ES}}}": "1x150"},
        {f"up{{{ES}}}": "1x150", f"elasticsearch_snapshot_stats_number_of_snapshots{{{REPO}}}": "3x150"},
        "140m", {"namespace": "monitoring"}),
    # The last snapshot's time stops moving (none for two days) versus one taken every day.
    "ElasticsearchSnapshotTooOld": case(
        {f"elasticsearch_snapshot_stats_latest_snapshot_timestamp_seconds{{{REPO}}}": "0x3000"},
        {f"elasticsearch_snapshot_stats_latest_snapshot_timestamp_seconds{{{REPO}}}": "0+60x3000"},
        "40h", REPO_LABELS),
}
