"""The typed configuration of the stack: defaults for everything, overlays deep-merged on top.

An overlay file (overlays/<name>.yaml) holds only what differs from the defaults below. The seed's
environment variables (ENV_OVERRIDES) override the overlay for a one-off render. Any invalid value,
unknown key included, stops synthesis with a message naming the file, the key and what is allowed.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

# Formats accepted by the Prometheus CRD (same patterns as its openAPIV3Schema).
DURATION_PATTERN = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
BYTE_SIZE_PATTERN = r"^(0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$"
CPU_PATTERN = r"^([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$"
MEMORY_PATTERN = r"^[0-9]+(Ki|Mi|Gi|Ti)$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"

Duration = Annotated[str, Field(pattern=DURATION_PATTERN, min_length=1)]
ByteSize = Annotated[str, Field(pattern=BYTE_SIZE_PATTERN)]
# YAML reads `cpu_request: 2` as a number; a CPU quantity is a string either way.
Cpu = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, (int, float)) else v), Field(pattern=CPU_PATTERN)]
Memory = Annotated[str, Field(pattern=MEMORY_PATTERN)]
DnsLabel = Annotated[str, Field(pattern=DNS_LABEL_PATTERN)]
Percent = Annotated[int, Field(ge=1, le=100)]
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
REGION_PATTERN = r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"
Bucket = Annotated[str, Field(pattern=BUCKET_PATTERN)]
RoleArn = Annotated[str, Field(pattern=ROLE_ARN_PATTERN)]
Region = Annotated[str, Field(pattern=REGION_PATTERN)]
# AWS's documentation account: embedded defaults render, and are obviously not a real role.
PLACEHOLDER_ACCOUNT = "123456789012"
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE_PATTERN, max_length=63)]
# Fluent Bit's unit sizes (storage.total_limit_size, mem_buf_limit): 500M, 2G.
FLUENT_SIZE_PATTERN = r"^[0-9]+[KMG]$"
FluentSize = Annotated[str, Field(pattern=FLUENT_SIZE_PATTERN)]

PATTERN_HELP = {
    DURATION_PATTERN: "must be a duration such as 30s, 5m, 12h, 15d, 1w or 1y",
    BYTE_SIZE_PATTERN: "must be a size such as 512MB, 90GB or 1TB",
    CPU_PATTERN: "must be a CPU quantity such as 250m or 2",
    MEMORY_PATTERN: "must be a memory quantity such as 512Mi or 4Gi",
    DNS_LABEL_PATTERN: "must be a DNS label (lower-case letters, digits, '-')",
    BUCKET_PATTERN: "must be an S3 bucket name (3-63 lower-case letters, digits, '.', '-')",
    ROLE_ARN_PATTERN: "must be an IAM role ARN such as arn:aws:iam::<account>:role/<name>",
    REGION_PATTERN: "must be an AWS region such as us-east-1",
    LABEL_VALUE_PATTERN: "must be a label value (letters, digits, '-', '_', '.'; at most 63)",
    FLUENT_SIZE_PATTERN: "must be a Fluent Bit size such as 512M or 2G",
}

def cpu_millicores(quantity: str) -> int:
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return round(float(quantity) * 1000)


_DURATION_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def duration_seconds(duration: str) -> float:
    """Seconds in a Prometheus-style duration ('90d', '1h30m')."""
    return sum(float(n) * _DURATION_UNITS[unit] for n, unit in re.findall(r"([0-9]+)(ms|y|w|d|h|m|s)", duration))


def memory_bytes(quantity: str) -> int:
    """Bytes of a Kubernetes memory quantity ('512Mi') or a Prometheus byte size ('90GB')."""
    match = re.fullmatch(r"([0-9.]+)(?:([KMGTPE])(i?))?B?", quantity)
    if not match:
        raise ValueError(f"not a size: {quantity}")
    number, prefix, binary = float(match.group(1)), match.group(2), match.group(3)
    if not prefix:
        return int(number)
    return int(number * (1024 if binary else 1000) ** ("KMGTPE".index(prefix) + 1))


def role(name: str) -> str:
    return f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/openemr-monitoring-{name}"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(Model):
    cpu_request: Cpu
    memory_request: Memory
    cpu_limit: Cpu
    memory_limit: Memory

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "Resources":
        if cpu_millicores(self.cpu_request) > cpu_millicores(self.cpu_limit):
            raise ValueError(f"cpu_request={self.cpu_request} must be <= cpu_limit ({self.cpu_limit})")
        if memory_bytes(self.memory_request) > memory_bytes(self.memory_limit):
            raise ValueError(
                f"memory_request={self.memory_request} must be <= memory_limit ({self.memory_limit})")
        return self


def sized(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str):
    return Field(default_factory=lambda: Resources(
        cpu_request=cpu_request, memory_request=memory_request,
        cpu_limit=cpu_limit, memory_limit=memory_limit))


class ReplicaRange(Model):
    min_replicas: int = Field(1, ge=1, le=50)
    max_replicas: int = Field(3, ge=1, le=50)
    cpu_target: Percent | None = None
    memory_target: Percent | None = None

    @model_validator(mode="after")
    def _min_le_max(self) -> "ReplicaRange":
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas={self.max_replicas} must be >= min_replicas ({self.min_replicas})")
        return self


class Autoscaling(Model):
    """HPA settings. With `enabled: false` every component runs at its min_replicas, no HPA."""
    enabled: bool = True
    cpu_target: Percent = 70
    memory_target: Percent = 80
    # Grafana stays at one replica while it keeps its SQLite database on one RWO volume.
    grafana: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=1)
    # The stateless parts of Loki, Tempo and Mimir (read path, distributors, queriers). Their stateful
    # parts scale by configuration; the single-process topologies have nothing to autoscale.
    loki: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=1)
    tempo: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=1)
    mimir: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=1)
    # Prometheus scales by shards (the CR's scale subresource). Each shard scrapes only part of the
    # targets, so queries and rules on one shard see part of the data: sharding is opt-in.
    prometheus: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=1)
    alertmanager: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=3)


class SecretKeyRef(Model):
    name: DnsLabel
    key: str = Field(min_length=1)


class Storage(Model):
    class_name: DnsLabel = "gp3-monitoring-encrypted"
    # Customer-managed KMS key (ARN or id); empty means the account's default EBS key.
    kms_key_id: str = ""


class Network(Model):
    # Where the Kubernetes API server is reached from pods (EKS: the cluster endpoint ENIs).
    kube_api_cidrs: list[str] = ["0.0.0.0/0"]
    # Node addresses: node-exporter and the kubelet listen on the host network.
    node_cidrs: list[str] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


class Budget(Model):
    """What the overlay may request in total (the seed's node budget); synthesis refuses more."""
    nodes: int = Field(2, ge=1)
    cpu: Cpu = "4"
    memory: Memory = "8Gi"


class PrometheusOperator(Model):
    resources: Resources = sized("50m", "64Mi", "200m", "256Mi")
    # Applied by the operator to the config-reloader sidecar it adds to Prometheus and Alertmanager pods.
    reloader_resources: Resources = sized("10m", "32Mi", "50m", "64Mi")


class Prometheus(Model):
    replicas: int = Field(1, ge=1, le=5, description="HA copies of every shard")
    retention: Duration = "30d"
    retention_size: ByteSize = "90GB"
    scrape_interval: Duration = "30s"
    evaluation_interval: Duration = "30s"
    storage_size: Memory = "100Gi"
    resources: Resources = sized("300m", "1Gi", "1", "2Gi")

    @model_validator(mode="after")
    def _retention_size_fits_volume(self) -> "Prometheus":
        # Size-based retention must trigger before the volume is full, with room for the WAL.
        if memory_bytes(self.retention_size) > 0.9 * memory_bytes(self.storage_size):
            raise ValueError(
                f"retention_size={self.retention_size} must be <= 90% of storage_size ({self.storage_size})")
        return self


class Alertmanager(Model):
    storage_size: Memory = "5Gi"
    retention: Duration = "120h"
    resources: Resources = sized("25m", "64Mi", "100m", "128Mi")


class GrafanaDatabase(Model):
    """An external database lets Grafana run more than one replica."""
    type: Literal["postgres"] = "postgres"
    host: str = Field(pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$", description="host or host:port")
    name: str = "grafana"
    user: str = "grafana"
    password_secret: SecretKeyRef
    ssl_mode: Literal["disable", "require", "verify-ca", "verify-full"] = "require"


class GrafanaAdminSecret(Model):
    name: DnsLabel = "grafana-admin"
    user_key: str = "admin-user"
    password_key: str = "admin-password"


class Grafana(Model):
    storage_size: Memory = "20Gi"
    # Grafana's own IRSA role: CloudWatch and X-Ray read access.
    role_arn: RoleArn = role("grafana")
    admin_secret: GrafanaAdminSecret = GrafanaAdminSecret()
    database: GrafanaDatabase | None = None
    resources: Resources = sized("100m", "256Mi", "500m", "512Mi")


class Aws(Model):
    region: Region = "us-east-1"


class RingBackend(Model):
    """Loki, Tempo, Mimir: data is replicated over ring members; the factor must fit the members."""
    topology: str
    replication_factor: int = Field(1, ge=1, le=5)

    def ring_members(self) -> list[tuple[str, str, int]]:
        """(role, replicas setting, members holding data in the rendered topology)."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _replication_fits(self) -> "RingBackend":
        for role_name, setting, members in self.ring_members():
            if self.replication_factor > members:
                raise ValueError(f"replication_factor={self.replication_factor} must be <= the {members} {role_name} "
                                 f"replica(s) of topology {self.topology} ({setting})")
        return self


class LokiResources(Model):
    single: Resources = sized("100m", "256Mi", "1", "1Gi")
    read: Resources = sized("50m", "128Mi", "1", "512Mi")
    write: Resources = sized("100m", "256Mi", "1", "1Gi")
    backend: Resources = sized("50m", "128Mi", "500m", "512Mi")


class Loki(RingBackend):
    topology: Literal["single-binary", "simple-scalable"] = "single-binary"
    retention: Duration = "720h"
    bucket: Bucket = "openemr-monitoring-loki"
    role_arn: RoleArn = role("loki")
    write_replicas: int = Field(2, ge=1, le=20)
    backend_replicas: int = Field(2, ge=1, le=20)
    volume_size: Memory = "10Gi"
    resources: LokiResources = LokiResources()

    def ring_members(self) -> list[tuple[str, str, int]]:
        return [("ingesting", "write_replicas", 1 if self.topology == "single-binary" else self.write_replicas)]


class TempoResources(Model):
    single: Resources = sized("100m", "256Mi", "1", "1Gi")
    distributor: Resources = sized("50m", "64Mi", "500m", "256Mi")
    ingester: Resources = sized("100m", "256Mi", "1", "1Gi")
    querier: Resources = sized("50m", "128Mi", "500m", "512Mi")
    query_frontend: Resources = sized("25m", "64Mi", "500m", "256Mi")
    compactor: Resources = sized("50m", "128Mi", "500m", "512Mi")
    metrics_generator: Resources = sized("50m", "128Mi", "500m", "512Mi")


class Tempo(RingBackend):
    topology: Literal["monolithic", "distributed"] = "monolithic"
    retention: Duration = "90d"
    bucket: Bucket = "openemr-monitoring-tempo"
    role_arn: RoleArn = role("tempo")
    ingester_replicas: int = Field(2, ge=1, le=20)
    volume_size: Memory = "10Gi"
    resources: TempoResources = TempoResources()

    def ring_members(self) -> list[tuple[str, str, int]]:
        return [("ingester", "ingester_replicas", 1 if self.topology == "monolithic" else self.ingester_replicas)]


class MimirResources(Model):
    single: Resources = sized("200m", "512Mi", "1", "2Gi")
    distributor: Resources = sized("100m", "128Mi", "1", "512Mi")
    ingester: Resources = sized("150m", "512Mi", "1", "2Gi")
    querier: Resources = sized("100m", "256Mi", "1", "1Gi")
    query_frontend: Resources = sized("50m", "64Mi", "500m", "256Mi")
    query_scheduler: Resources = sized("25m", "64Mi", "250m", "128Mi")
    store_gateway: Resources = sized("50m", "128Mi", "500m", "1Gi")
    compactor: Resources = sized("50m", "128Mi", "1", "1Gi")


class Mimir(RingBackend):
    topology: Literal["monolithic", "distributed"] = "monolithic"
    retention: Duration = "365d"
    blocks_bucket: Bucket = "openemr-monitoring-mimir-blocks"
    ruler_bucket: Bucket = "openemr-monitoring-mimir-ruler"
    role_arn: RoleArn = role("mimir")
    ingester_replicas: int = Field(2, ge=1, le=20)
    store_gateway_replicas: int = Field(1, ge=1, le=20)
    volume_size: Memory = "20Gi"
    resources: MimirResources = MimirResources()

    def ring_members(self) -> list[tuple[str, str, int]]:
        single = self.topology == "monolithic"
        return [("ingester", "ingester_replicas", 1 if single else self.ingester_replicas),
                ("store-gateway", "store_gateway_replicas", 1 if single else self.store_gateway_replicas)]


class KubeStateMetrics(Model):
    resources: Resources = sized("50m", "128Mi", "200m", "256Mi")


class NodeExporter(Model):
    resources: Resources = sized("25m", "32Mi", "100m", "64Mi")


class OpenEmr(Model):
    """The application being observed (it lives in `app_namespace`); nothing here is rendered into it
    except the optional sidecar patch and the policy for its traffic to the stack."""
    deployment: DnsLabel = "openemr"
    container: DnsLabel = "openemr"
    pod_labels: dict[str, LabelValue] = {"app": "openemr"}
    # The image's APACHE_LOG_DIR: Apache writes access.log and error.log here (through rotatelogs).
    log_dir: str = Field("/var/log/apache2", pattern=r"^/[A-Za-z0-9._/-]+$")
    # Render an egress NetworkPolicy for OpenEMR's traffic to the stack. Only allow rules: meant for an
    # app namespace that already denies egress by default (otherwise it would isolate OpenEMR's egress).
    egress_policy: bool = True


class Otebpf(Model):
    """eBPF auto-instrumentation of the OpenEMR pods: traces to Tempo, HTTP RED metrics to Prometheus."""
    enabled: bool = True
    resources: Resources = sized("50m", "128Mi", "500m", "512Mi")


class FluentBitSidecar(Model):
    """Optional: ship OpenEMR's own log files (Apache access/error, PHP errors) from a sidecar."""
    enabled: bool = False
    resources: Resources = sized("10m", "32Mi", "100m", "96Mi")


class FluentBit(Model):
    """Container logs of every node to Loki, with a filesystem buffer for Loki outages."""
    resources: Resources = sized("25m", "64Mi", "250m", "192Mi")
    # How much may wait on each node's disk while Loki is unreachable; beyond it the oldest chunks go.
    buffer_limit: FluentSize = "2G"
    sidecar: FluentBitSidecar = FluentBitSidecar()


Ratio = Annotated[float, Field(gt=0, le=1)]


class AlertThresholds(Model):
    """The seed's alert thresholds (ALERT_* variables)."""
    cpu: Ratio = 0.8
    memory: Ratio = 0.9
    error_rate: Ratio = 0.05
    latency_seconds: float = Field(2, gt=0, le=120)
    for_duration: Duration = "5m"


class Channel(Model):
    """A receiver channel. Turned on, it needs the Secret key holding its credential; the value itself
    never appears in git or dist/ (Alertmanager reads it from the mounted file)."""
    enabled: bool = True
    secret: SecretKeyRef | None = None

    @model_validator(mode="after")
    def _secret_when_enabled(self) -> "Channel":
        if self.enabled and self.secret is None:
            raise ValueError("secret=None must name the Secret (name, key) holding the credential while "
                             "enabled is true; or set enabled: false")
        return self


class Slack(Channel):
    secret: SecretKeyRef | None = SecretKeyRef(name="alertmanager-slack", key="api-url")
    critical_channel: str = Field("#alerts-critical", pattern=r"^#[a-z0-9_-]{1,80}$")
    warning_channel: str = Field("#alerts-warnings", pattern=r"^#[a-z0-9_-]{1,80}$")


class PagerDuty(Channel):
    secret: SecretKeyRef | None = SecretKeyRef(name="alertmanager-pagerduty", key="routing-key")
    url: str = Field("https://events.pagerduty.com/v2/enqueue", pattern=r"^https://")


class Email(Channel):
    secret: SecretKeyRef | None = SecretKeyRef(name="alertmanager-smtp", key="password")
    to: str = Field("oncall@example.org", pattern=r"^[^@\s]+@[^@\s]+$")
    sender: str = Field("alertmanager@example.org", pattern=r"^[^@\s]+@[^@\s]+$")
    smarthost: str = Field("smtp.example.org:587", pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
    username: str = "alertmanager@example.org"


class Alerting(Model):
    slack: Slack = Slack()
    pagerduty: PagerDuty = PagerDuty()
    email: Email = Email()
    # Links in notifications: where reviewers' runbooks and the team's Grafana are reached from outside.
    runbook_url: str = Field("https://git.example.org/observability/docs/runbooks.md", pattern=r"^https://")
    grafana_url: str = Field("https://grafana.example.org", pattern=r"^https://")
    thresholds: AlertThresholds = AlertThresholds()


class StackConfig(Model):
    cluster_name: DnsLabel = "openemr-eks"
    namespace: DnsLabel = "monitoring"
    app_namespace: DnsLabel = "openemr"
    instance: DnsLabel = "main"
    budget: Budget = Budget()
    storage: Storage = Storage()
    network: Network = Network()
    autoscaling: Autoscaling = Autoscaling()
    prometheus_operator: PrometheusOperator = PrometheusOperator()
    prometheus: Prometheus = Prometheus()
    alertmanager: Alertmanager = Alertmanager()
    grafana: Grafana = Grafana()
    aws: Aws = Aws()
    loki: Loki = Loki()
    tempo: Tempo = Tempo()
    mimir: Mimir = Mimir()
    kube_state_metrics: KubeStateMetrics = KubeStateMetrics()
    node_exporter: NodeExporter = NodeExporter()
    openemr: OpenEmr = OpenEmr()
    otebpf: Otebpf = Otebpf()
    fluent_bit: FluentBit = FluentBit()
    alerting: Alerting = Alerting()

    @model_validator(mode="after")
    def _grafana_scales_only_with_external_database(self) -> "StackConfig":
        grafana = self.autoscaling.grafana
        if self.grafana.database is None and grafana.max_replicas > 1:
            raise ValueError(
                f"autoscaling.grafana.max_replicas={grafana.max_replicas} must be 1 while grafana.database "
                "is not set (embedded SQLite on one ReadWriteOnce volume); set grafana.database to scale")
        return self

    @model_validator(mode="after")
    def _single_process_backends_do_not_autoscale(self) -> "StackConfig":
        for name, single in (("loki", "single-binary"), ("tempo", "monolithic"), ("mimir", "monolithic")):
            scaling, topology = getattr(self.autoscaling, name), getattr(self, name).topology
            if topology == single and scaling.max_replicas > 1:
                raise ValueError(
                    f"autoscaling.{name}.max_replicas={scaling.max_replicas} must be 1 while {name}.topology is "
                    f"{single} (one stateful process); choose the scalable topology to scale")
        return self


# --- environment overrides (the seed's variables) -------------------------------------------------

def _bool01(value: str) -> bool:
    if value not in ("0", "1", "true", "false"):
        raise ValueError("must be 0 or 1")
    return value in ("1", "true")


def _int(value: str) -> int:
    if not re.fullmatch(r"-?[0-9]+", value):
        raise ValueError("must be a whole number")
    return int(value)


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError("must be a number") from None


ENV_OVERRIDES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "ENABLE_AUTOSCALING": ("autoscaling.enabled", _bool01),
    "HPA_CPU_TARGET": ("autoscaling.cpu_target", _int),
    "HPA_MEMORY_TARGET": ("autoscaling.memory_target", _int),
    "PROMETHEUS_RETENTION": ("prometheus.retention", str),
    "PROMETHEUS_RETENTION_SIZE": ("prometheus.retention_size", str),
    "PROMETHEUS_SCRAPE_INTERVAL": ("prometheus.scrape_interval", str),
    "PROMETHEUS_EVALUATION_INTERVAL": ("prometheus.evaluation_interval", str),
    "LOKI_RETENTION": ("loki.retention", str),
    "OTEBPF_ENABLED": ("otebpf.enabled", _bool01),
    "ALERT_CPU_THRESHOLD": ("alerting.thresholds.cpu", _number),
    "ALERT_MEMORY_THRESHOLD": ("alerting.thresholds.memory", _number),
    "ALERT_ERROR_RATE_THRESHOLD": ("alerting.thresholds.error_rate", _number),
    "ALERT_LATENCY_THRESHOLD_SECONDS": ("alerting.thresholds.latency_seconds", _number),
    "ALERT_FOR_DURATION": ("alerting.thresholds.for_duration", str),
    "MONITORING_NAMESPACE": ("namespace", str),
    "OPENEMR_NAMESPACE": ("app_namespace", str),
    **{
        f"{component.upper()}_{bound.upper()}_REPLICAS": (f"autoscaling.{component}.{bound}_replicas", _int)
        for component in ("grafana", "prometheus", "alertmanager", "loki", "tempo", "mimir")
        for bound in ("min", "max")
    },
}


class ConfigError(Exception):
    """Bad input: the message names the source, the key and what is allowed."""


@dataclass
class Override:
    variable: str
    path: str
    old: Any
    new: Any


@dataclass
class LoadedConfig:
    name: str
    source: str
    config: StackConfig
    overrides: list[Override] = field(default_factory=list)


def deep_merge(base: dict, patch: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _get_path(data: dict, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set_path(data: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _allowed_keys(loc: tuple) -> list[str]:
    model: Any = StackConfig
    for part in loc:
        annotation = model.model_fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return []
    return sorted(model.model_fields)


def _describe(error: dict, source: str, env_paths: dict[str, str]) -> str:
    loc = tuple(str(part) for part in error["loc"])
    path = ".".join(loc)
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc[:-1]))
        return f"{source}: {path}: unknown key; allowed here: {allowed}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":
        # Cross-field checks name their own key first ("max_replicas=0 must be ..."), relative to loc.
        key = message.split("=", 1)[0]
        key_path = key if "." in key or not loc else f"{path}.{key}"
        text = message if key_path == key else f"{path}.{message}"
    else:
        key_path = path
        if error["type"] == "string_pattern_mismatch":
            pattern = error["ctx"]["pattern"]
            message = PATTERN_HELP.get(pattern, f"must match {pattern}")
        text = f"{path}={error['input']!r} {message}"
    origin = env_paths.get(key_path)
    return f"{source} (set by env {origin}): {text}" if origin else f"{source}: {text}"


def load_overlay(path: Path, environ: dict[str, str] | None = None, source: str | None = None) -> LoadedConfig:
    """Read one overlay, apply environment overrides, validate. Raises ConfigError."""
    source = source or str(path)
    try:
        patch = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{source}: cannot read: {error}") from error
    if not isinstance(patch, dict):
        raise ConfigError(f"{source}: must be a mapping of settings, got {type(patch).__name__}")
    data = deep_merge(StackConfig().model_dump(), patch)
    overrides, env_paths, errors = [], {}, []
    for variable, (key, parse) in ENV_OVERRIDES.items():
        if environ is None or variable not in environ:
            continue
        try:
            value = parse(environ[variable])
        except ValueError as error:
            errors.append(f"env {variable}={environ[variable]!r}: {key} {error}")
            continue
        overrides.append(Override(variable, key, _get_path(data, key), value))
        env_paths[key] = variable
        _set_path(data, key, value)
    if not errors:
        try:
            config = StackConfig.model_validate(data)
        except ValidationError as error:
            errors = [_describe(e, source, env_paths) for e in error.errors()]
    if errors:
        raise ConfigError("\n".join(errors))
    return LoadedConfig(name=path.stem, source=source, config=config, overrides=overrides)
