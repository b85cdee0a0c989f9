"""Grafana with provisioned datasources and admin credentials read from an existing Secret.

With its embedded SQLite database on one ReadWriteOnce volume Grafana runs exactly one replica
(Recreate, so the volume is released before the new pod starts); the config refuses more. With an
external database (`grafana.database`) it keeps no local state and an HPA may scale it.
"""
from __future__ import annotations

import hashlib

import cdk8s_plus_37.k8s as k
import yaml
from constructs import Construct

from stackgen import versions
from stackgen.context import Context
from stackgen.lib.monitors import Endpoint, service_monitor
from stackgen.lib.netpol import Policy, cidrs, component_policy, rule
from stackgen.lib.scaling import ScaleTarget, replicas_and_scaling
from stackgen.lib.workload import (ContainerSpec, HttpProbe, PodSpec, Port, deployment, empty_dir,
                                   service, service_account)

HTTP = Port("http", 3000)
PROMETHEUS = Port("web", 9090)
ALERTMANAGER = Port("web", 9093)
ADMIN_DIR = "/etc/grafana/admin"
DB_PASSWORD_DIR = "/etc/grafana/database"
GRAFANA_UID = 472


def datasources(namespace: str) -> dict:
    """Provisioned datasources with stable uids, so dashboards and links can refer to them."""
    return {"apiVersion": 1, "datasources": [
        {"name": "Prometheus", "uid": "prometheus", "type": "prometheus", "access": "proxy",
         "url": f"http://prometheus.{namespace}.svc:{PROMETHEUS.number}", "isDefault": True,
         "jsonData": {"httpMethod": "POST"}, "editable": False},
        {"name": "Alertmanager", "uid": "alertmanager", "type": "alertmanager", "access": "proxy",
         "url": f"http://alertmanager.{namespace}.svc:{ALERTMANAGER.number}",
         "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}, "editable": False},
    ]}


def _env(values: dict[str, str]) -> list[k.EnvVar]:
    return [k.EnvVar(name=name, value=value) for name, value in values.items()]


class Grafana(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "grafana")
        config, stack = ctx.config.grafana, ctx.config
        identity = ctx.identity("grafana", "grafana", versions.GRAFANA)
        provisioning = yaml.safe_dump(datasources(ctx.namespace), sort_keys=True)
        k.KubeConfigMap(self, "datasources", metadata=identity.meta("grafana-datasources"),
                        data={"datasources.yaml": provisioning})
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
        }
        volumes = [
            k.Volume(name="admin", secret=k.SecretVolumeSource(secret_name=admin.name)),
            k.Volume(name="datasources", config_map=k.ConfigMapVolumeSource(name="grafana-datasources")),
            empty_dir("tmp"),
        ]
        mounts = [
            k.VolumeMount(name="admin", mount_path=ADMIN_DIR, read_only=True),
            k.VolumeMount(name="datasources", mount_path="/etc/grafana/provisioning/datasources", read_only=True),
            k.VolumeMount(name="tmp", mount_path="/tmp"),
            k.VolumeMount(name="data", mount_path="/var/lib/grafana"),
        ]
        egress = [rule([ctx.pods_of("prometheus")], [PROMETHEUS]), rule([ctx.pods_of("alertmanager")], [ALERTMANAGER])]
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
            egress.append(rule(cidrs(["0.0.0.0/0"]), [Port("database", int(port or 5432))]))
        else:
            k.KubePersistentVolumeClaim(self, "pvc", metadata=identity.meta(), spec=k.PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"], storage_class_name=stack.storage.class_name,
                resources=k.VolumeResourceRequirements(requests={"storage": k.Quantity.from_string(config.storage_size)})))
            volumes.append(k.Volume(name="data", persistent_volume_claim=k.PersistentVolumeClaimVolumeSource(
                claim_name=identity.name)))
        container = ContainerSpec(
            name="grafana", image=versions.GRAFANA.ref, resources=config.resources, ports=[HTTP],
            env=_env(env), mounts=mounts,
            readiness=HttpProbe("/api/health", HTTP.name), liveness=HttpProbe("/api/health", HTTP.name))
        replicas = replicas_and_scaling(
            self, identity, ScaleTarget("apps/v1", "Deployment", identity.name), "grafana",
            stack.autoscaling, identity.selector)
        pod = PodSpec(
            identity, [container], uid=GRAFANA_UID, fs_group=GRAFANA_UID, volumes=volumes,
            may_scale_out=replicas != 1,
            # Roll the pods when the provisioned datasources change.
            annotations={"checksum/datasources": hashlib.sha256(provisioning.encode()).hexdigest()})
        service_account(self, identity)
        deployment(self, pod, replicas=replicas, recreate=database is None)
        service(self, identity, [HTTP])
        service_monitor(self, identity, [Endpoint(HTTP.name)])
        ctx.scraped(identity, [HTTP])
        component_policy(self, identity, Policy(
            ingress=[rule([ctx.pods_of("prometheus")], [HTTP])],
            egress=egress))
