"""The log pipeline's dashboards: Loki (writes, reads, retention and compactor) and Fluent Bit, modelled on
the Loki mixin, for both layouts we render (single binary; write/read/backend).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.dashboards.panels import STACK, Board, Row, link_to, namespace_var, prom, stat, text, timeseries
from stackgen.dashboards.stack_panels import TAGS, agg, jobs, or_none, rate, red, resources, sel, siblings, since

if TYPE_CHECKING:
    from stackgen.config import StackConfig

LOKI = jobs("loki")
PUSH_ROUTES = 'route=~"loki_api_v1_push|api_prom_push|otlp_v1_logs"'
QUERY_ROUTES = 'route=~"loki_api_v1_.+", route!="loki_api_v1_push"'
LOKI_BOARDS = ["stack-loki-writes", "stack-loki-reads", "stack-loki-retention", "stack-fluent-bit"]


def loki_writes(stack: StackConfig) -> Board:
    return Board(
        "stack-loki-writes", "Stack / Loki / Writes", STACK,
        "Loki's write path: pushes from Fluent Bit at the distributors, lines and bytes accepted or discarded, "
        "the ingesters' streams and chunk flushes.",
        [
            stat("Lines received", "Log lines per second the distributors accepted.",
                 prom(rate("loki_distributor_lines_received_total", LOKI)), unit="short"),
            stat("Bytes received", "Uncompressed log bytes per second the distributors accepted.",
                 prom(rate("loki_distributor_bytes_received_total", LOKI)), unit="Bps"),
            stat("Streams in memory", "Streams the ingesters hold (each replica counts).",
                 prom(agg("sum", "loki_ingester_memory_streams", LOKI))),
            stat("Discarded lines", "Lines per second rejected by validation or limits.",
                 prom(or_none(rate("loki_discarded_samples_total", LOKI))), unit="short"),
            Row("Distributor"),
            *red("Push", "Push requests", "loki_request_duration_seconds", LOKI, PUSH_ROUTES),
            timeseries("Lines received by tenant", "Log lines per second accepted, by tenant.",
                       prom(rate("loki_distributor_lines_received_total", LOKI, by="tenant"), "{{tenant}}"), width=8),
            timeseries("Bytes received by tenant", "Uncompressed bytes per second accepted, by tenant.",
                       prom(rate("loki_distributor_bytes_received_total", LOKI, by="tenant"), "{{tenant}}"),
                       unit="Bps", width=8),
            timeseries("Discarded by reason", "Lines per second rejected, by reason (rate limit, too long, too "
                       "old, ...; \"none\": nothing was rejected).",
                       prom(or_none(rate("loki_discarded_samples_total", LOKI, by="reason"), "reason"), "{{reason}}"),
                       width=8),
            Row("Ingester"),
            *red("Ingester push", "Pushes from the distributors", "loki_request_duration_seconds", LOKI,
                 'route="/logproto.Pusher/Push"'),
            timeseries("Streams by pod", "Streams each ingester holds in memory.",
                       prom(agg("sum", "loki_ingester_memory_streams", LOKI, by="pod"), "{{pod}}"), width=8),
            timeseries("Chunks flushed by reason", "Chunks written to S3 per second, by why they were flushed.",
                       prom(rate("loki_ingester_chunks_flushed_total", LOKI, by="reason"), "{{reason}}"), width=8),
            timeseries("Flush queue and failures", "Chunks waiting to be flushed, and failed flushes per second: "
                       "a growing queue means S3 is slow or unreachable.",
                       prom(agg("sum", "loki_ingester_flush_queue_length", LOKI, by="pod"), "{{pod}} queued"),
                       prom(rate("loki_ingester_chunks_flush_failures_total", LOKI, by="pod"), "{{pod}} failed/s"),
                       width=8),
            *resources("loki", "loki-.*"),
        ],
        [namespace_var(stack.namespace, "loki_build_info")], siblings(LOKI_BOARDS, "stack-loki-writes"), tags=TAGS)


def loki_reads(stack: StackConfig) -> Board:
    return Board(
        "stack-loki-reads", "Stack / Loki / Reads", STACK,
        "Loki's read path as Grafana uses it: query API requests at the query-frontend and the queriers' "
        "requests to the ingesters.",
        [
            Row("Query API"),
            *red("Queries", "Query API requests (query, query_range, labels, series, ...)",
                 "loki_request_duration_seconds", LOKI, QUERY_ROUTES),
            Row("Querier to ingesters"),
            *red("Ingester queries", "Queries of recent data the ingesters answered",
                 "loki_request_duration_seconds", LOKI, 'route=~"/logproto.Querier/.*"'),
            *resources("loki", "loki-.*"),
        ],
        [namespace_var(stack.namespace, "loki_build_info")], siblings(LOKI_BOARDS, "stack-loki-reads"), tags=TAGS)


def loki_retention(stack: StackConfig) -> Board:
    compaction = "loki_boltdb_shipper_compact_tables_operation"
    retention = "loki_compactor_apply_retention_operation"
    return Board(
        "stack-loki-retention", "Stack / Loki / Retention and compactor", STACK,
        f"The compactor that compacts Loki's index and enforces the {stack.loki.retention} retention: when it "
        "last succeeded and how its runs fare.",
        [
            text("Retention in force",
                 f"Logs are kept for **{stack.loki.retention}** (`limits_config.retention_period`); the compactor "
                 "marks older chunks and deletes them from S3 after `retention_delete_delay`. A compactor that "
                 "stops succeeding stops deleting: watch the two timers below.", width=8, height=6),
            since("Since last compaction", "Time since the compactor last compacted the index tables.",
                  "loki_boltdb_shipper_compact_tables_operation_last_successful_run_timestamp_seconds", LOKI, width=8),
            since("Since last retention run", "Time since the compactor last applied retention (marked expired "
                  "chunks for deletion).", "loki_compactor_apply_retention_last_successful_run_timestamp_seconds",
                  LOKI, width=8),
            Row("Compaction"),
            timeseries("Compactions by status", "Table compactions per second, succeeded and failed.",
                       prom(rate(f"{compaction}_total", LOKI, by="status"), "{{status}}")),
            timeseries("Compaction duration", "How long the last compaction of all tables took.",
                       prom(f"max by (pod) ({compaction}_duration_seconds{sel(LOKI)})", "{{pod}}"), unit="s"),
            Row("Retention"),
            timeseries("Retention runs by status", "Attempts to apply retention per second, succeeded and failed.",
                       prom(rate(f"{retention}_total", LOKI, by="status"), "{{status}}")),
            timeseries("Retention duration", "How long the last retention run took.",
                       prom(f"max by (pod) ({retention}_duration_seconds{sel(LOKI)})", "{{pod}}"), unit="s"),
        ],
        [namespace_var(stack.namespace, "loki_build_info")], siblings(LOKI_BOARDS, "stack-loki-retention"), tags=TAGS)


def fluent_bit(stack: StackConfig) -> Board:
    node_link = [("Node", link_to("k8s-node-pods", node="${__field.labels.instance}"))]
    output = "fluentbit_output"
    return Board(
        "stack-fluent-bit", "Stack / Fluent Bit", STACK,
        "The Fluent Bit agents that tail container logs on every node and push them to Loki: records in and "
        "out, errors, retries, drops and the filesystem buffer.",
        [
            stat("Records in", "Records per second read by every input on every node.",
                 prom(rate("fluentbit_input_records_total")), unit="short"),
            stat("Records out", "Records per second the outputs delivered to Loki.",
                 prom(rate(f"{output}_proc_records_total")), unit="short"),
            stat("Output errors", "Failed deliveries per second (retried until the retry limit).",
                 prom(rate(f"{output}_errors_total")), unit="short"),
            stat("Records dropped", "Records per second given up on after the last retry: lost logs.",
                 prom(rate(f"{output}_dropped_records_total")), unit="short"),
            Row("Inputs"),
            timeseries("Input records by node", "Records per second read on each node.",
                       prom(rate("fluentbit_input_records_total", by="instance"), "{{instance}}"), links=node_link),
            timeseries("Input bytes by input", "Bytes per second read by each input plugin instance.",
                       prom(rate("fluentbit_input_bytes_total", by="name"), "{{name}}"), unit="Bps"),
            Row("Outputs"),
            timeseries("Output records by output", "Records per second each output delivered.",
                       prom(rate(f"{output}_proc_records_total", by="name"), "{{name}}")),
            timeseries("Output bytes by output", "Bytes per second each output delivered.",
                       prom(rate(f"{output}_proc_bytes_total", by="name"), "{{name}}"), unit="Bps"),
            timeseries("Errors and retries by output", "Failed deliveries, retries and retries that failed for "
                       "good per second.",
                       *(prom(rate(f"{output}_{kind}_total", by="name"), f"{{{{name}}}} {legend}")
                         for kind, legend in (("errors", "errors"), ("retries", "retries"),
                                              ("retries_failed", "retries failed")))),
            timeseries("Dropped records by node", "Records per second each node dropped after its last retry.",
                       prom(rate(f"{output}_dropped_records_total", by="instance"), "{{instance}}"), links=node_link),
            Row("Buffer"),
            timeseries("Buffered chunks by node", "Chunks in the storage layer on each node, in memory and on the "
                       "filesystem (down: waiting on disk, e.g. while Loki is unreachable).",
                       *(prom(f"sum by (instance) (fluentbit_storage_{name}{sel()})", f"{{{{instance}}}} {legend}")
                         for name, legend in (("mem_chunks", "memory"), ("fs_chunks_up", "fs up"),
                                              ("fs_chunks_down", "fs down"))), width=24, links=node_link),
            *resources("fluent-bit", "fluent-bit-.*"),
        ],
        [namespace_var(stack.agents_namespace, "fluentbit_build_info")],
        # Elasticsearch's board where the overlay has one (render drops links to boards it does not).
        siblings(LOKI_BOARDS, "stack-fluent-bit") + ["stack-elasticsearch"], tags=TAGS)


def boards(stack: StackConfig) -> list[Board]:
    return [loki_writes(stack), loki_reads(stack), loki_retention(stack), fluent_bit(stack)]
