"""Elasticsearch on ECK: the clinical document's log store, as an alternative or an addition to Loki.

`logs.backend` chooses: `loki` (default), `elasticsearch` (Loki and its wiring are not rendered) or
`both`. The cluster is an `Elasticsearch` resource the ECK operator (eck_operator.py) turns into
StatefulSets: one nodeSet of `elasticsearch.nodes` nodes holding every role, spread over zones, on the
stack's encrypted gp3 StorageClass, heap at half the memory limit, TLS on its HTTP layer (ECK's
default; nothing here can turn it off) and the `elastic` password only in the Secret ECK generates.
Snapshots go to S3 through IRSA: repository-s3 reads the web-identity token only from
`$ES_PATH_CONF/repository-s3/aws-web-identity-token-file` (S3Service.CustomWebIdentityTokenCredentialsProvider),
so a projected token for STS is mounted exactly there. ILM, the index template, the snapshot
repository and its lifecycle policy are applied by the setup Job (elasticsearch_setup.py), because
ECK's StackConfigPolicy needs an Enterprise licence. Metrics come from the Elasticsearch exporter.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import cdk8s
import cdk8s_plus_37.k8s as k
from pydantic import Field, model_validator

from constructs import Construct
from stackgen import versions
from stackgen.lib.plain import custom_resource
from stackgen.budget import Budget
from stackgen.components import loki
from stackgen.components.elk import eck_model
from stackgen.context import Context
from stackgen.lib.meta import Identity
from stackgen.lib import tls
from stackgen.lib.monitors import Endpoint, ScrapeTls, service_monitor
from stackgen.lib.netpol import Peer, Policy, aws_endpoints, component_policy, external, rule
from stackgen.lib.workload import ContainerSpec, HttpProbe, PodSpec, Port, deployment, service, service_account
from stackgen.settings import Bucket, Memory, Model, Resources, RoleArn, memory_bytes, role, sized

if TYPE_CHECKING:
    from stackgen.config import StackConfig

Backend = Literal["loki", "elasticsearch", "both"]
NAME = "elasticsearch"
HTTPS = Port("https", eck_model.HTTP_PORT)
TRANSPORT = Port("transport", eck_model.TRANSPORT_PORT)
AWS_HTTPS = Port("aws-https", 443)
EXPORTER_HTTP = Port("http", 9114)
# The exporter labels cluster health with Elasticsearch's cluster name as `cluster`, the label Prometheus'
# external labels give the Kubernetes cluster: scraped as `es_cluster` instead (rules_elasticsearch.py).
CLUSTER_LABEL = "es_cluster"
CONFIG_DIR = "/usr/share/elasticsearch/config"  # ES_PATH_CONF in Elastic's image
TOKEN_DIR = f"{CONFIG_DIR}/repository-s3"
TOKEN_FILE = "aws-web-identity-token-file"
CA_DIR = "/etc/elasticsearch-ca"
# Written by the setup Job (the exporter's Elasticsearch user), read by the exporter.
EXPORTER_USER_SECRET = "elasticsearch-exporter-user"
DAYS = r"^[1-9][0-9]{0,3}d$"


class LogsConfig(Model):
    """Where logs go. `budget` replaces the overlay's `budget` while Elasticsearch runs (its nodes need
    room of their own); unset, `budget` applies and an overlay that does not fit is refused."""
    backend: Backend = "loki"
    budget: Budget | None = None


class ElasticsearchConfig(Model):
    nodes: int = Field(1, ge=1, le=9)
    # Copies of each primary shard; at most nodes - 1, or the cluster stays yellow.
    index_replicas: int = Field(0, ge=0, le=2)
    resources: Resources = sized("100m", "1Gi", "1", "1Gi")
    volume_size: Memory = "20Gi"
    # ILM deletes an index this long after its rollover (days, Elasticsearch's `d` unit).
    retention: str = Field("30d", pattern=DAYS)
    # Index rollover: a new backing index at least this often.
    rollover_age: str = Field("1d", pattern=DAYS)
    snapshot_bucket: Bucket = "openemr-monitoring-elasticsearch-snapshots"
    snapshot_role_arn: RoleArn = role("elasticsearch")
    # Quartz cron of Elasticsearch's SLM (seconds first), UTC.
    snapshot_schedule: str = Field("0 30 1 * * ?", pattern=r"^[0-9*?/,\- ]+[A-Z?*]?$")
    snapshot_retention: str = Field("30d", pattern=DAYS)
    exporter_resources: Resources = sized("10m", "32Mi", "100m", "64Mi")

    @model_validator(mode="after")
    def _replicas_fit(self) -> "ElasticsearchConfig":
        if self.index_replicas > self.nodes - 1:
            raise ValueError(f"index_replicas={self.index_replicas} must be <= nodes - 1 ({self.nodes - 1}): a "
                             "replica is never allocated on the node holding its primary (the cluster stays yellow)")
        if memory_bytes(self.resources.memory_request) != memory_bytes(self.resources.memory_limit):
            raise ValueError(f"resources.memory_request={self.resources.memory_request} must equal memory_limit "
                             f"({self.resources.memory_limit}): the heap is sized from the limit and must never "
                             "be reclaimed")
        if memory_bytes(self.resources.memory_limit) < 2 * 2**29:
            raise ValueError(f"resources.memory_limit={self.resources.memory_limit} must be at least 1Gi "
                             "(a 512m heap is Elasticsearch's smallest workable one)")
        return self


def enabled(stack: StackConfig) -> bool:
    return stack.logs.backend in ("elasticsearch", "both")


def loki_enabled(stack: StackConfig) -> bool:
    return stack.logs.backend in ("loki", "both")


def http_host(stack: StackConfig) -> str:
    return f"{eck_model.http_service(NAME)}.{stack.namespace}.svc.cluster.local"


def http_url(stack: StackConfig) -> str:
    return f"https://{http_host(stack)}:{HTTPS.number}"


def heap_megabytes(stack: StackConfig) -> int:
    """Half the container's memory, the rest for Lucene's page cache and off-heap buffers."""
    return memory_bytes(stack.elasticsearch.resources.memory_limit) // 2 // 2**20


def pods(ctx: Context) -> Peer:
    return ctx.pods_of(NAME)


def api_object(scope: Construct, api_version: str, kind: str, identity: Identity, spec: dict) -> cdk8s.ApiObject:
    return custom_resource(scope, kind, api_version, kind, {
        "name": identity.name, "namespace": identity.namespace, "labels": identity.labels}, spec)


def restricted_container(name: str, resources: Resources, env: list[dict] | None = None,
                         mounts: list[dict] | None = None) -> dict:
    """The container of an ECK podTemplate, held to the restricted profile like every stack pod."""
    container = {
        "name": name,
        "resources": {"requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
                      "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
    }
    if env:
        container["env"] = env
    if mounts:
        container["volumeMounts"] = mounts
    return container


def pod_security(uid: int) -> dict:
    # Elastic's images run as uid 1000 with group 0 owning their files.
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def spread(identity: Identity) -> list[dict]:
    return [{"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": identity.selector}}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")]


def cluster_spec(stack: StackConfig, identity: Identity) -> dict:
    es = stack.elasticsearch
    heap = heap_megabytes(stack)
    env = [{"name": "ES_JAVA_OPTS", "value": f"-Xms{heap}m -Xmx{heap}m"},
           {"name": "AWS_ROLE_ARN", "value": es.snapshot_role_arn},
           # repository-s3 only looks at the symlink-free path below; the variable must be set for it to look.
           {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": f"{TOKEN_DIR}/{TOKEN_FILE}"},
           {"name": "AWS_REGION", "value": stack.aws.region}]
    token = {"name": "aws-web-identity-token", "projected": {"sources": [{"serviceAccountToken": {
        "audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": TOKEN_FILE}}]}}
    return {
        "version": versions.ELASTICSEARCH.tag,
        "image": versions.ELASTICSEARCH.ref,
        "nodeSets": [{
            "name": "default",
            "count": es.nodes,
            # No mmap: the default store would need vm.max_map_count raised, i.e. a privileged init container.
            "config": {"node.store.allow_mmap": False},
            "podTemplate": {
                "metadata": {"labels": identity.labels},
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(1000),
                    "topologySpreadConstraints": spread(identity) if es.nodes > 1 else None,
                    **placement_spec(identity),
                    "containers": [restricted_container(eck_model.ES_CONTAINER, es.resources, env, [
                        {"name": token["name"], "mountPath": TOKEN_DIR, "readOnly": True}])],
                    "volumes": [token],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "elasticsearch-data"},  # the claim name ECK mounts as the data path
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": stack.storage.class_name,
                         "resources": {"requests": {"storage": es.volume_size}}}}],
        }],
    }


def _drop_none(value):
    if isinstance(value, dict):
        return {key: _drop_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_none(item) for item in value]
    return value


def es_clients(ctx: Context) -> list[Peer]:
    """Who calls Elasticsearch's HTTP API (9200)."""
    stack = ctx.config
    return [ctx.pods_of("eck-operator"), ctx.pods_of("fluent-bit"), ctx.pods_of("kibana"),
            ctx.pods_of("elasticsearch-exporter"), ctx.pods_of("elasticsearch-setup"), ctx.pods_of("grafana")] \
        if enabled(stack) else []


