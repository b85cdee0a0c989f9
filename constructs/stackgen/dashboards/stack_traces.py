"""The trace pipeline's dashboards: Tempo (writes, reads, metrics-generator) and OTeBPF, the eBPF agent
that produces OpenEMR's spans and RED metrics. Modelled on the Tempo mixin, for both layouts we render
(monolithic; one Service per role).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.dashboards.panels import STACK, Board, Row, link_to, namespace_var, prom, stat, timeseries
from stackgen.dashboards.stack_panels import TAGS, agg, jobs, latency, or_none, rate, red, resources, sel, siblings

if TYPE_CHECKING:
    from stackgen.config import StackConfig

TEMPO = jobs("tempo")
TEMPO_BOARDS = ["stack-tempo-writes", "stack-tempo-reads", "stack-tempo-metrics-generator", "stack-otebpf"]


def tempo_writes(stack: StackConfig) -> Board:
    return Board(
        "stack-tempo-writes", "Stack / Tempo / Writes", STACK,
        "Tempo's write path: spans OTeBPF sends over OTLP to the distributors, what is discarded, the "
        "ingesters' traces and block flushes to S3.",
        [
            stat("Spans received", "Spans per second the distributors accepted.",
                 prom(rate("tempo_distributor_spans_received_total", TEMPO)), unit="short"),
            stat("Bytes received", "Span bytes per second the distributors accepted.",
                 prom(rate("tempo_distributor_bytes_received_total", TEMPO)), unit="Bps"),
            stat("Traces created", "New traces per second in the ingesters.",
                 prom(rate("tempo_ingester_traces_created_total", TEMPO)), unit="short"),
            stat("Discarded spans", "Spans per second refused (rate limits, trace too large, ...).",
                 prom(or_none(rate("tempo_discarded_spans_total", TEMPO))), unit="short"),
            Row("Distributor"),
            timeseries("Spans received by tenant", "Spans per second accepted, by tenant.",
                       prom(rate("tempo_distributor_spans_received_total", TEMPO, by="tenant"), "{{tenant}}"), width=8),
            timeseries("Bytes received by tenant", "Span bytes per second accepted, by tenant.",
                       prom(rate("tempo_distributor_bytes_received_total", TEMPO, by="tenant"), "{{tenant}}"),
                       unit="Bps", width=8),
            timeseries("Discarded spans by reason", "Spans per second refused, by reason (\"none\": nothing was "
                       "refused).", prom(or_none(rate("tempo_discarded_spans_total", TEMPO, by="reason"), "reason"),
                                        "{{reason}}"), width=8),
            timeseries("Pushes to ingesters and generators", "Batches per second the distributors sent to the "
                       "ingesters and to the metrics-generators, and how many failed.",
                       prom(rate("tempo_distributor_ingester_appends_total", TEMPO), "to ingesters"),
                       prom(or_none(rate("tempo_distributor_ingester_append_failures_total", TEMPO)),
                            "to ingesters, failed"),
                       prom(rate("tempo_distributor_metrics_generator_pushes_total", TEMPO), "to generators"),
                       prom(or_none(rate("tempo_distributor_metrics_generator_pushes_failures_total", TEMPO)),
                            "to generators, failed"), width=24),
            Row("Ingester"),
            *red("Ingester push", "Pushes from the distributors", "tempo_request_duration_seconds", TEMPO,
                 'route=~"/tempopb.Pusher/Push.*"'),
            timeseries("Traces created by pod", "New traces per second in each ingester.",
                       prom(rate("tempo_ingester_traces_created_total", TEMPO, by="pod"), "{{pod}}"), width=8),
            timeseries("Block flushes", "Blocks flushed to S3 per second, and failed flushes (retried; data "
                       "stays in the WAL meanwhile).",
                       prom(rate("tempo_ingester_blocks_flushed_total", TEMPO, by="pod"), "{{pod}} flushed"),
                       prom(rate("tempo_ingester_failed_flushes_total", TEMPO, by="pod"), "{{pod}} failed"), width=8),
            latency("Flush duration", "99th and 50th percentile time to flush a complete block to S3.",
                    "tempo_ingester_flush_duration_seconds", TEMPO, by="pod"),
            *resources("tempo", "tempo-.*"),
        ],
        [namespace_var(stack.namespace, "tempo_build_info")], siblings(TEMPO_BOARDS, "stack-tempo-writes"), tags=TAGS)


def tempo_reads(stack: StackConfig) -> Board:
    return Board(
        "stack-tempo-reads", "Stack / Tempo / Reads", STACK,
        f"Tempo's read path as Grafana uses it (trace by ID, search, tags), and the backend the queries read: "
        f"blocks in S3, compaction, retention ({stack.tempo.retention}).",
        [
            Row("Query-frontend"),
            *red("Queries", "Trace, search and tag API requests", "tempo_request_duration_seconds", TEMPO,
                 'route=~"api_.+"'),
            Row("Querier"),
            *red("Querier", "Jobs the queriers executed for the frontend", "tempo_request_duration_seconds", TEMPO,
                 'route=~"querier_api_.+"'),
            Row("Backend"),
            timeseries("Blocks by tenant", "Blocks in the blocklist the queriers search.",
                       prom(agg("max", "tempodb_blocklist_length", TEMPO, by="tenant"), "{{tenant}}")),
            timeseries("Compaction", "Blocks compacted per second, blocks waiting for compaction, and compaction "
                       "errors.",
                       prom(rate("tempodb_compaction_blocks_total", TEMPO), "compacted/s"),
                       prom(agg("sum", "tempodb_compaction_outstanding_blocks", TEMPO), "outstanding"),
                       prom(rate("tempodb_compaction_errors_total", TEMPO), "errors/s")),
            timeseries("Retention", f"Blocks deleted per second by retention ({stack.tempo.retention}), and "
                       "retention errors: no deletions for days means traces are kept forever.",
                       prom(rate("tempodb_retention_deleted_total", TEMPO), "deleted/s"),
                       prom(rate("tempodb_retention_errors_total", TEMPO), "errors/s"), width=24),
            *resources("tempo", "tempo-.*"),
        ],
        [namespace_var(stack.namespace, "tempo_build_info")], siblings(TEMPO_BOARDS, "stack-tempo-reads"), tags=TAGS)


def metrics_generator(stack: StackConfig) -> Board:
    queue = "remote_name, url"
    lag = (f"max by (tenant) (prometheus_remote_storage_highest_timestamp_in_seconds{sel(TEMPO)} - ignoring({queue})"
           f" group_right prometheus_remote_storage_queue_highest_sent_timestamp_seconds{sel(TEMPO)})")
    return Board(
        "stack-tempo-metrics-generator", "Stack / Tempo / Metrics-generator", STACK,
        "The metrics-generator that turns spans into span metrics and the service graph and remote-writes "
        "them to Mimir (what the OpenEMR dashboards and Grafana's service map read).",
        [
            timeseries("Spans received", "Spans per second the generators received, by tenant.",
                       prom(rate("tempo_metrics_generator_spans_received_total", TEMPO, by="tenant"), "{{tenant}}")),
            timeseries("Spans discarded by reason", "Spans per second not turned into metrics (outside the "
                       "ingestion slack, filtered, invalid; \"none\": nothing was discarded).",
                       prom(or_none(rate("tempo_metrics_generator_spans_discarded_total", TEMPO, by="reason"),
                                    "reason"), "{{reason}}")),
            timeseries("Active series", "Series the generators' registries hold, by tenant: what Mimir stores "
                       "from traces.",
                       prom(agg("sum", "tempo_metrics_generator_registry_active_series", TEMPO, by="tenant"),
                            "{{tenant}}")),
            timeseries("Active processors", "Processors running per tenant (service-graphs, span-metrics).",
                       prom(agg("max", "tempo_metrics_generator_active_processors", TEMPO, by="processor"),
                            "{{processor}}")),
            Row("Remote write to Mimir"),
            timeseries("Samples written", "Samples per second remote-written to Mimir, and failures.",
                       prom(rate("prometheus_remote_storage_samples_total", TEMPO, by="tenant"), "{{tenant}} sent"),
                       prom(rate("prometheus_remote_storage_samples_failed_total", TEMPO, by="tenant"),
                            "{{tenant}} failed"), width=8),
            timeseries("Pending samples", "Samples waiting to be sent.",
                       prom(agg("sum", "prometheus_remote_storage_samples_pending", TEMPO, by="tenant"), "{{tenant}}"),
                       width=8),
            timeseries("Remote-write lag", "Newest sample generated minus newest sample Mimir acknowledged.",
                       prom(lag, "{{tenant}}"), unit="s", width=8),
            *resources("tempo", "tempo-.*"),
        ],
        [namespace_var(stack.namespace, "tempo_build_info")],
        [*siblings(TEMPO_BOARDS, "stack-tempo-metrics-generator"), "stack-mimir-writes"], tags=TAGS)


def otebpf(stack: StackConfig) -> Board:
    node_link = [("Node", link_to("k8s-node-pods", node="${__field.labels.instance}"))]
    return Board(
        "stack-otebpf", "Stack / OTeBPF", STACK,
        "The OTeBPF agents (OpenTelemetry eBPF Instrumentation) on every node: which processes they "
        "instrument, instrumentation errors, spans exported to Tempo, and the metrics endpoint Prometheus "
        "scrapes.",
        [
            stat("Instrumented processes", "Processes instrumented on all nodes.",
                 prom(agg("sum", "obi_instrumented_processes"))),
            stat("Spans exported", "Spans per second exported to Tempo over OTLP.",
                 prom(rate("obi_otel_trace_exports_total")), unit="short"),
            stat("Export errors", "Failed span exports per second.",
                 prom(or_none(rate("obi_otel_trace_export_errors_total"))), unit="short"),
            stat("Instrumentation errors", "Failed attempts to instrument a process per second.",
                 prom(or_none(rate("obi_instrumentation_errors_total"))), unit="short"),
            Row("Instrumentation"),
            timeseries("Instrumented processes by node", "Processes instrumented, by node and executable "
                       "(OpenEMR's Apache/PHP workers).",
                       prom(agg("sum", "obi_instrumented_processes", by="instance, process_name"),
                            "{{instance}} {{process_name}}"), links=node_link),
            timeseries("Instrumentation errors by type", "Failed instrumentation attempts per second, by process "
                       "and error type (\"none\": no error).",
                       prom(or_none(rate("obi_instrumentation_errors_total", by="process_name, error_type"),
                                    "process_name", "error_type"), "{{process_name}} {{error_type}}")),
            Row("Export"),
            timeseries("Spans exported by node", "Spans per second each agent exported to Tempo.",
                       prom(rate("obi_otel_trace_exports_total", by="instance"), "{{instance}}"), links=node_link),
            timeseries("Export errors by error", "Failed span exports per second, by error (\"none\": no error).",
                       prom(or_none(rate("obi_otel_trace_export_errors_total", by="error"), "error"), "{{error}}")),
            latency("eBPF flush size", "99th and 50th percentile number of spans per flush from the eBPF tracer "
                    "to the pipeline.", "obi_ebpf_tracer_flushes", by="instance", width=12, unit="short"),
            timeseries("Metrics endpoint scrapes", "Requests per second to the application-metrics endpoint "
                       "(Prometheus scraping OpenEMR's RED metrics).",
                       prom(rate("obi_prometheus_http_requests_total", by="instance, path"), "{{instance}} {{path}}")),
            *resources("otebpf", "otebpf-.*"),
        ],
        [namespace_var(stack.agents_namespace, "obi_internal_build_info")], siblings(TEMPO_BOARDS, "stack-otebpf"),
        tags=TAGS)


def boards(stack: StackConfig) -> list[Board]:
    return [tempo_writes(stack), tempo_reads(stack), metrics_generator(stack), otebpf(stack)]
