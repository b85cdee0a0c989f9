"""The security defaults every rendered pod meets, and the exceptions that say why."""
from __future__ import annotations

import re

from stackgen.manifests import Manifests, ref
from stackgen.names import HOST_ACCESS_ANNOTATION


# A Job's pod runs to completion and nothing routes to it; ECK adds its own readiness probes and sets the
# image from the resource's `version` (pinned in versions.py).
ECK = ("Elasticsearch", "Kibana")
NOT_ROUTED = ("Job", *ECK)


def check_pod_security(m: Manifests) -> list[str]:
    """The restricted defaults everywhere; root, added capabilities, hostPID and hostNetwork only on pods
    that say why (HOST_ACCESS_ANNOTATION). Privileged never."""
    problems = []
    for pod in m.pods():
        if not pod.spec:
            continue  # the operator's pods: their CR's securityContext is checked below
        pod_ref, kind, spec = pod.owner, pod.kind, pod.spec
        pod_context = spec.get("securityContext", {})
        excepted = HOST_ACCESS_ANNOTATION in pod.annotations
        if not excepted and (spec.get("hostPID") or spec.get("hostNetwork")):
            problems.append(f"{pod_ref}: host namespaces without a {HOST_ACCESS_ANNOTATION} reason")
        for container in spec["containers"]:
            context = container.get("securityContext", {})
            where = f"{pod_ref} container {container['name']}"
            capabilities = context.get("capabilities") or {}
            if capabilities.get("add") and not excepted:
                problems.append(f"{where}: adds capabilities without a {HOST_ACCESS_ANNOTATION} reason")
            expectations = {
                "runAsNonRoot": excepted or context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True,
                "readOnlyRootFilesystem": context.get("readOnlyRootFilesystem") is True,
                "allowPrivilegeEscalation=false": context.get("allowPrivilegeEscalation") is False,
                "capabilities drop ALL": capabilities.get("drop") == ["ALL"],
                "seccomp RuntimeDefault": (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
                "cpu/memory requests and limits": all(
                    r in (container.get("resources") or {}).get(kind, {}) for kind in ("requests", "limits") for r in ("cpu", "memory")),
                "a readiness probe": "readinessProbe" in container or kind in NOT_ROUTED,
                "a liveness probe that does not wait for peers": not _liveness_on_readiness(container),
                "image pinned to a tag": kind in ECK or (re.search(r":[^:/]+$", container["image"]) is not None
                                                         and not container["image"].endswith(":latest")),
            }
            problems += [f"{where}: missing {name}" for name, ok in expectations.items() if not ok]
            if context.get("privileged"):
                problems.append(f"{where}: privileged")
    for cr in m.of_kind("Prometheus", "Alertmanager"):
        context = cr["spec"].get("securityContext", {})
        if context.get("runAsNonRoot") is not True or (context.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{ref(cr)}: pod securityContext must be non-root with seccomp RuntimeDefault")
    return problems


# dskit's /ready (Loki, Tempo, Mimir) reports the ring and peers; a liveness probe there restarts pods that
# are healthy but still joining.
def _liveness_on_readiness(container: dict) -> bool:
    return ((container.get("livenessProbe") or {}).get("httpGet") or {}).get("path") == "/ready"
