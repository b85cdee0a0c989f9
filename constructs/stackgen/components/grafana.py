"""Grafana with provisioned datasources and admin credentials read from an existing Secret.

With its embedded SQLite database on one ReadWriteOnce volume Grafana runs exactly one replica
(Recreate, so the volume is released before the new pod starts); the config refuses more. With an
external database (`grafana.database`) it keeps no local state and an HPA may scale it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import cdk8s_plus_37.k8s as k
import yaml
from pydantic import Field

from constructs import Construct
from stackgen import dashboards, forms, versions
from stackgen.components import grafana_sso, loki, mimir, tempo
from stackgen.components.elk import elasticsearch
from stackgen.context import Context
from stackgen.lib import tls
from stackgen.lib.backend import HTTPS, irsa
from stackgen.lib.monitors import Endpoint, ScrapeTls, service_monitor
from stackgen.lib.netpol import Policy, aws_endpoints, component_policy, external, rule
from stackgen.lib.scaling import ScaleTarget, replicas_and_scaling
from stackgen.lib.workload import (
    ContainerSpec,
    HttpProbe,
    PodSpec,
    Port,
    checksum,
    deployment,
    empty_dir,
    quantity,
    service,
    service_account,
)
from stackgen.settings import DnsLabel, Memory, Model, Resources, RoleArn, SecretKeyRef, role, sized

if TYPE_CHECKING:  # the overlay's model imports every component's; this only annotates
    from stackgen.config import StackConfig


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


class GrafanaConfig(Model):
    storage_size: Memory = "20Gi"
    # Grafana's own IRSA role: CloudWatch and X-Ray read access.
    role_arn: RoleArn = role("grafana")
    admin_secret: GrafanaAdminSecret = GrafanaAdminSecret()
    database: GrafanaDatabase | None = None
    # OIDC single sign-on (generic OAuth), see grafana_sso.py.
    sso: grafana_sso.GrafanaSso = grafana_sso.GrafanaSso()
    resources: Resources = sized("100m", "256Mi", "500m", "512Mi")


HTTP = Port("http", 3000)
ADDRESS_FORMS = {"datasources[].url": forms.HTTP_URL,
                 "datasources[].jsonData.derivedFields[].url": forms.GRAFANA_VALUE_LINK,
                 # dashboards: links between them, and from panels' series or table rows to another
                 "links[].url": forms.GRAFANA_DASHBOARD_LINK,
                 "panels[].fieldConfig.defaults.links[].url": forms.GRAFANA_DASHBOARD_LINK}
PROMETHEUS = Port("web", 9090)
ALERTMANAGER = Port("web", 9093)
ADMIN_DIR = "/etc/grafana/admin"
DASHBOARDS_DIR = "/etc/grafana/dashboards"
# Kubernetes refuses a ConfigMap whose data exceeds 1 MiB.
CONFIGMAP_LIMIT = 1024 * 1024
DB_PASSWORD_DIR = "/etc/grafana/database"
# Not the image's 472: any uid works, since everything Grafana writes is on its volumes (fsGroup-owned);
# a uid >= 10000 cannot collide with a host user.
GRAFANA_UID = 10472
XRAY_PLUGIN = versions.GRAFANA_XRAY_PLUGIN.repository
# The plugin installer (Grafana 12, pkg/plugins/repo): the versions and the archive from grafana.com
# (`<api>/plugins/<id>/versions/<v>/download`, with Go's default of following redirects), and the archive of
# a Grafana-built plugin from where grafana.com redirects it: Google Cloud Storage's `integration-artifacts`
# bucket (grafana/grafana-polystat-panel#151: "Get https://storage.googleapis.com/integration-artifacts/...").
PLUGIN_HOSTS = ["grafana.com", "storage.googleapis.com"]


def aws_hosts(region: str) -> list[str]:
    """What the CloudWatch and X-Ray datasources call (CloudWatch metrics and Logs, X-Ray, EC2 and the tagging
    API for dimension values) and STS for IRSA, each at the region's endpoint."""
    return aws_endpoints(region, "monitoring", "logs", "xray", "ec2", "tagging", "sts")
