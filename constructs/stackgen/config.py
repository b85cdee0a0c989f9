"""The overlay's configuration: every component's model put together, overlays deep-merged on top.

Each component's model and defaults live beside the code that renders it (components/*.py, with
shared types in settings.py); this module composes them into `StackConfig`, checks what spans
components, applies the seed's environment variables and turns validation errors into messages.
An overlay file (overlays/<name>.yaml) holds only what differs from the defaults. The seed's
environment variables (ENV_OVERRIDES) override the overlay for a one-off render. Any invalid value,
unknown key included, stops synthesis with a message naming the file, the key and what is allowed.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import BaseModel, ValidationError, model_validator

from stackgen.budget import Budget, applying
from stackgen.capacity import CapacityConfig
from stackgen.components.alertmanager import Alerting, AlertmanagerConfig
from stackgen.components.cluster import Network, Storage
from stackgen.components.elk.eck_operator import EckOperatorConfig
from stackgen.components.elk.elasticsearch import ElasticsearchConfig, LogsConfig
from stackgen.components.external_secrets import SecretsConfig
from stackgen.components.fluent_bit import FluentBitConfig
from stackgen.components.flux import FluxConfig
from stackgen.components.grafana import GrafanaConfig
from stackgen.components.elk.kibana import KibanaConfig
from stackgen.components.kube_state_metrics import KubeStateMetricsConfig
from stackgen.components.loki import LokiConfig
from stackgen.components.mimir import MimirConfig
from stackgen.components.node_exporter import NodeExporterConfig
from stackgen.components.openemr import OpenEmrConfig
from stackgen.components.platform import PlatformConfig
from stackgen.components.platform.nodes import NodesConfig
from stackgen.components.otebpf import OtebpfConfig
from stackgen.components.prometheus import PrometheusConfig
from stackgen.components.prometheus_operator import PrometheusOperatorConfig
from stackgen.components.tempo import TempoConfig
from stackgen.lib.scaling import Autoscaling
from stackgen.lib.tls import TlsConfig
from stackgen.settings import PATTERN_HELP, ZONES, DnsLabel, KmsKeyArn, Model, Region


class Aws(Model):
    region: Region = "us-east-1"
    # The customer-managed key the buckets (and Secrets Manager entries) are encrypted with; `aws preflight`
    # checks that the buckets use it and that each role may use it. None: not checked.
    kms_key_arn: KmsKeyArn | None = None


class StackConfig(Model):
    cluster_name: DnsLabel = "openemr-eks"
    namespace: DnsLabel = "monitoring"
    # The node agents (names.AGENTS): host access is allowed here and nowhere else.
    agents_namespace: DnsLabel = "monitoring-agents"
    app_namespace: DnsLabel = "openemr"
    instance: DnsLabel = "main"
    budget: Budget = Budget()
    # The seed's node type CAPACITY.md compares with, and the ingest its object-storage estimate assumes.
    capacity: CapacityConfig = CapacityConfig()
    storage: Storage = Storage()
    network: Network = Network()
    # The nodes the stack runs on (EKS Auto Mode): its own NodePool, or the built-in general-purpose pool.
    nodes: NodesConfig = NodesConfig()
    autoscaling: Autoscaling = Autoscaling()
    prometheus_operator: PrometheusOperatorConfig = PrometheusOperatorConfig()
    prometheus: PrometheusConfig = PrometheusConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    grafana: GrafanaConfig = GrafanaConfig()
    aws: Aws = Aws()
    loki: LokiConfig = LokiConfig()
    tempo: TempoConfig = TempoConfig()
    mimir: MimirConfig = MimirConfig()
    kube_state_metrics: KubeStateMetricsConfig = KubeStateMetricsConfig()
    node_exporter: NodeExporterConfig = NodeExporterConfig()
    openemr: OpenEmrConfig = OpenEmrConfig()
    otebpf: OtebpfConfig = OtebpfConfig()
    fluent_bit: FluentBitConfig = FluentBitConfig()
    alerting: Alerting = Alerting()
    flux: FluxConfig = FluxConfig()
    # What EKS Auto Mode does not run and the stack needs: managed here, or existing in the cluster.
    platform: PlatformConfig = PlatformConfig()
    # Encryption in transit: the issuer of every component's certificate, their lifetime and renewal.
    tls: TlsConfig = TlsConfig()
    # Where the Secrets the pods mount come from: AWS Secrets Manager through External Secrets, or kubectl.
    secrets: SecretsConfig = SecretsConfig()
    # Loki, Elasticsearch/Kibana on ECK, or both (components/elk/elasticsearch.py).
    logs: LogsConfig = LogsConfig()
    eck_operator: EckOperatorConfig = EckOperatorConfig()
    elasticsearch: ElasticsearchConfig = ElasticsearchConfig()
    kibana: KibanaConfig = KibanaConfig()

    @model_validator(mode="after")
    def _namespaces_are_distinct(self) -> "StackConfig":
        # Each has its own Pod Security level: sharing one would give the stack host access, or the app ours.
        seen: dict[str, str] = {}
        for key in ("namespace", "agents_namespace", "app_namespace"):
            value = getattr(self, key)
            if value in seen:
                raise ValueError(f"{key}={value} must differ from {seen[value]} ({value}): the stack, its node "
                                 "agents and the application each need a namespace of their own")
            seen[value] = key
        return self

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

    @model_validator(mode="after")
    def _high_availability_has_a_node_in_each_zone(self) -> "StackConfig":
        # Ring members go one per node and evenly over ZONES zones: fewer nodes leave some of them Pending.
        limit, key = applying(self)
        for name in ("loki", "tempo", "mimir"):
            backend = getattr(self, name)
            if backend.claims_ha() and limit.nodes < ZONES:
                raise ValueError(
                    f"{key}.nodes={limit.nodes} must be >= {ZONES} while {name}.topology is {backend.topology}: "
                    f"its ring members run one per node in {ZONES} zones so that a node or zone down is one member down")
        return self


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
    "LOGS_BACKEND": ("logs.backend", str),
    "OTEBPF_ENABLED": ("otebpf.enabled", _bool01),
    "ALERT_CPU_THRESHOLD": ("alerting.thresholds.cpu", _number),
    "ALERT_MEMORY_THRESHOLD": ("alerting.thresholds.memory", _number),
    "ALERT_ERROR_RATE_THRESHOLD": ("alerting.thresholds.error_rate", _number),
    "ALERT_LATENCY_THRESHOLD_SECONDS": ("alerting.thresholds.latency_seconds", _number),
    "ALERT_FOR_DURATION": ("alerting.thresholds.for_duration", str),
    "MONITORING_NAMESPACE": ("namespace", str),
    "AGENTS_NAMESPACE": ("agents_namespace", str),
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
    # The overlays it is based on (`base:`), outermost first: e.g. overlays/hospital.yaml.
    bases: list[str] = field(default_factory=list)


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
        if part not in model.model_fields:  # a key of a mapping (alerting.overrides.<alert>): same model
            continue
        annotation = model.model_fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return []
    return sorted(field.alias or name for name, field in model.model_fields.items())


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


BASE_KEY = "base"


@dataclass
class Layer:
    """One overlay file of an inheritance chain (`base: <overlay>`), read but not yet validated."""
    source: str
    patch: dict


def _read_patch(path: Path, source: str) -> dict:
    try:
        patch = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{source}: cannot read: {error}") from error
    if not isinstance(patch, dict):
        raise ConfigError(f"{source}: must be a mapping of settings, got {type(patch).__name__}")
    return patch


def _layers(path: Path, source: str) -> list[Layer]:
    """The overlay and the overlays it is based on, base first: a cluster overlay on a size overlay."""
    chain: list[Layer] = []
    while True:
        patch = _read_patch(path, source)
        chain.insert(0, Layer(source, patch))
        base = patch.pop(BASE_KEY, None)
        if base is None:
            return chain
        siblings = sorted(p.stem for p in path.parent.glob("*.yaml") if p != path)
        if not isinstance(base, str) or not (path.parent / f"{base}.yaml").is_file() or base == path.stem:
            raise ConfigError(f"{source}: {BASE_KEY}={base!r} must name another overlay in {path.parent.name}/; "
                              f"available: {', '.join(siblings)}")
        if any(layer.source.endswith(f"/{base}.yaml") for layer in chain):
            raise ConfigError(f"{source}: {BASE_KEY}={base!r} makes a cycle: "
                              f"{' -> '.join(layer.source for layer in reversed(chain))} -> {base}")
        path = path.parent / f"{base}.yaml"
        source = str(Path(source).parent / path.name)


def _origin(layers: list[Layer], loc: tuple) -> str:
    """The file that set the key an error is about: the last layer holding the longest part of its path."""
    def depth(patch: dict) -> int:
        node, matched = patch, 0
        for part in map(str, loc):
            if not isinstance(node, dict) or part not in node:
                break
            node, matched = node[part], matched + 1
        return matched
    best = max(range(len(layers)), key=lambda i: (depth(layers[i].patch), i))
    return layers[best].source if depth(layers[best].patch) else layers[-1].source


def load_overlay(path: Path, environ: dict[str, str] | None = None, source: str | None = None) -> LoadedConfig:
    """Read one overlay (and the overlays it names as `base`), apply environment overrides, validate.
    Raises ConfigError."""
    source = source or str(path)
    layers = _layers(path, source)
    data = StackConfig().model_dump()
    for layer in layers:
        data = deep_merge(data, layer.patch)
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
            errors = [_describe(e, _origin(layers, e["loc"]), env_paths) for e in error.errors()]
    if errors:
        raise ConfigError("\n".join(errors))
    return LoadedConfig(name=path.stem, source=source, config=config, overrides=overrides,
                        bases=[layer.source for layer in layers[:-1]])
