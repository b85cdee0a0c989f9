"""Label keys and values every rendered object and every check agree on."""

PART_OF = "openemr-observability"
# Every ServiceMonitor, PodMonitor and PrometheusRule carrying this label (value: the instance) is
# picked up by the stack's Prometheus, in any namespace. Users label their own objects the same way.
SELECTION_LABEL = "monitoring.openemr.io/prometheus"
# Pod annotation carrying the reason for a host-access exception (root, added capabilities, hostPID,
# hostNetwork); the security check accepts those only on pods that carry it.
HOST_ACCESS_ANNOTATION = "monitoring.openemr.io/host-access"


# The node agents that need the host. They run in their own namespace (`agents_namespace`), which
# enforces Pod Security `privileged`, so that the stack's namespace can enforce `restricted`.
AGENTS = ("node-exporter", "otebpf", "fluent-bit")


def selector(name: str, instance: str) -> dict[str, str]:
    """Labels that select a component's pods: stable across upgrades (no version)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}
