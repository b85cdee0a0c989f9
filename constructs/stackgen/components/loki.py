"""Loki: logs on S3, retention enforced by the compactor.

clinic: one process (`-target=all`). hospital/large: simple scalable (read / write / backend): the read
path is stateless and autoscaled; write (ingesters, WAL) and backend (compactor, index gateway,
query scheduler, ruler) are ring members with volumes, scaled by configuration.
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
    member_client_tls,
    service_url,
    with_member_tls,
)
from stackgen.lib.workload import Port
from stackgen.settings import Bucket, Memory, Model, PositiveDuration, Resources, RingBackend, RoleArn, role, sized

if TYPE_CHECKING:  # the overlay's model imports every component's; this only annotates
    from stackgen.config import StackConfig


class LokiResources(Model):
    single: Resources = sized("100m", "256Mi", "1", "1Gi")
    read: Resources = sized("50m", "128Mi", "1", "512Mi")
    write: Resources = sized("100m", "256Mi", "1", "1Gi")
    backend: Resources = sized("50m", "128Mi", "500m", "512Mi")


class LokiConfig(RingBackend):
    topology: Literal["single-binary", "simple-scalable"] = "single-binary"
    retention: PositiveDuration = "720h"
    bucket: Bucket = "openemr-monitoring-loki"
    role_arn: RoleArn = role("loki")
    write_replicas: int = Field(2, ge=1, le=20)
    backend_replicas: int = Field(2, ge=1, le=20)
    volume_size: Memory = "10Gi"
    resources: LokiResources = LokiResources()

    SINGLE_PROCESS = "single-binary"

    def ring_members(self) -> list[tuple[str, str, int]]:
        # The backend's rings (query schedulers, compactor) need it too: the common factor is also the
        # index-gateway ring's (Loki's applyCommonReplicationFactor), should index_gateway.mode become `ring`.
        single = self.topology == self.SINGLE_PROCESS
        return [("ingesting", "write_replicas", 1 if single else self.write_replicas),
                ("backend", "backend_replicas", 1 if single else self.backend_replicas)]


HTTP = Port("http", 3100)


def scalable(stack: StackConfig) -> bool:
    return stack.loki.topology == "simple-scalable"


def query_service(stack: StackConfig) -> str:
    return "loki-read" if scalable(stack) else "loki"


def push_service(stack: StackConfig) -> str:
    return "loki-write" if scalable(stack) else "loki"


PUSH_PATH = "/loki/api/v1/push"
# write.terminationGracePeriodSeconds and backend.terminationGracePeriodSeconds of Loki's chart 18.11.0
# (grafana-community/helm-charts, appVersion 3.7.6): time to flush and leave the ring.
GRACE_SECONDS = 300
# No scheduler or frontend address: with neither set, Loki discovers query schedulers through their
# ring (and setting one would turn that off). The read path builds its index from S3 itself.
ADDRESS_FORMS = {**MEMBERLIST_FORMS, "common.compactor_address": forms.HTTP_BASE_URL}


# Every client Loki 3.7.6 has towards its own members (dskit grpcclient.Config: `tls_enabled` + the inline
# crypto/tls ClientConfig), whether or not this topology uses it, so that none falls back to plain text.
# The querier's worker takes `query_frontend_grpc_client` and `query_scheduler_grpc_client`, never the old
# `grpc_client_config` beside them (Loki refuses both at once: pkg/loki/config_wrapper.go,
# applyCommonQuerierWorkerGRPCConfig).
GRPC_CLIENTS = (
    "ingester_client.grpc_client_config",  # distributor and querier -> ingester
    "frontend.grpc_client_config",  # query-frontend -> query-scheduler
    "frontend_worker.query_frontend_grpc_client",  # querier -> query-frontend
    "frontend_worker.query_scheduler_grpc_client",  # querier -> query-scheduler
    "query_scheduler.grpc_client_config",  # query-scheduler -> query-frontend
    "storage_config.tsdb_shipper.index_gateway_client.grpc_client_config",  # querier -> index gateway
    "storage_config.boltdb_shipper.index_gateway_client.grpc_client_config",  # idem, older index stores
    "compactor_grpc_client",  # -> compactor, when addressed over gRPC
    "ruler.ruler_client",  # ruler -> ruler (sharded rule listing)
    "ruler.evaluation.query_frontend",  # ruler -> query-frontend (remote evaluation)
    "pattern_ingester.client_config.grpc_client_config",  # -> pattern ingester
    "bloom_gateway.client.grpc_client_config",  # -> bloom gateway
    "bloom_build.builder.grpc_config",  # bloom builder -> planner
    "ingest_limits_frontend.client_config.grpc_client_config",  # -> ingest limits
    "ingest_limits_frontend_client.grpc_client_config",  # -> ingest limits frontend
)


def loki_config(stack: StackConfig) -> dict:
    loki, namespace = stack.loki, stack.namespace
    compactor = "loki-backend" if scalable(stack) else "loki"
    config = {
        "auth_enabled": False,
        "analytics": {"reporting_enabled": False},
        "server": {"http_listen_port": HTTP.number, "grpc_listen_port": 9095, "log_format": "json"},
        "common": {
            "path_prefix": "/var/loki",
            "replication_factor": loki.replication_factor,
            "ring": {"kvstore": {"store": "memberlist"}},
            # No endpoint: the AWS SDK resolves the regional endpoint and the IRSA web identity.
            "storage": {"s3": {"bucketnames": loki.bucket, "region": stack.aws.region}},
            "compactor_address": service_url(compactor, namespace, HTTP),
        },
        "memberlist": {"join_members": join_members("loki", namespace)},
        "schema_config": {"configs": [{
            "from": "2024-01-01", "store": "tsdb", "object_store": "s3", "schema": "v13",
            "index": {"prefix": "index_", "period": "24h"}}]},
        "compactor": {
            "working_directory": "/var/loki/compactor",
            # Retention is only enforced when the compactor applies it and knows where deletes go.
            "retention_enabled": True,
            "delete_request_store": "s3",
        },
        "limits_config": {"retention_period": loki.retention},
        # As Loki's chart (18.x, Loki 3.7.6) sets by default: an ingester that stops writes its chunks to S3
        # rather than leaving them to a WAL replay, so a member that does not come back loses nothing.
        "ingester": {"wal": {"flush_on_shutdown": True}},
    }
    if scalable(stack):
        config["query_scheduler"] = {"use_scheduler_ring": True}
    # Deletes go to the compactor's HTTP API (compactor_address): Loki's compactor HTTP client takes the
    # same dskit TLS keys (pkg/compactor/client/http.go: tls_enabled + crypto/tls ClientConfig).
    config["compactor_client"] = member_client_tls("loki", namespace)
    return with_member_tls(config, "loki", namespace, GRPC_CLIENTS)


def targets(ctx: Context) -> list[Target]:
    stack = ctx.config
    resources = stack.loki.resources
    grafana = (ctx.pods_of("grafana"), (HTTP,))
    shippers = tuple((peer, (HTTP,)) for peer in ctx.log_shippers())
    if not scalable(stack):
        return [Target("all", resources.single, volume=True, clients=(grafana, *shippers))]
    return [
        Target("read", resources.read, replicas=stack.autoscaling.loki.min_replicas, autoscaled=True, clients=(grafana,)),
        Target("write", resources.write, replicas=stack.loki.write_replicas, volume=True, clients=shippers,
               grace_seconds=GRACE_SECONDS),
        Target("backend", resources.backend, replicas=stack.loki.backend_replicas, volume=True,
               grace_seconds=GRACE_SECONDS),
    ]


class Loki(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "loki")
        loki = ctx.config.loki
        Backend(self, ctx, BackendSpec(
            name="loki", component="logs", image=versions.LOKI, http=HTTP, config=loki_config(ctx.config),
            data_dir="/var/loki", role_arn=loki.role_arn, volume_size=loki.volume_size, targets=targets(ctx)))
