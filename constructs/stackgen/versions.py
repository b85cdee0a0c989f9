"""Every image the stack runs, pinned to an exact tag, in one place.

Prometheus and Alertmanager are versions the pinned operator (v0.93.0, same tag as the CRDs in
imports/crds) lists as supported; the config reloader always matches the operator.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Image:
    """An image at an exact tag; with a digest (`sha256:...`) it is pulled by digest, the tag kept for
    readers. To pin one: `docker buildx imagetools inspect <repository>:<tag>` (or `crane digest`) prints
    the digest of the multi-arch index; set it here, re-run synth, and review the diff."""
    repository: str
    tag: str
    digest: str = ""

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")

    @property
    def version(self) -> str:
        """The version label value: the tag without a leading 'v'."""
        return self.tag.removeprefix("v")


PROMETHEUS_OPERATOR = Image("quay.io/prometheus-operator/prometheus-operator", "v0.93.0")
PROMETHEUS_CONFIG_RELOADER = Image("quay.io/prometheus-operator/prometheus-config-reloader", "v0.93.0")
PROMETHEUS = Image("quay.io/prometheus/prometheus", "v3.9.1")
ALERTMANAGER = Image("quay.io/prometheus/alertmanager", "v0.31.1")
GRAFANA = Image("docker.io/grafana/grafana", "12.4.2")
# Not an image: the Grafana plugin X-Ray needs (plugin id, version), installed by Grafana at start.
GRAFANA_XRAY_PLUGIN = Image("grafana-x-ray-datasource", "2.17.1")
KUBE_STATE_METRICS = Image("registry.k8s.io/kube-state-metrics/kube-state-metrics", "v2.18.0")
NODE_EXPORTER = Image("quay.io/prometheus/node-exporter", "v1.10.2")

# The resource metrics API for the HPAs (platform stage); 0.8.x serves Kubernetes 1.31 and newer.
METRICS_SERVER = Image("registry.k8s.io/metrics-server/metrics-server", "v0.8.1")
# Installed by the platform stage as a chart (components/platform/cert_manager.py); the image is the chart's.
CERT_MANAGER = Image("quay.io/jetstack/cert-manager-controller", "v1.21.1")

# Loki and Tempo at the versions whose configuration key trees are in catalog/config-reference;
# Mimir 2.17 (classic architecture, no Kafka), checked against the closest key tree there.
LOKI = Image("docker.io/grafana/loki", "3.7.6")
TEMPO = Image("docker.io/grafana/tempo", "2.10.8")
MIMIR = Image("docker.io/grafana/mimir", "2.17.5")

# OpenTelemetry eBPF Instrumentation (OBI, formerly Grafana Beyla). Configuration keys checked against
# the project's docs/config-schema.json; capability set as in the upstream chart's unprivileged mode.
OTEBPF = Image("docker.io/otel/ebpf-instrument", "v1.0.0")
# 4.2 is the stable series that receives backported fixes.
FLUENT_BIT = Image("docker.io/fluent/fluent-bit", "4.2.0")

# Elastic Cloud on Kubernetes, at the version of the CRDs vendored in imports/crds/eck-v3.5.0. Elasticsearch and Kibana always at one version;
# the setup Jobs run Python's standard library (urllib, ssl, json) only.
ECK_OPERATOR = Image("docker.elastic.co/eck/eck-operator", "3.5.0")
ELASTICSEARCH = Image("docker.elastic.co/elasticsearch/elasticsearch", "9.1.5")
KIBANA = Image("docker.elastic.co/kibana/kibana", ELASTICSEARCH.tag)
ELASTICSEARCH_EXPORTER = Image("quay.io/prometheuscommunity/elasticsearch-exporter", "v1.9.0")
SETUP_PYTHON = Image("docker.io/library/python", "3.13.1-alpine3.21")
