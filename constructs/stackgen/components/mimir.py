"""Mimir: long-term metrics on S3 (classic architecture, no Kafka), 365 days of block retention.

clinic: one process. hospital/large: distributor, querier, query-frontend (stateless, autoscaled),
query-scheduler, and ingester, store-gateway, compactor as ring members with volumes. Prometheus and
Tempo's metrics-generator write to the distributor's /api/v1/push; Grafana reads the query-frontend.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from constructs import Construct
from stackgen import forms, versions
from stackgen.context import Context
from stackgen.lib.backend import (
    MEMBERLIST_FORMS,
    Backend,
    BackendSpec,
    Target,
    join_members,
    service_url,
    with_member_tls,
)
from stackgen.lib.workload import Port
from stackgen.settings import Bucket, Memory, Model, PositiveDuration, Resources, RingBackend, RoleArn, role, sized

if TYPE_CHECKING:  # the overlay's model imports every component's; this only annotates
    from stackgen.config import StackConfig


class MimirResources(Model):
    single: Resources = sized("200m", "512Mi", "1", "2Gi")
    distributor: Resources = sized("100m", "128Mi", "1", "512Mi")
    ingester: Resources = sized("150m", "512Mi", "1", "2Gi")
    querier: Resources = sized("100m", "256Mi", "1", "1Gi")
    query_frontend: Resources = sized("50m", "64Mi", "500m", "256Mi")
    query_scheduler: Resources = sized("25m", "64Mi", "250m", "128Mi")
    store_gateway: Resources = sized("50m", "128Mi", "500m", "1Gi")
    compactor: Resources = sized("50m", "128Mi", "1", "1Gi")


class MimirConfig(RingBackend):
    topology: Literal["monolithic", "distributed"] = "monolithic"
    retention: PositiveDuration = "365d"
    blocks_bucket: Bucket = "openemr-monitoring-mimir-blocks"
    ruler_bucket: Bucket = "openemr-monitoring-mimir-ruler"
    role_arn: RoleArn = role("mimir")
    ingester_replicas: int = Field(2, ge=1, le=20)
    store_gateway_replicas: int = Field(1, ge=1, le=20)
    volume_size: Memory = "20Gi"
    resources: MimirResources = MimirResources()

    SINGLE_PROCESS = "monolithic"

    def ring_members(self) -> list[tuple[str, str, int]]:
        single = self.topology == self.SINGLE_PROCESS
        return [("ingester", "ingester_replicas", 1 if single else self.ingester_replicas),
                ("store-gateway", "store_gateway_replicas", 1 if single else self.store_gateway_replicas)]


HTTP = Port("http", 8080)
PUSH_PATH = "/api/v1/push"
QUERY_PATH = "/prometheus"
MEMBERLIST = {"kvstore": {"store": "memberlist"}}
# ingester and store_gateway terminationGracePeriodSeconds in mimir-distributed's values.yaml (grafana/mimir,
# operations/helm/charts/mimir-distributed) and in its rendered test manifests.
GRACE_SECONDS = 240


def stay_in_ring(role: str) -> dict:
    """As mimir-distributed configures ingesters (and store-gateways, its changelog #4690): a member that
    restarts keeps its tokens (on its volume) and its place in the ring, so the ring does not move its series
    to the others and back; with replication factor 3 the other two copies take the writes meanwhile. One
    file per role: the monolithic process runs both on one volume."""
    return {"unregister_on_shutdown": False, "tokens_file_path": f"/data/tokens-{role}"}


# No frontend_worker or scheduler address: in ring discovery mode Mimir refuses to start with one.
ADDRESS_FORMS = {**MEMBERLIST_FORMS, "common.storage.s3.endpoint": forms.S3_ENDPOINT}


def distributed(stack: StackConfig) -> bool:
    return stack.mimir.topology == "distributed"


def push_service(stack: StackConfig) -> str:
    return "mimir-distributor" if distributed(stack) else "mimir"


def query_service(stack: StackConfig) -> str:
    return "mimir-query-frontend" if distributed(stack) else "mimir"


def push_url(stack: StackConfig) -> str:
    return service_url(push_service(stack), stack.namespace, HTTP, PUSH_PATH)


def query_url(stack: StackConfig) -> str:
    return service_url(query_service(stack), stack.namespace, HTTP, QUERY_PATH)


# Every gRPC client Mimir 2.17 has towards its own members (dskit grpcclient.Config), whether or not this
# topology uses it. `query_scheduler_grpc_client_config` (-querier.scheduler-client.*) exists since 2.15
# (its release notes list -querier.scheduler-client.grpc-compression).
GRPC_CLIENTS = (
    "ingester_client.grpc_client_config",  # distributor, querier and ruler -> ingester
    "querier.store_gateway_client",  # querier -> store-gateway
    "frontend.grpc_client_config",  # query-frontend -> query-scheduler
    "frontend_worker.grpc_client_config",  # querier -> query-frontend (results)
    "frontend_worker.query_scheduler_grpc_client_config",  # querier -> query-scheduler
    "query_scheduler.grpc_client_config",  # query-scheduler -> query-frontend
    "ruler.ruler_client",  # ruler -> ruler
    "ruler.query_frontend.grpc_client_config",  # ruler -> query-frontend (remote evaluation)
    "alertmanager.alertmanager_client",  # alertmanager -> alertmanager (Mimir's own, not run here)
)


def mimir_config(stack: StackConfig) -> dict:
    mimir, namespace, region = stack.mimir, stack.namespace, stack.aws.region
    config = {
        "multitenancy_enabled": False,
        "usage_stats": {"enabled": False},
        "server": {"http_listen_port": HTTP.number, "grpc_listen_port": 9095, "log_format": "json"},
        # Mimir's S3 client needs an endpoint: the regional AWS one, which IRSA credentials work with.
        "common": {"storage": {"backend": "s3", "s3": {"endpoint": f"s3.{region}.amazonaws.com", "region": region}}},
        "blocks_storage": {
            "s3": {"bucket_name": mimir.blocks_bucket},
            "tsdb": {"dir": "/data/tsdb"},
            "bucket_store": {"sync_dir": "/data/tsdb-sync"},
        },
        "ruler_storage": {"s3": {"bucket_name": mimir.ruler_bucket}},
        "memberlist": {"join_members": join_members("mimir", namespace)},
        "ingester": {"ring": {**MEMBERLIST, "replication_factor": mimir.replication_factor, **stay_in_ring("ingester")}},
        "store_gateway": {"sharding_ring": {**MEMBERLIST, "replication_factor": mimir.replication_factor,
                                            **stay_in_ring("store-gateway")}},
        "distributor": {"ring": MEMBERLIST},
        "compactor": {"data_dir": "/data/compactor", "sharding_ring": MEMBERLIST},
        "limits": {"compactor_blocks_retention_period": mimir.retention, "max_global_exemplars_per_user": 100000},
    }
    if distributed(stack):
        config["query_scheduler"] = {"service_discovery_mode": "ring", "ring": MEMBERLIST}
    return with_member_tls(config, "mimir", namespace, GRPC_CLIENTS)


def targets(ctx: Context) -> list[Target]:
    stack = ctx.config
    mimir, resources, scaling = stack.mimir, stack.mimir.resources, stack.autoscaling.mimir
    writers = ((ctx.pods_of("prometheus"), (HTTP,)), (ctx.pods_of("tempo-metrics-generator" if
               stack.tempo.topology == "distributed" else "tempo"), (HTTP,)))
    grafana = (ctx.pods_of("grafana"), (HTTP,))
    if not distributed(stack):
        return [Target("all", resources.single, volume=True, clients=(*writers, grafana))]
    return [
        Target("distributor", resources.distributor, replicas=scaling.min_replicas, autoscaled=True, clients=writers),
        Target("querier", resources.querier, replicas=scaling.min_replicas, autoscaled=True),
        Target("query-frontend", resources.query_frontend, replicas=scaling.min_replicas, autoscaled=True,
               clients=(grafana,)),
        # Two, as mimir-distributed's query_scheduler.replicas: queries have no single door either.
        Target("query-scheduler", resources.query_scheduler, replicas=2),
        Target("ingester", resources.ingester, replicas=mimir.ingester_replicas, volume=True, grace_seconds=GRACE_SECONDS),
        Target("store-gateway", resources.store_gateway, replicas=mimir.store_gateway_replicas, volume=True,
               grace_seconds=GRACE_SECONDS),
        Target("compactor", resources.compactor, replicas=1, volume=True),
    ]


class Mimir(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "mimir")
        mimir = ctx.config.mimir
        Backend(self, ctx, BackendSpec(
            name="mimir", component="metrics-store", image=versions.MIMIR, http=HTTP, config=mimir_config(ctx.config),
            data_dir="/data", role_arn=mimir.role_arn, volume_size=mimir.volume_size, targets=targets(ctx)))
