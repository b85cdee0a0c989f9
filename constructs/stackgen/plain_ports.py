"""The ports that stay plain (no TLS), each with the reason: the only exceptions `validate` and the listener
inventory accept (checks/listeners.py), rendered in the README ("What validate refuses, and the listener
inventory").

An entry names a component (its pods' `app.kubernetes.io/name`), a container port name, and why that port
cannot, or need not, speak TLS. A plain port that is not here is a problem; so is an entry without a reason.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlainPort:
    component: str
    port: str
    reason: str


# Fluent Bit 4.2.0's service section has http_server, http_listen and http_port and no TLS key
# (catalog/fluent-bit-4.2.0.yaml, read from src/flb_config.c service_configs[]): its monitoring and
# health endpoint cannot serve HTTPS (requested upstream, not done: fluent/fluent-bit#8772, #9948). It
# carries the shipper's own counters, no log content.
FLUENT_BIT_HTTP = ("Fluent Bit 4.2.0's built-in HTTP server (metrics, health) has no TLS setting (service keys: "
                   "catalog/fluent-bit-4.2.0.yaml; fluent/fluent-bit#8772); it serves counters, no log records")

# OBI v1.0.0 (OTeBPF) configures its Prometheus endpoints by port and path only (prometheus_export,
# internal_metrics.prometheus: opentelemetry.io/docs/zero-code/obi/configure/export-data and
# .../internal-metrics-reporter): an HTTP server with no TLS setting.
OTEBPF_METRICS = ("OBI v1.0.0's Prometheus endpoints (prometheus_export, internal_metrics) take a port and a path, "
                  "no TLS setting; they serve metric series, no request content")

PLAIN_PORTS: tuple[PlainPort, ...] = (
    PlainPort("fluent-bit", "http", FLUENT_BIT_HTTP),
    PlainPort("fluent-bit-events", "http", FLUENT_BIT_HTTP),
    PlainPort("otebpf", "metrics", OTEBPF_METRICS),
    PlainPort("otebpf", "int-metrics", OTEBPF_METRICS),
)


# Issue 23 lands from four branches; on the tls-validate branch the servers the other three turn to TLS
# are still plain, and so are their clients' URLs. Accepted here for that reason alone, never rendered in
# the README; the merge empties it, and `validate` then holds every one of them to TLS.
_RINGS = ("grpc", "http", "memberlist", "memberlist-udp")
_UNMERGED: dict[str, dict[str, tuple[str, ...]]] = {
    "tls-prometheus": {"prometheus": ("web", "reloader-web"),
                       "alertmanager": ("web", "reloader-web", "mesh-tcp", "mesh-udp"),
                       "prometheus-operator": ("http",), "kube-state-metrics": ("http-metrics", "telemetry"),
                       "node-exporter": ("metrics",)},
    "tls-rings": {**{c: _RINGS for c in ("loki", "loki-read", "loki-write", "loki-backend", "mimir", "mimir-compactor",
                                         "mimir-distributor", "mimir-ingester", "mimir-querier", "mimir-query-frontend",
                                         "mimir-query-scheduler", "mimir-store-gateway", "tempo-compactor",
                                         "tempo-ingester", "tempo-metrics-generator", "tempo-querier",
                                         "tempo-query-frontend")},
                  **{c: (*_RINGS, "otlp-grpc", "otlp-http") for c in ("tempo", "tempo-distributor")}},
    "tls-clients": {"grafana": ("http",), "fluent-bit": ("forward",)},
    "none of issue 23's sessions (ECK add-ons)": {"eck-operator": ("metrics",), "elasticsearch-exporter": ("http",)},
}
UNMERGED: tuple[PlainPort, ...] = tuple(
    PlainPort(component, port, f"issue 23: turned to TLS by {branch}, not merged into tls-validate yet")
    for branch, components in _UNMERGED.items() for component, ports in components.items() for port in ports)
# The one verification-off client of the same kind: the kubelet scrape (components/prometheus.py, tls-prometheus).
UNMERGED_UNVERIFIED: tuple[str, ...] = ("ServiceMonitor/kubelet",)


def is_excepted(component: str, port: str, exceptions: tuple[PlainPort, ...] | None = None) -> bool:
    return any(e.component == component and e.port == port and e.reason.strip() for e in _or_declared(exceptions))


def _or_declared(exceptions: tuple[PlainPort, ...] | None) -> tuple[PlainPort, ...]:
    return PLAIN_PORTS + UNMERGED if exceptions is None else exceptions


def exception_problems(exceptions: tuple[PlainPort, ...] | None = None) -> list[str]:
    """An exception must say why; one without a reason excuses nothing."""
    return [f"plain_ports.py: {e.component} port {e.port}: no reason given (say why it cannot speak TLS)"
            for e in _or_declared(exceptions) if not e.reason.strip()]


def markdown(exceptions: tuple[PlainPort, ...] | None = None) -> str:
    """The README's table of the exceptions."""
    rows = [f"| {e.component} | {e.port} | {e.reason} |" for e in (PLAIN_PORTS if exceptions is None else exceptions)]
    return "\n".join(["| Component | Port | Why it stays plain |", "|---|---|---|", *rows]) + "\n"
