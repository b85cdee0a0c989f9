"""Tempo: traces over OTLP (4317 gRPC, 4318 HTTP) on S3, 90 days of block retention, and RED metrics
(span metrics, service graphs) remote-written by the metrics-generator to Mimir's /api/v1/push.

clinic: one process. hospital/large: distributor, querier, query-frontend (stateless), ingester and
metrics-generator as ring members with volumes, compactor.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from constructs import Construct
from stackgen import forms, versions
from stackgen.components import mimir
from stackgen.context import Context
from stackgen.lib.backend import GRPC, MEMBERLIST_FORMS, Backend, BackendSpec, Target, join_members, with_member_tls
from stackgen.lib.tls import CA_FILE, CERT_FILE, KEY_FILE
from stackgen.lib.workload import Port
from stackgen.settings import (
    Bucket,
    Memory,
    Model,
    PositiveDuration,
    Resources,
    RingBackend,
    RoleArn,
    duration_seconds,
    role,
    sized,
)

if TYPE_CHECKING:  # the overlay's model imports every component's; this only annotates
    from stackgen.config import StackConfig


class TempoResources(Model):
    single: Resources = sized("100m", "256Mi", "1", "1Gi")
    distributor: Resources = sized("50m", "64Mi", "500m", "256Mi")
    ingester: Resources = sized("100m", "256Mi", "1", "1Gi")
    querier: Resources = sized("50m", "128Mi", "500m", "512Mi")
    query_frontend: Resources = sized("25m", "64Mi", "500m", "256Mi")
    compactor: Resources = sized("50m", "128Mi", "500m", "512Mi")
    metrics_generator: Resources = sized("50m", "128Mi", "500m", "512Mi")


class TempoConfig(RingBackend):
    topology: Literal["monolithic", "distributed"] = "monolithic"
    retention: PositiveDuration = "90d"
    bucket: Bucket = "openemr-monitoring-tempo"
    role_arn: RoleArn = role("tempo")
    ingester_replicas: int = Field(2, ge=1, le=20)
    volume_size: Memory = "10Gi"
    resources: TempoResources = TempoResources()

    SINGLE_PROCESS = "monolithic"

    def ring_members(self) -> list[tuple[str, str, int]]:
        return [("ingester", "ingester_replicas", 1 if self.topology == self.SINGLE_PROCESS else self.ingester_replicas)]


HTTP = Port("http", 3200)
# ingester.terminationGracePeriodSeconds and metricsGenerator.terminationGracePeriodSeconds of tempo-distributed
# 2.26.2 (grafana-community/helm-charts, appVersion 2.10.7): time to cut traces to the WAL and leave the ring.
# Like that chart, `ingester.flush_all_on_shutdown` stays false: the WAL on the member's volume is replayed.
GRACE_SECONDS = 300
OTLP_GRPC = Port("otlp-grpc", 4317)
OTLP_HTTP = Port("otlp-http", 4318)
MEMBERLIST = {"kvstore": {"store": "memberlist"}}
ADDRESS_FORMS = {
    **MEMBERLIST_FORMS,
    # The querier's DNS watcher resolves every A record of the name (one connection per frontend), so
    # the name is the headless discovery Service, which also lists frontends that are not ready yet.
    "querier.frontend_worker.frontend_address": forms.GRPC_HOST_PORT,
    "metrics_generator.storage.remote_write[].url": forms.HTTP_URL,
    "storage.trace.s3.endpoint": forms.S3_ENDPOINT,
    "distributor.receivers.otlp.protocols.grpc.endpoint": forms.LISTEN_ALL,
    "distributor.receivers.otlp.protocols.http.endpoint": forms.LISTEN_ALL,
}


def distributed(stack: StackConfig) -> bool:
    return stack.tempo.topology == "distributed"


def query_service(stack: StackConfig) -> str:
    return "tempo-query-frontend" if distributed(stack) else "tempo"


def otlp_service(stack: StackConfig) -> str:
    return "tempo-distributor" if distributed(stack) else "tempo"


# Every gRPC client Tempo 2.10.8 has towards its own members (dskit grpcclient.Config), whether or not this
# topology uses it. A single process's querier dials its frontend at 127.0.0.1 (cmd/tempo/app/modules.go).
GRPC_CLIENTS = (
    "ingester_client.grpc_client_config",  # distributor and querier -> ingester
    "metrics_generator_client.grpc_client_config",  # distributor and querier -> metrics-generator
    "querier.frontend_worker.grpc_client_config",  # querier -> query-frontend
    "live_store_client.grpc_client_config",  # -> live-store (the newer architecture, not run here)
    "backend_scheduler_client.grpc_client_config",  # backend-worker -> backend-scheduler (idem)
)
# The OTLP receivers are the OpenTelemetry Collector's (configtls.ServerConfig, collector v1.56 in Tempo
# 2.10.8's vendor/): its min_version takes "1.2"/"1.3"; it re-reads cert_file/key_file every
# reload_interval (certReloader), so a renewed certificate is served within the hour.
OTLP_TLS = {"cert_file": CERT_FILE, "key_file": KEY_FILE, "min_version": "1.2", "reload_interval": "1h"}
# Remote write to Mimir: Prometheus' tls_config (prometheus/common config.TLSConfig: min_version TLS12|TLS13);
# the URL names Mimir's Service, which Mimir's certificate covers.
REMOTE_WRITE_TLS = {"ca_file": CA_FILE, "min_version": "TLS13", "insecure_skip_verify": False}


def tempo_config(stack: StackConfig) -> dict:
    tempo, namespace, region = stack.tempo, stack.namespace, stack.aws.region
    config = {
        "usage_report": {"reporting_enabled": False},
        "stream_over_http_enabled": True,
        "server": {"http_listen_port": HTTP.number, "grpc_listen_port": GRPC.number, "log_format": "json"},
        "distributor": {
            "ring": MEMBERLIST,
            "receivers": {"otlp": {"protocols": {
                "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC.number}", "tls": dict(OTLP_TLS)},
                "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP.number}", "tls": dict(OTLP_TLS)}}}},
        },
        "ingester": {"lifecycler": {"ring": {**MEMBERLIST, "replication_factor": tempo.replication_factor}}},
        "memberlist": {"join_members": join_members("tempo", namespace)},
        # Tempo takes Go durations (no 'd'): the configured retention in hours.
        "compactor": {"ring": MEMBERLIST,
                      "compaction": {"block_retention": f"{int(duration_seconds(tempo.retention) // 3600)}h"}},
        "metrics_generator": {
            "ring": MEMBERLIST,
            "registry": {"external_labels": {"source": "tempo", "cluster": stack.cluster_name}},
            "storage": {"path": "/var/tempo/generator/wal",
                        "remote_write": [{"url": mimir.push_url(stack), "send_exemplars": True,
                                          "tls_config": REMOTE_WRITE_TLS}]},
            "traces_storage": {"path": "/var/tempo/generator/traces"},
        },
        "overrides": {"defaults": {"metrics_generator": {"processors": ["service-graphs", "span-metrics"]}}},
        "storage": {"trace": {
            "backend": "s3",
            # Tempo's S3 client needs an endpoint: the regional AWS one, which IRSA credentials work with.
            "s3": {"bucket": tempo.bucket, "endpoint": f"s3.{region}.amazonaws.com", "region": region},
            "wal": {"path": "/var/tempo/wal"},
        }},
    }
    if distributed(stack):
        frontends = f"tempo-query-frontend-discovery.{namespace}.svc.cluster.local:{GRPC.number}"
        config["querier"] = {"frontend_worker": {"frontend_address": frontends}}
    return with_member_tls(config, "tempo", namespace, GRPC_CLIENTS)


def targets(ctx: Context) -> list[Target]:
    stack = ctx.config
    tempo, resources, scaling = stack.tempo, stack.tempo.resources, stack.autoscaling.tempo
    grafana = (ctx.pods_of("grafana"), (HTTP,))
    to_mimir = (ctx.pods_of(mimir.push_service(ctx.config)), (mimir.HTTP,))
    senders = tuple((peer, (OTLP_HTTP,)) for peer in ctx.trace_senders())
    if not distributed(stack):
        return [Target("all", resources.single, volume=True, extra_ports=(OTLP_GRPC, OTLP_HTTP),
                       clients=(grafana, *senders), calls=(to_mimir,))]
    return [
        Target("distributor", resources.distributor, replicas=scaling.min_replicas, autoscaled=True,
               extra_ports=(OTLP_GRPC, OTLP_HTTP), clients=senders),
        Target("querier", resources.querier, replicas=scaling.min_replicas, autoscaled=True),
        Target("query-frontend", resources.query_frontend, replicas=scaling.min_replicas, autoscaled=True,
               clients=(grafana,), discovery=True),
        Target("ingester", resources.ingester, replicas=tempo.ingester_replicas, volume=True, grace_seconds=GRACE_SECONDS),
        Target("metrics-generator", resources.metrics_generator, replicas=1, volume=True, calls=(to_mimir,),
               grace_seconds=GRACE_SECONDS),
        Target("compactor", resources.compactor, replicas=1),
    ]


class Tempo(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "tempo")
        tempo = ctx.config.tempo
        Backend(self, ctx, BackendSpec(
            name="tempo", component="traces", image=versions.TEMPO, http=HTTP, config=tempo_config(ctx.config),
            data_dir="/var/tempo", role_arn=tempo.role_arn, volume_size=tempo.volume_size, targets=targets(ctx)))