class Elasticsearch(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, NAME)
        stack = ctx.config
        if not enabled(stack):
            return
        identity = ctx.identity(NAME, "logs", versions.ELASTICSEARCH)
        # No IRSA annotation: the token above is projected by hand (the EKS webhook would add a second one
        # at a path repository-s3 never reads); the role's trust policy names this ServiceAccount.
        service_account(self, identity)
        api_object(self, eck_model.ES_API_VERSION, "Elasticsearch", identity, _drop_none(cluster_spec(stack, identity)))
        component_policy(self, identity, Policy(
            ingress=[rule(es_clients(ctx), [HTTPS]), rule([pods(ctx)], [TRANSPORT])],
            egress=[rule([pods(ctx)], [TRANSPORT]),
                    # S3 (repository-s3 addresses buckets by virtual-hosted name unless path_style_access)
                    # and STS for snapshots: the web-identity StsClient is built with no region, so the SDK v2
                    # takes AWS_REGION (set above) and its regional endpoint (repository-s3 S3Service.java,
                    # CustomWebIdentityTokenCredentialsProvider).
                    *external(stack.network.egress_mode, aws_endpoints(stack.aws.region, "s3", "sts"),
                              [AWS_HTTPS])]))
        Exporter(self, ctx)


class Exporter(Construct):
    """prometheus-community's exporter: cluster health, nodes, indices, snapshots, through the HTTPS API
    with a monitoring-only user the setup Job creates."""

    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "exporter")
        stack = ctx.config
        identity = ctx.identity("elasticsearch-exporter", "metrics", versions.ELASTICSEARCH_EXPORTER)

        def secret_env(name: str, key: str) -> k.EnvVar:
            return k.EnvVar(name=name, value_from=k.EnvVarSource(secret_key_ref=k.SecretKeySelector(
                name=EXPORTER_USER_SECRET, key=key)))
        # HTTPS through exporter-toolkit's --web.config.file (webflag.AddFlags in its main.go), which re-reads
        # a renewed certificate on each connection.
        certificate = tls.certificate(self, stack, identity, tls.service_names(identity.name, identity.namespace))
        web_config = tls.web_config_file(self, identity)
        container = ContainerSpec(
            name="exporter", image=versions.ELASTICSEARCH_EXPORTER.ref, resources=stack.elasticsearch.exporter_resources,
            ports=[EXPORTER_HTTP],
            args=[f"--es.uri={http_url(stack)}", "--es.all", f"--es.ca={CA_DIR}/ca.crt", "--collector.snapshots",
                  f"--web.listen-address=:{EXPORTER_HTTP.number}", f"--web.config.file={tls.WEB_CONFIG_FILE}"],
            env=[secret_env("ES_USERNAME", "username"), secret_env("ES_PASSWORD", "password")],
            mounts=[k.VolumeMount(name="ca", mount_path=CA_DIR, read_only=True), certificate.mount(), web_config.mount()],
            readiness=HttpProbe("/healthz", EXPORTER_HTTP.name, "HTTPS"),
            liveness=HttpProbe("/healthz", EXPORTER_HTTP.name, "HTTPS"))
        service_account(self, identity)
        deployment(self, PodSpec(identity, [container], uid=65534, secret_env=(
            "elasticsearch_exporter v1.9.0 reads credentials only from ES_USERNAME/ES_PASSWORD or the URI"), volumes=[k.Volume(
            name="ca", secret=k.SecretVolumeSource(secret_name=eck_model.ca_secret(NAME))), certificate.volume(),
            web_config.volume()]), replicas=1)
        service(self, identity, [EXPORTER_HTTP])
        service_monitor(self, identity, [Endpoint(EXPORTER_HTTP.name, rename_cluster_label_to=CLUSTER_LABEL, tls=ScrapeTls(
            certificate.secret, tls.server_name(identity.name, identity.namespace)))])
        ctx.scraped(identity, [EXPORTER_HTTP])
        component_policy(self, identity, Policy(
            ingress=[rule([ctx.pods_of("prometheus")], [EXPORTER_HTTP])],
            egress=[rule([pods(ctx)], [HTTPS])]))


