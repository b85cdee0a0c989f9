"""OpenEMR's technical dashboards, mirroring the clinical document's set from the signals we really have:
API performance, database, cache, system health, error analysis and the service map (this module);
alert status and SLOs (openemr_reliability); usage, user activity and audit (openemr_usage).

OpenEMR has no metrics endpoint of its own: request rate, errors and latency come from OTeBPF's eBPF
probes on its Apache/PHP processes, its database and cache calls from OTeBPF's client probes, the pods
from kube-state-metrics and cAdvisor, the edges between services from Tempo's metrics-generator.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.dashboards import openemr_reliability
from stackgen.dashboards.openemr_queries import (
    APACHE_LEVEL,
    APP,
    CACHES,
    CLIENT_ERRORS,
    CONTAINER,
    DB_CLIENT,
    DB_ERROR,
    HTTP_CLIENT,
    HTTP_SERVER,
    MYSQL,
    PHP_LEVEL,
    PODS,
    SERVER_ERRORS,
    access_log,
    app_logs,
    board,
    count_by,
    error_log,
    from_logs,
    own_spans,
    quantile,
    rate,
    span_selector,
    tempo_selector,
    with_,
)
from stackgen.dashboards.panels import (
    CLUSTER,
    Board,
    Row,
    cloudwatch,
    logql,
    logs,
    mimir,
    prom,
    service_map,
    stat,
    table,
    text,
    timeseries,
    traceql,
    traces,
)

if TYPE_CHECKING:
    from stackgen.config import StackConfig

API, DATABASE, CACHE, HEALTH, ERRORS, SERVICE_MAP = (
    "openemr-api", "openemr-database", "openemr-cache", "openemr-health", "openemr-errors", "openemr-service-map")
COUNT = f"{HTTP_SERVER}_count"
DB_COUNT = f"{DB_CLIENT}_count"
FAILED = 'error_type!=""'


def api(stack: StackConfig) -> Board:
    errors, total = rate(COUNT, with_(APP, SERVER_ERRORS)), rate(COUNT)
    by_route = "http_route"
    server_spans = f'{span_selector(stack)}, span_kind="SPAN_KIND_SERVER"'
    return board(stack, API, "OpenEMR / API performance", "Requests to OpenEMR as OTeBPF sees them at its "
                  "Apache/PHP processes: rate, errors and latency by route and method, with exemplars linking to "
                  "the traces of slow requests.", [
        Row("Overview"),
        stat("Request rate", "Requests per second answered by OpenEMR (the kubelet's probes included).",
             prom(total), unit="reqps"),
        stat("5xx ratio", "Share of requests answered with a server error (5xx).", prom(f"({errors}) / ({total})"),
             unit="percentunit"),
        stat("p95 latency", "95th percentile of the time OpenEMR takes to answer a request.",
             prom(quantile(0.95, HTTP_SERVER)), unit="s"),
        stat("Routes seen", "Distinct routes (OTeBPF's heuristic grouping of URL paths) requested in the range.",
             prom(f"count(count by (http_route) ({COUNT}{{{APP}}}))")),
        Row("Rate and errors"),
        timeseries("Requests by method", "Requests per second by HTTP method.",
                   prom(rate(COUNT, by="http_request_method"), "{{http_request_method}}"), unit="reqps"),
        timeseries("Responses by status code", "Requests per second by the status code OpenEMR answered with.",
                   prom(rate(COUNT, by="http_response_status_code"), "{{http_response_status_code}}"), unit="reqps",
                   stack=True),
        timeseries("5xx ratio by route", "Share of each route's requests answered with a server error.",
                   prom(f"({rate(COUNT, with_(APP, SERVER_ERRORS), by_route)}) / ({rate(COUNT, by=by_route)})",
                        "{{http_route}}"), unit="percentunit"),
        timeseries("4xx by route", "Client errors per second by route (failed API authentication shows here "
                   "as 401).", prom(rate(COUNT, with_(APP, CLIENT_ERRORS), "http_route, http_response_status_code"),
                                    "{{http_route}} {{http_response_status_code}}"), unit="reqps"),
        Row("Latency"),
        timeseries("Latency percentiles", "p50, p95 and p99 of request duration over all routes, from OTeBPF's "
                   "histogram (which carries no exemplars: the panel beside has them).",
                   *(prom(quantile(q, HTTP_SERVER), f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99)), unit="s"),
        timeseries("Latency from traces, with exemplars", "p95 and p99 of OpenEMR's server spans from Tempo's span "
                   "metrics (in Mimir); the dots are exemplars: each opens the trace of one request of that bucket.",
                   *(mimir(quantile(q, "traces_spanmetrics_latency", server_spans), f"p{round(q * 100)}")
                     for q in (0.95, 0.99)), unit="s"),
        timeseries("p95 by route", "95th percentile of request duration for each route.",
                   prom(quantile(0.95, HTTP_SERVER, by=by_route), "{{http_route}}"), unit="s"),
        timeseries("p95 by method", "95th percentile of request duration for each HTTP method.",
                   prom(quantile(0.95, HTTP_SERVER, by="http_request_method"), "{{http_request_method}}"), unit="s"),
        timeseries("Response size p95 by route", "95th percentile of response body size for each route.",
                   prom(quantile(0.95, "http_server_response_body_size_bytes", by=by_route), "{{http_route}}"),
                   unit="bytes"),
        table("Busiest routes", "The 15 routes with the most requests now, with their method.",
              prom(f"topk(15, {rate(COUNT, by='http_route, http_request_method')})", instant=True)),
        Row("Outbound HTTP"),
        timeseries("Outbound HTTP calls by server", "Requests per second OpenEMR's PHP code sends to other HTTP "
                   "services (e-prescribing, terminology, FHIR partners), by server.",
                   prom(rate(f"{HTTP_CLIENT}_count", by="server_address"), "{{server_address}}"), unit="reqps"),
        timeseries("Outbound HTTP p95 by server", "95th percentile of the duration of those calls, by server.",
                   prom(quantile(0.95, HTTP_CLIENT, by="server_address"), "{{server_address}}"), unit="s"),
    ], links=(ERRORS, openemr_reliability.SLO, SERVICE_MAP, DATABASE))


# Aurora's cluster-level metrics in CloudWatch (namespace AWS/RDS, dimension DBClusterIdentifier).
RDS_METRICS = (
    ("CPU", "CPUUtilization", "Average", "percent", "CPU of the cluster's instances."),
    ("Connections", "DatabaseConnections", "Sum", "short", "Client connections open to the cluster."),
    ("Capacity (ACU)", "ServerlessDatabaseCapacity", "Average", "short",
     "Aurora Serverless v2 capacity in use; at the configured maximum, queries queue."),
    ("Replica lag", "AuroraReplicaLagMaximum", "Maximum", "ms", "Largest lag of a reader behind the writer."),
    ("Freeable memory", "FreeableMemory", "Average", "bytes", "Memory left on the instances."),
    ("Deadlocks", "Deadlocks", "Sum", "short", "Deadlocks per second the engine resolved by rolling back."),
)


def rds_panels(cluster_id: str | None) -> list:
    if not cluster_id:
        return [text("CloudWatch RDS metrics", "Set `openemr.database_cluster_id` to the Aurora DB cluster's "
                     "identifier and this row shows its CloudWatch metrics (CPU, connections, capacity, replica "
                     "lag, memory, deadlocks) through the **CloudWatch** datasource, read with Grafana's own IRSA "
                     "role. The panels above are what OpenEMR itself experiences; an encrypted (TLS) database "
                     "connection hides them from OTeBPF.", height=5)]
    return [timeseries(title, f"{what} CloudWatch AWS/RDS {metric} ({statistic}) of cluster {cluster_id}.",
                       cloudwatch("AWS/RDS", metric, statistic, "DBClusterIdentifier", cluster_id, title),
                       unit=unit, width=8)
            for title, metric, statistic, unit, what in RDS_METRICS]


def database(stack: StackConfig) -> Board:
    sql = with_(APP, MYSQL)
    ops = rate(DB_COUNT, sql)
    return board(stack, DATABASE, "OpenEMR / Database", "OpenEMR's MySQL (Aurora) calls as OTeBPF sees them "
                  "in the PHP processes: operations, latency and errors by operation and server.", [
        Row("Overview"),
        stat("Operations", "Database operations per second sent by OpenEMR.", prom(ops), unit="ops"),
        stat("p95 latency", "95th percentile of database operation duration, seen from OpenEMR.",
             prom(quantile(0.95, DB_CLIENT, sql)), unit="s"),
        stat("Error ratio", "Share of database operations that returned an error.",
             prom(f"({rate(DB_COUNT, with_(sql, FAILED))} or vector(0)) / ({ops})"), unit="percentunit"),
        stat("Operations per request", "Database operations per HTTP request: a jump means a page began issuing "
             "more queries (N+1).", prom(f"({ops}) / ({rate(COUNT)})")),
        Row("Operations"),
        timeseries("Operations by type", "Operations per second by SQL operation (SELECT, INSERT, ...).",
                   prom(rate(DB_COUNT, sql, "db_operation_name"), "{{db_operation_name}}"), unit="ops"),
        timeseries("p95 by operation", "95th percentile of operation duration by SQL operation.",
                   prom(quantile(0.95, DB_CLIENT, sql, "db_operation_name"), "{{db_operation_name}}"), unit="s"),
        timeseries("Errors by operation", "Failed operations per second by SQL operation.",
                   prom(rate(DB_COUNT, with_(sql, FAILED), "db_operation_name"), "{{db_operation_name}}"),
                   unit="ops"),
        timeseries("Operations by server", "Operations per second by database endpoint (writer, reader).",
                   prom(rate(DB_COUNT, sql, "server_address"), "{{server_address}}"), unit="ops"),
        *from_logs(stack, "SQL errors", [
            logs("SQL errors in OpenEMR's logs", "OpenEMR's own report of a failed statement (\"SQL Error with "
                 "statement\") with the failing SQL and the PHP file that issued it.",
                 logql(error_log(stack, f"|~ `{DB_ERROR}`")))]),
        Row("Amazon RDS"),
        *rds_panels(stack.openemr.database_cluster_id),
    ], links=(API, CACHE, SERVICE_MAP))


def cache(stack: StackConfig) -> Board:
    caches = with_(APP, CACHES)
    by_command = "db_system_name, db_operation_name"
    command = "{{db_system_name}} {{db_operation_name}}"
    return board(stack, CACHE, "OpenEMR / Cache", "OpenEMR's Redis (ElastiCache Valkey) or Memcached calls, "
                  "where its PHP sessions live, as OTeBPF sees them: commands, latency and errors.", [
        text("How OpenEMR uses a cache", "OpenEMR keeps no application cache of its own; with a session store "
             "configured (openemr-on-eks: ElastiCache Valkey through `REDIS_SERVER`; or PHP's "
             "`session.save_handler` set to redis or memcached) PHP keeps its **sessions** there, so every page "
             "reads and writes one.\n\nThese panels fill in once OpenEMR talks to Redis or Memcached: set "
             "`REDIS_SERVER` on the OpenEMR Deployment. OTeBPF reads the protocol on the socket, so a TLS "
             "connection (`rediss://`) hides the commands. Hits and misses are not told apart on the wire: read "
             "ElastiCache's `CacheHits`/`CacheMisses` in Explore with the CloudWatch datasource.", height=6),
        stat("Commands", "Cache commands per second sent by OpenEMR.", prom(rate(DB_COUNT, caches)), unit="ops"),
        stat("p95 latency", "95th percentile of cache command duration, seen from OpenEMR.",
             prom(quantile(0.95, DB_CLIENT, caches)), unit="s"),
        timeseries("Commands by type", "Cache commands per second by system and command (GET, SETEX, ...).",
                   prom(rate(DB_COUNT, caches, by_command), command), unit="ops"),
        timeseries("p95 by command", "95th percentile of command duration by system and command.",
                   prom(quantile(0.95, DB_CLIENT, caches, by_command), command), unit="s"),
        timeseries("Errors by command", "Cache commands per second that returned an error, by system and command.",
                   prom(rate(DB_COUNT, with_(caches, FAILED), by_command), command), unit="ops"),
        timeseries("Commands by server", "Cache commands per second by cache endpoint.",
                   prom(rate(DB_COUNT, caches, "server_address"), "{{server_address}}"), unit="ops"),
    ], links=(DATABASE, API))


def health(stack: StackConfig) -> Board:
    deployment = f'{CLUSTER}, namespace="$namespace", deployment="$deployment"'
    by_pod = "sum by (pod)"
    return board(stack, HEALTH, "OpenEMR / System health", "OpenEMR's pods: replicas, readiness, restarts, "
                  "CPU and memory against requests and limits, throttling, network and autoscaling.", [
        Row("Replicas"),
        stat("Available replicas", "Pods of the Deployment that are available.",
             prom(f"sum(kube_deployment_status_replicas_available{{{deployment}}})")),
        stat("Desired replicas", "Pods the Deployment asks for (set by the HPA when it scales).",
             prom(f"sum(kube_deployment_spec_replicas{{{deployment}}})")),
        stat("Pods not ready", "OpenEMR pods whose readiness probe (the login page) fails.",
             prom(f'sum(kube_pod_status_ready{{{PODS}, condition="false"}})')),
        stat("Restarts in 1h", "Container restarts of OpenEMR's pods in the last hour.",
             prom(f"sum(increase(kube_pod_container_status_restarts_total{{{PODS}}}[1h]))")),
        timeseries("Autoscaling", "The HPA's current and desired replicas against its maximum.",
                   *(prom(f'sum(kube_horizontalpodautoscaler_{metric}{{{CLUSTER}, namespace="$namespace", '
                          f'horizontalpodautoscaler="$deployment"}})', legend)
                     for metric, legend in (("status_current_replicas", "current"),
                                            ("status_desired_replicas", "desired"), ("spec_max_replicas", "max")))),
        timeseries("Restarts by container", "Restarts in the last hour by pod and container.",
                   prom(f"sum by (pod, container) (increase(kube_pod_container_status_restarts_total{{{PODS}}}[1h]))",
                        "{{pod}} {{container}}")),
        Row("Resources"),
        timeseries("CPU by pod", "CPU cores used by the OpenEMR container of each pod, and its limit.",
                   prom(f"{by_pod} (rate(container_cpu_usage_seconds_total{{{CONTAINER}}}[$__rate_interval]))",
                        "{{pod}}"),
                   prom(f'{by_pod} (kube_pod_container_resource_limits{{{PODS}, container="$container", '
                        f'resource="cpu"}})', "{{pod}} limit")),
        timeseries("Memory by pod", "Working-set memory of the OpenEMR container of each pod (what the OOM "
                   "killer counts), and its limit.",
                   prom(f"{by_pod} (container_memory_working_set_bytes{{{CONTAINER}}})", "{{pod}}"),
                   prom(f'{by_pod} (kube_pod_container_resource_limits{{{PODS}, container="$container", '
                        f'resource="memory"}})', "{{pod}} limit"), unit="bytes"),
        timeseries("CPU throttling", "Share of CPU periods in which the container was throttled at its limit.",
                   prom(f"{by_pod} (rate(container_cpu_cfs_throttled_periods_total{{{CONTAINER}}}[$__rate_interval]))"
                        f" / {by_pod} (rate(container_cpu_cfs_periods_total{{{CONTAINER}}}[$__rate_interval]))",
                        "{{pod}}"), unit="percentunit"),
        timeseries("Network by pod", "Bytes per second received and sent by each pod.",
                   *(prom(f"{by_pod} (rate(container_network_{d}_bytes_total{{{PODS}}}[$__rate_interval]))",
                          f"{{{{pod}}}} {d}") for d in ("receive", "transmit")), unit="Bps"),
        timeseries("OOM kills", "1 where the container's last termination was an out-of-memory kill.",
                   prom(f'max by (pod, container) (kube_pod_container_status_last_terminated_reason{{{PODS}, '
                        'reason="OOMKilled"})', "{{pod}} {{container}}")),
        timeseries("Instrumented by OTeBPF", "OpenEMR services OTeBPF instruments in each pod: 0 means the pod "
                   "runs without request metrics or traces.",
                   prom(f'count by (k8s_pod_name) (target_info{{{CLUSTER}, k8s_namespace_name="$namespace", '
                        'k8s_deployment_name="$deployment"})', "{{k8s_pod_name}}")),
    ], links=(API, ERRORS))


def errors(stack: StackConfig) -> Board:
    return board(stack, ERRORS, "OpenEMR / Error analysis", "Where OpenEMR fails: 5xx by route from OTeBPF, PHP "
                  "and Apache errors from its logs, and the traces of failed requests.", [
        Row("Requests"),
        timeseries("5xx by route", "Server errors per second by route and status code.",
                   prom(rate(COUNT, with_(APP, SERVER_ERRORS), "http_route, http_response_status_code"),
                        "{{http_route}} {{http_response_status_code}}"), unit="reqps"),
        table("5xx in the range", "Server errors in the selected range by route, method and status.",
              prom(f"sum by (http_route, http_request_method, http_response_status_code) "
                   f"(increase({COUNT}{{{with_(APP, SERVER_ERRORS)}}}[$__range]))", instant=True)),
        traces("Error traces", "Recent traces of OpenEMR requests that ended in error (TraceQL); open one to see "
               "the database and HTTP calls it made.", traceql(own_spans("status = error"))),
        Row("Logs"),
        *from_logs(stack, "PHP and Apache errors", [
            timeseries("PHP errors by level", "PHP errors, warnings and notices per interval, from Apache's and "
                       "PHP's error logs.", logql(count_by(error_log(stack, f"| regexp `{PHP_LEVEL}`"), "php_level"),
                                                  "{{php_level}}")),
            timeseries("Apache errors by module", "Apache error-log entries at error level or worse, by module.",
                       logql(count_by(error_log(stack, f"| regexp `{APACHE_LEVEL}`",
                                                '| level=~"error|crit|alert|emerg"'), "module, level"),
                             "{{module}} {{level}}")),
            logs("PHP fatal errors", "PHP fatal and parse errors with their stack trace.",
                 logql(error_log(stack, "|~ `PHP (Fatal|Parse|Catchable fatal|Recoverable fatal) error`"))),
            logs("5xx responses", "Access-log lines of requests answered with a server error.",
                 logql(access_log(stack, 'status=~"5.."')))]),
        logs("All OpenEMR output", "Everything OpenEMR's container sent to Loki, newest first: its own output "
             "(start-up, configuration) and, when shipped, its log files.", logql(app_logs(stack))),
    ], links=(API, DATABASE, "openemr-log-searches"))


def service_graph(stack: StackConfig) -> Board:
    edges, spans = tempo_selector(stack), span_selector(stack)
    by_edge = "client, server"
    return board(stack, SERVICE_MAP, "OpenEMR / Service map", "The services OpenEMR talks to, from Tempo's "
                  "service graph (edges paired from client and server spans) and span metrics, read from Mimir.", [
        service_map("Service map", "Services and the calls between them over the range: OpenEMR, its database "
                    "and cache (database edges) and the users calling it."),
        timeseries("Requests per edge", "Calls per second between each pair of services.",
                   mimir(rate("traces_service_graph_request_total", edges, by_edge), "{{client}} → {{server}}"),
                   unit="reqps"),
        timeseries("Failed requests per edge", "Calls per second that failed, between each pair of services.",
                   mimir(rate("traces_service_graph_request_failed_total", edges, by_edge), "{{client}} → {{server}}"),
                   unit="reqps"),
        timeseries("Server latency p95 per edge", "95th percentile of the time the called side took.",
                   mimir(quantile(0.95, "traces_service_graph_request_server_seconds", edges, by_edge),
                         "{{client}} → {{server}}"), unit="s"),
        table("Dependencies of OpenEMR", "What OpenEMR calls, with the kind of connection (database, virtual "
              "node for an uninstrumented peer).",
              mimir(f'sum by (server, connection_type) (rate(traces_service_graph_request_total{{{edges}, '
                    f'client="$deployment"}}[5m]))', instant=True)),
        timeseries("Span rate by operation", "Server spans per second of OpenEMR by span name (method and route).",
                   mimir(rate("traces_spanmetrics_calls_total", f'{spans}, span_kind="SPAN_KIND_SERVER"', "span_name"),
                         "{{span_name}}"), unit="reqps"),
        timeseries("Span p95 by operation", "95th percentile of OpenEMR's server span duration by span name.",
                   mimir(quantile(0.95, "traces_spanmetrics_latency", f'{spans}, span_kind="SPAN_KIND_SERVER"',
                                  "span_name"), "{{span_name}}"), unit="s"),
        timeseries("Error spans by operation", "Spans per second with error status, by span name and kind.",
                   mimir(rate("traces_spanmetrics_calls_total", f'{spans}, status_code="STATUS_CODE_ERROR"',
                              "span_name, span_kind"), "{{span_name}} {{span_kind}}"), unit="reqps"),
    ], links=(API, DATABASE, CACHE))


def boards(stack: StackConfig) -> list[Board]:
    return [api(stack), database(stack), cache(stack), health(stack), errors(stack), service_graph(stack),
            *openemr_reliability.boards(stack)]
