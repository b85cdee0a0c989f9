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
    PlainPort("eck-operator", "metrics", "ECK's `metrics-secure` would serve the operator's own metrics over TLS, with a "
              "certificate of its own making unless one is mounted for it; not wired to the stack's CA yet "
              "(reconcile counts and durations, no log content)"),
)


# Clients that encrypt but do not verify the server, each with its reason (rendered in the README too).
UNVERIFIED_CLIENTS: dict[str, str] = {
    "ServiceMonitor/kubelet": "EKS signs kubelet serving certificates through the cluster's CSR signer, but whether "
    "an Auto Mode node's certificate names the address Prometheus dials is not documented; verifying it could "
    "silence every container metric, so the scrape stays encrypted and unverified (node metrics, no PHI)",
}


def is_excepted(component: str, port: str, exceptions: tuple[PlainPort, ...] | None = None) -> bool:
    return any(e.component == component and e.port == port and e.reason.strip() for e in _or_declared(exceptions))


def _or_declared(exceptions: tuple[PlainPort, ...] | None) -> tuple[PlainPort, ...]:
    return PLAIN_PORTS if exceptions is None else exceptions


def exception_problems(exceptions: tuple[PlainPort, ...] | None = None) -> list[str]:
    """An exception must say why; one without a reason excuses nothing."""
    return [f"plain_ports.py: {e.component} port {e.port}: no reason given (say why it cannot speak TLS)"
            for e in _or_declared(exceptions) if not e.reason.strip()]


def markdown(exceptions: tuple[PlainPort, ...] | None = None) -> str:
    """The README's table of the exceptions."""
    rows = [f"| {e.component} | {e.port} | {e.reason} |" for e in (PLAIN_PORTS if exceptions is None else exceptions)]
    unverified = [f"| {client} | {reason} |" for client, reason in UNVERIFIED_CLIENTS.items()]
    return "\n".join(["| Component | Port | Why it stays plain |", "|---|---|---|", *rows, "",
                      "| TLS client | Why it does not verify the server |", "|---|---|", *unverified]) + "\n"