# [server] keys of Grafana 12 (conf/defaults.ini; pkg/setting/setting.go readServerSettings), as GF_ variables.
# TLS1.2, not TLS1.3: users reach Grafana through a proxy or load balancer the stack does not render.
# certs_watch_interval: Grafana re-reads cert_file and cert_key when their mtime changes (pkg/api/http_server.go
# WatchAndUpdateCerts, updateCerts), so a renewed certificate is served without a restart.
SERVER_TLS = {"GF_SERVER_PROTOCOL": "https", "GF_SERVER_CERT_FILE": tls.CERT_FILE,
              "GF_SERVER_CERT_KEY": tls.KEY_FILE, "GF_SERVER_MIN_TLS_VERSION": "TLS1.2",
              "GF_SERVER_CERTS_WATCH_INTERVAL": "1m"}
# Every datasource of the stack verifies the server's certificate (name: the URL's host) against the CA in
# Grafana's own certificate Secret. Provisioning expands $__file{} in values (pkg/services/provisioning/values
# interpolateValue -> setting.ExpandVar, the `file` expander of pkg/setting/expanders.go), so no PEM is rendered.
DATASOURCE_TLS = {"jsonData": {"tlsAuthWithCACert": True},
                  "secureJsonData": {"tlsCACert": f"$__file{{{tls.CA_FILE}}}"}}


