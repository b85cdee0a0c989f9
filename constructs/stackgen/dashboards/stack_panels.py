"""What the Observability-stack dashboards (stack_metrics, stack_logs, stack_traces) share: selectors on
the stack's namespace, RED panels over dskit request histograms, resource panels of a component's
containers, and a zero line for counters a component only creates once something fails.

Loki, Tempo and Mimir run as one process (job = loki, tempo, mimir) or one Service per role (job =
loki-write, mimir-distributor, ...): queries select the component with `jobs()` and the role by what
only that role exports (its metrics, or its routes), so the same query works in every overlay.
"""
from __future__ import annotations

from stackgen.dashboards.kubernetes import cpu_usage, memory
from stackgen.dashboards.panels import CLUSTER, Panel, Row, link_to, prom, stat, timeseries

NAMESPACE = 'namespace="$namespace"'
ERRORS = 'status_code=~"5..|error"'  # dskit: HTTP 5xx, gRPC errors as "error"
TAGS = ("observability-stack",)


def siblings(family: list[str], uid: str) -> list[str]:
    """The other boards of a family, for a board's links."""
    return [other for other in family if other != uid]


def sel(*matchers: str) -> str:
    """A selector on the cluster and the `namespace` variable, plus `matchers`."""
    return "{" + ", ".join((CLUSTER, NAMESPACE, *matchers)) + "}"


def jobs(component: str) -> str:
    """The component's jobs: its single Service, or one Service per role (`<component>-<role>`)."""
    return f'job=~"{component}(-.+)?"'


def rate(metric: str, *matchers: str, by: str = "", window: str = "$__rate_interval", fn: str = "rate") -> str:
    """The summed `fn` (rate, increase) of a counter over `window`, optionally `by` labels."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} ({fn}({metric}{sel(*matchers)}[{window}]))"


def agg(op: str, metric: str, *matchers: str, by: str = "") -> str:
    """`op` (sum, max, min) of a gauge, optionally `by` labels."""
    grouping = f" by ({by})" if by else ""
    return f"{op}{grouping} ({metric}{sel(*matchers)})"


def or_none(expr: str, *labels: str) -> str:
    """`expr`, or (only when it returns nothing) one zero series with each of `labels` = "none": for
    counters that exist only after their first failure, so the panel shows 0, not "No data"."""
    zero = "vector(0)"
    for label in labels:
        zero = f'label_replace({zero}, "{label}", "none", "", "")'
    return f"({expr}) or on() {zero}"


def quantile(q: float, metric: str, *matchers: str, by: str = "") -> str:
    grouping = ", ".join(("le", by)) if by else "le"
    return f"histogram_quantile({q}, sum by ({grouping}) (rate({metric}_bucket{sel(*matchers)}[$__rate_interval])))"


def latency(title: str, description: str, metric: str, *matchers: str, by: str = "route", width: int = 8,
            unit: str = "s") -> Panel:
    legend = f" {{{{{by}}}}}" if by else ""
    return timeseries(title, description,
                      *(prom(quantile(q, metric, *matchers, by=by), f"p{round(q * 100)}{legend}") for q in (0.99, 0.5)),
                      unit=unit, width=width)


def error_ratio(counter: str, *matchers: str, by: str = "route", errors: str = ERRORS) -> str:
    """Share of the `counter`'s requests that failed (`errors`), per `by`; 0, not nothing, where none did."""
    total = rate(counter, *matchers, by=by)
    return f"({rate(counter, *matchers, errors, by=by)} / {total}) or ({total} * 0)"


def red(name: str, what: str, metric: str, *matchers: str) -> list[Panel]:
    """Requests, errors and latency of `name`'s requests (`what` they are) by route."""
    return [
        timeseries(f"{name} requests", f"{what} per second, by route and status code.",
                   prom(rate(f"{metric}_count", *matchers, by="route, status_code"), "{{route}} {{status_code}}"),
                   unit="reqps", width=8),
        timeseries(f"{name} errors", f"Share of {what.lower()} that failed (HTTP 5xx, gRPC error), by route.",
                   prom(error_ratio(f"{metric}_count", *matchers), "{{route}}"), unit="percentunit", width=8),
        latency(f"{name} latency", f"99th and 50th percentile duration of {what.lower()}, by route.",
                metric, *matchers),
    ]


def resources(container: str, pods: str) -> list[Panel | Row]:
    """CPU and memory of `container` in the pods matching the regex `pods`, each linked to its pod."""
    selector = f'{NAMESPACE}, pod=~"{pods}", container="{container}"'
    pod_link = [("Pod", link_to("k8s-pod", namespace="$namespace", pod="${__field.labels.pod}"))]
    return [
        Row("Resources"),
        timeseries("CPU by pod", f"Cores used by the {container} container of each pod.",
                   prom(f"sum by (pod) ({cpu_usage(selector)})", "{{pod}}"), links=pod_link),
        timeseries("Memory by pod", f"Working set of the {container} container of each pod (what the OOM killer "
                   "counts against the limit).", prom(f"sum by (pod) ({memory(selector)})", "{{pod}}"),
                   unit="bytes", links=pod_link),
    ]


def since(title: str, description: str, metric: str, *matchers: str, width: int = 6) -> Panel:
    """Time since the newest timestamp `metric` holds (a last-successful-run gauge)."""
    return stat(title, description, prom(f"time() - max({metric}{sel(*matchers)})"), unit="s", width=width)