# Grafana's side (grafana.py): the Elasticsearch datasource (uid `elasticsearch`) with a read-only user
# and the cluster's CA from the Secret the setup Job writes, and no Loki datasource where Loki is not
# rendered (Tempo's trace-to-logs links then open Elasticsearch).
GRAFANA_SECRET = "elasticsearch-grafana"
GRAFANA_DIR = "/etc/grafana/elasticsearch"


def _relinked(value, old: str, new: str):
    if isinstance(value, dict):
        return {key: (new if key == "datasourceUid" and item == old else _relinked(item, old, new))
                for key, item in value.items() if not (key == "lokiSearch" and item.get("datasourceUid") == old)}
    return value


def grafana_datasources(stack: StackConfig, sources: list[dict]) -> list[dict]:
    if not enabled(stack):
        return sources
    if not loki_enabled(stack):
        sources = [_relinked(s, "loki", "elasticsearch") for s in sources if s["uid"] != "loki"]
    return [*sources, {
        "name": "Elasticsearch", "uid": "elasticsearch", "type": "elasticsearch", "access": "proxy",
        "url": http_url(stack), "basicAuth": True, "basicAuthUser": "grafana",
        "jsonData": {"index": "kubernetes-logs*", "timeField": "@timestamp", "logMessageField": "log",
                     "logLevelField": "php_level", "tlsAuthWithCACert": True},
        # Grafana expands $__file{} in provisioning files: nothing secret is rendered here.
        "secureJsonData": {"basicAuthPassword": f"$__file{{{GRAFANA_DIR}/password}}",
                           "tlsCACert": f"$__file{{{GRAFANA_DIR}/ca.crt}}"},
        "editable": False}]


def grafana_volumes(stack: StackConfig) -> tuple[list[k.Volume], list[k.VolumeMount]]:
    if not enabled(stack):
        return [], []
    return ([k.Volume(name="elasticsearch", secret=k.SecretVolumeSource(secret_name=GRAFANA_SECRET))],
            [k.VolumeMount(name="elasticsearch", mount_path=GRAFANA_DIR, read_only=True)])


def grafana_egress(ctx: Context, rules: list) -> list:
    """Grafana's egress rules less Loki's where it is not rendered, plus Elasticsearch's HTTPS port."""
    stack = ctx.config
    if not enabled(stack):
        return rules
    if not loki_enabled(stack):
        rules = [r for r in rules if r.peers != (ctx.pods_of(loki.query_service(stack)),)]
    return [*rules, rule([pods(ctx)], [HTTPS])]


def placement_spec(identity: Identity) -> dict:
    """An ECK podTemplate's nodeSelector and tolerations: the stack's NodePool (lib/placement.py)."""
    placement = identity.placement
    return {"nodeSelector": placement.node_selector, "tolerations": [placement.toleration]} if placement else {}