def datasources(stack: StackConfig) -> dict:
    """Provisioned datasources with stable uids, correlated: logs -> traces (derived trace id), traces ->
    logs, metrics and service map, exemplars -> traces. `$$` is a literal `$` in provisioning files."""
    namespace, region = stack.namespace, stack.aws.region
    # Tempo's metrics-generator labels its exemplars `traceID` (metrics_generator_trace_id_label_name's
    # default); the destination's `name` is that label.
    exemplars = {"exemplarTraceIdDestinations": [{"name": "traceID", "datasourceUid": "tempo"}]}
    aws = {"authType": "default", "defaultRegion": region}
    return {"apiVersion": 1, "datasources": elasticsearch.grafana_datasources(stack, [*map(_verified, [
        {"name": "Prometheus", "uid": "prometheus", "type": "prometheus", "access": "proxy",
         "url": tls.https_url("prometheus", namespace, PROMETHEUS.number), "isDefault": True,
         "jsonData": {"httpMethod": "POST", **exemplars}, "editable": False},
        {"name": "Mimir", "uid": "mimir", "type": "prometheus", "access": "proxy",
         "url": mimir.query_url(stack),
         "jsonData": {"httpMethod": "POST", **exemplars}, "editable": False},
        {"name": "Loki", "uid": "loki", "type": "loki", "access": "proxy",
         "url": tls.https_url(loki.query_service(stack), namespace, loki.HTTP.number),
         "jsonData": {"derivedFields": [{"name": "TraceID", "datasourceUid": "tempo",
                                         "matcherRegex": "(?:trace_?id|traceID)[\"=:\\s]+(\\w+)",
                                         "url": "$${__value.raw}"}]},
         "editable": False},
        {"name": "Tempo", "uid": "tempo", "type": "tempo", "access": "proxy",
         "url": tls.https_url(tempo.query_service(stack), namespace, tempo.HTTP.number),
         "jsonData": {
             "tracesToLogsV2": {"datasourceUid": "loki", "filterByTraceID": True, "spanStartTimeShift": "-5m",
                                "spanEndTimeShift": "5m"},
             "tracesToMetrics": {
                 "datasourceUid": "mimir", "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m",
                 "tags": [{"key": "service.name", "value": "service"}],
                 "queries": [{"name": "Request rate", "query": "sum(rate(traces_spanmetrics_calls_total{$$__tags}[5m]))"}]},
             "serviceMap": {"datasourceUid": "mimir"},
             "nodeGraph": {"enabled": True},
             "lokiSearch": {"datasourceUid": "loki"}},
         "editable": False},
        {"name": "Alertmanager", "uid": "alertmanager", "type": "alertmanager", "access": "proxy",
         "url": tls.https_url("alertmanager", namespace, ALERTMANAGER.number),
         "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}, "editable": False}]),
        # Through Grafana's own IRSA role (the AWS SDK default chain picks up the web identity).
        {"name": "CloudWatch", "uid": "cloudwatch", "type": "cloudwatch", "jsonData": aws, "editable": False},
        {"name": "X-Ray", "uid": "x-ray", "type": XRAY_PLUGIN, "jsonData": aws, "editable": False},
    ])}


def _verified(source: dict) -> dict:
    return {**source, "jsonData": {**source["jsonData"], **DATASOURCE_TLS["jsonData"]},
            "secureJsonData": dict(DATASOURCE_TLS["secureJsonData"])}  # a copy: no YAML alias in the file


def dashboard_providers() -> dict:
    """One file provider: folders from the directory structure, no edits from the UI (git is the source)."""
    return {"apiVersion": 1, "providers": [{
        "name": "stackgen", "type": "file", "disableDeletion": True, "allowUiUpdates": False,
        "updateIntervalSeconds": 60,
        "options": {"path": DASHBOARDS_DIR, "foldersFromFilesStructure": True}}]}


def dashboard_config_map_name(uid: str) -> str:
    return dashboards.CONFIG_MAP_PREFIX + uid


def _dashboards(scope: Construct, identity, stack: StackConfig) -> tuple[k.Volume, str]:
    """One ConfigMap per dashboard, projected into one directory tree: <folder>/<uid>.json."""
    files = dashboards.render(stack, {source["uid"] for source in datasources(stack)["datasources"]})
    sources = []
    for file in files:
        name = dashboard_config_map_name(file.uid)
        if len(file.text.encode()) > CONFIGMAP_LIMIT:
            raise ValueError(f"dashboard {file.uid}: {len(file.text.encode())} bytes, over the ConfigMap limit")
        k.KubeConfigMap(scope, name, metadata=identity.meta(name), data={f"{file.uid}.json": file.text})
        sources.append(k.VolumeProjection(config_map=k.ConfigMapProjection(
            name=name, items=[k.KeyToPath(key=f"{file.uid}.json", path=file.path)])))
    volume = k.Volume(name="dashboards", projected=k.ProjectedVolumeSource(sources=sources))
    return volume, checksum("".join(file.path + file.text for file in files))


def _env(values: dict[str, str]) -> list[k.EnvVar]:
    return [k.EnvVar(name=name, value=value) for name, value in values.items()]


class Grafana(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "grafana")
        config, stack = ctx.config.grafana, ctx.config
        identity = ctx.identity("grafana", "grafana", versions.GRAFANA)
        provisioning = yaml.safe_dump(datasources(stack), sort_keys=True)
        k.KubeConfigMap(self, "datasources", metadata=identity.meta("grafana-datasources"),
                        data={"datasources.yaml": provisioning})
        providers = yaml.safe_dump(dashboard_providers(), sort_keys=True)
        k.KubeConfigMap(self, "providers", metadata=identity.meta("grafana-provisioning-dashboards"),
                        data={"providers.yaml": providers})
        dashboards_volume, dashboards_checksum = _dashboards(self, identity, stack)
        admin = config.admin_secret
        env = {
            "GF_SECURITY_ADMIN_USER__FILE": f"{ADMIN_DIR}/{admin.user_key}",
            "GF_SECURITY_ADMIN_PASSWORD__FILE": f"{ADMIN_DIR}/{admin.password_key}",
            "GF_SECURITY_DISABLE_GRAVATAR": "true",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_NEWS_NEWS_FEED_ENABLED": "false",
            "GF_LOG_MODE": "console",
            "GF_PATHS_DATA": "/var/lib/grafana",
            # X-Ray is a plugin: installed at start from grafana.com (egress 443).
            "GF_PLUGINS_PREINSTALL": f"{XRAY_PLUGIN}@{versions.GRAFANA_XRAY_PLUGIN.tag}",
            **SERVER_TLS,
        }
        certificate = tls.certificate(self, stack, identity, tls.service_names(identity.name, stack.namespace))
        volumes = [
            k.Volume(name="admin", secret=k.SecretVolumeSource(secret_name=admin.name)),
            k.Volume(name="datasources", config_map=k.ConfigMapVolumeSource(name="grafana-datasources")),
            k.Volume(name="providers", config_map=k.ConfigMapVolumeSource(name="grafana-provisioning-dashboards")),
            dashboards_volume,
            empty_dir("tmp"),
            certificate.volume(),
        ]
        mounts = [
            k.VolumeMount(name="admin", mount_path=ADMIN_DIR, read_only=True),
            k.VolumeMount(name="datasources", mount_path="/etc/grafana/provisioning/datasources", read_only=True),
            k.VolumeMount(name="providers", mount_path="/etc/grafana/provisioning/dashboards", read_only=True),
            k.VolumeMount(name="dashboards", mount_path=DASHBOARDS_DIR, read_only=True),
            k.VolumeMount(name="tmp", mount_path="/tmp"),
            k.VolumeMount(name="data", mount_path="/var/lib/grafana"),
            certificate.mount(),
        ]
        egress = [
            rule([ctx.pods_of("prometheus")], [PROMETHEUS]),
            rule([ctx.pods_of("alertmanager")], [ALERTMANAGER]),
            rule([ctx.pods_of(loki.query_service(stack))], [loki.HTTP]),
            rule([ctx.pods_of(tempo.query_service(stack))], [tempo.HTTP]),
            rule([ctx.pods_of(mimir.query_service(stack))], [mimir.HTTP]),
            *external(stack.network.egress_mode, [*aws_hosts(stack.aws.region), *PLUGIN_HOSTS], [HTTPS]),
        ]
        sso = grafana_sso.wiring(config.sso, stack.alerting.grafana_url)
        env.update(sso.env)
        volumes += sso.volumes
        mounts += sso.mounts
        for port, hosts in sso.egress.items():
            egress += external(stack.network.egress_mode, hosts, [port])
        es_volumes, es_mounts = elasticsearch.grafana_volumes(stack)
        volumes, mounts, egress = volumes + es_volumes, mounts + es_mounts, elasticsearch.grafana_egress(ctx, egress)
        database = config.database
        if database:
            port = database.host.partition(":")[2]
            env.update({
                "GF_DATABASE_TYPE": database.type, "GF_DATABASE_HOST": database.host,
                "GF_DATABASE_NAME": database.name, "GF_DATABASE_USER": database.user,
                "GF_DATABASE_PASSWORD__FILE": f"{DB_PASSWORD_DIR}/{database.password_secret.key}",
                "GF_DATABASE_SSL_MODE": database.ssl_mode,
            })
            volumes += [empty_dir("data", "1Gi"), k.Volume(name="database", secret=k.SecretVolumeSource(
                secret_name=database.password_secret.name))]
            mounts.append(k.VolumeMount(name="database", mount_path=DB_PASSWORD_DIR, read_only=True))
            egress += external(stack.network.egress_mode, [database.host.partition(":")[0]],
                               [Port("database", int(port or 5432))])
        else:
            k.KubePersistentVolumeClaim(self, "pvc", metadata=identity.meta(), spec=k.PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"], storage_class_name=stack.storage.class_name,
                resources=k.VolumeResourceRequirements(requests={"storage": quantity(config.storage_size)})))
            volumes.append(k.Volume(name="data", persistent_volume_claim=k.PersistentVolumeClaimVolumeSource(
                claim_name=identity.name)))
        health = HttpProbe("/api/health", HTTP.name, scheme="HTTPS")
        container = ContainerSpec(
            name="grafana", image=versions.GRAFANA.ref, resources=config.resources, ports=[HTTP],
            env=_env(env), mounts=mounts, readiness=health, liveness=health)
        replicas = replicas_and_scaling(
            self, identity, ScaleTarget("apps/v1", "Deployment", identity.name), "grafana",
            stack.autoscaling, identity.selector)
        pod = PodSpec(
            identity, [container], uid=GRAFANA_UID, fs_group=GRAFANA_UID, volumes=volumes,
            may_scale_out=replicas != 1,
            # Roll the pods when the provisioned datasources or dashboards change.
            annotations={"checksum/datasources": checksum(provisioning),
                         "checksum/dashboards": checksum(providers + dashboards_checksum)})
        service_account(self, identity, annotations=irsa(config.role_arn))
        deployment(self, pod, replicas=replicas, recreate=database is None)
        service(self, identity, [HTTP])
        service_monitor(self, identity, [Endpoint(HTTP.name, tls=ScrapeTls(
            certificate.secret, f"{identity.name}.{stack.namespace}.svc"))])
        ctx.scraped(identity, [HTTP])
        component_policy(self, identity, Policy(
            ingress=[rule([ctx.pods_of("prometheus")], [HTTP])],
            egress=egress))
