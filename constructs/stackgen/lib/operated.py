"""Pod settings shared by the operator-managed CRs (Prometheus, Alertmanager), written once.

The typed bindings give each CR its own family of classes (PrometheusSpecResources,
AlertmanagerSpecResources, ...) with identical shapes; these helpers pick the family by kind.
"""
from __future__ import annotations

import functools

from imports.com.coreos import monitoring as m
from stackgen.lib.placement import Placement
from stackgen.settings import Resources


def _types(kind: str, suffix: str):
    return getattr(m, f"{kind}Spec{suffix}")


@functools.cache
def _quantity(kind: str, suffix: str, value: str):
    """A quantity of the CR's own binding type; cached, as each one is a call into the jsii runtime."""
    return _types(kind, suffix).from_string(value)


def resources(kind: str, resources: Resources):
    return _types(kind, "Resources")(
        requests={"cpu": _quantity(kind, "ResourcesRequests", resources.cpu_request),
                  "memory": _quantity(kind, "ResourcesRequests", resources.memory_request)},
        limits={"cpu": _quantity(kind, "ResourcesLimits", resources.cpu_limit),
                "memory": _quantity(kind, "ResourcesLimits", resources.memory_limit)})


def security_context(kind: str):
    """Non-root with seccomp; the operator itself sets the restricted container securityContext. The
    images' own user, nobody (65534): a uid >= 10000 no host user has; data volumes are fsGroup-owned."""
    return _types(kind, "SecurityContext")(
        run_as_non_root=True, run_as_user=65534, run_as_group=65534, fs_group=65534,
        seccomp_profile=_types(kind, "SecurityContextSeccompProfile")(type="RuntimeDefault"))


def storage(kind: str, storage_class: str, size: str):
    claim = "StorageVolumeClaimTemplateSpec"
    return _types(kind, "Storage")(volume_claim_template=_types(kind, "StorageVolumeClaimTemplate")(
        spec=_types(kind, claim)(
            storage_class_name=storage_class, access_modes=["ReadWriteOnce"],
            resources=_types(kind, f"{claim}Resources")(
                requests={"storage": _quantity(kind, f"{claim}ResourcesRequests", size)}))))


def spread_over_nodes(kind: str, selector: dict[str, str]):
    """Prefer one pod per node for replicas of the same CR (soft: a small cluster still schedules)."""
    preferred = "AffinityPodAntiAffinityPreferredDuringSchedulingIgnoredDuringExecution"
    return _types(kind, "Affinity")(pod_anti_affinity=_types(kind, "AffinityPodAntiAffinity")(
        preferred_during_scheduling_ignored_during_execution=[_types(kind, preferred)(
            weight=100,
            pod_affinity_term=_types(kind, f"{preferred}PodAffinityTerm")(
                topology_key="kubernetes.io/hostname",
                label_selector=_types(kind, f"{preferred}PodAffinityTermLabelSelector")(match_labels=selector)))]))


def tolerations(kind: str, placement: Placement | None):
    """The stack's NodePool taint, tolerated (lib/placement.py); the nodeSelector is a plain map."""
    return [_types(kind, "Tolerations")(**placement.toleration)] if placement else None


def web_tls(kind: str, certificate_secret: str):
    """HTTPS for the CR's web port from the component's own certificate Secret (spec.web.tlsConfig). The
    operator (v0.93.0) turns it into the web config file it generates (pkg/webconfig), mounts the Secret whole
    (not subPath: renewals reach the pod), switches its probes to HTTPS and hands the same file to the
    config reloader, whose port then serves HTTPS too; exporter-toolkit re-reads the certificate on each
    new connection (web/tls_config.go, GetCertificate), so a renewed one is served without a restart."""
    return _types(kind, "Web")(tls_config=_types(kind, "WebTlsConfig")(**server_tls(certificate_secret)))


def server_tls(certificate_secret: str) -> dict:
    """A WebTLSConfig (the CRD's form, for the web port and Alertmanager's cluster server): TLS 1.2 minimum,
    as exporter-toolkit spells it; Go negotiates 1.3 with every client in the cluster."""
    return {"cert": {"secret": {"name": certificate_secret, "key": "tls.crt"}},
            "key_secret": {"name": certificate_secret, "key": "tls.key"}, "min_version": "TLS12"}


def ca_of(certificate_secret: str) -> dict:
    """A client's trust (SafeTLSConfig's `ca`): the CA in the component's own certificate Secret; the
    operator copies that key into the pod's TLS assets."""
    return {"secret": {"name": certificate_secret, "key": "ca.crt"}}
