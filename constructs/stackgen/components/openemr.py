"""The OpenEMR side: what goes into the application's namespace, for its traffic to the stack.

OpenEMR needs no change to be observed: OTeBPF reads its requests with eBPF and the Fluent Bit
DaemonSet reads its container logs from the node. Two things are optional:

- Sidecar mode (`fluent_bit.sidecar.enabled`): Apache's access and error logs and PHP's error log as
  files, shipped by a Fluent Bit container in the OpenEMR pod. Rendered as a kustomize Component
  (`dist/<overlay>/openemr-sidecar/`) that the OpenEMR kustomization includes. The shared volume is
  mounted exactly where the app writes: Apache's log directory (APACHE_LOG_DIR, through rotatelogs), and
  PHP-FPM's `error_log` is pointed into it by an extra ini directory (PHP_INI_SCAN_DIR with a leading
  ':' keeps the image's own ini directory).
- An egress NetworkPolicy for the sidecar's push to Loki, for app namespaces that deny egress by default.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import cdk8s
import cdk8s_plus_37.k8s as k
import yaml
from pydantic import Field

from constructs import Construct
from stackgen import versions
from stackgen.components import loki
from stackgen.components.elk import es_shipping
from stackgen.components.elk.elasticsearch import loki_enabled
from stackgen.components.cluster import dns_rule
from stackgen.components.fluent_bit import (
    APACHE_ERROR_START,
    COMMAND,
    CONFIG_DIR,
    CONFIG_FILE,
    HTTP,
    PHP_ERROR_START,
    config_text,
    loki_output,
    multiline_parser,
    service_section,
    tail_input,
)
from stackgen.context import Context
from stackgen.lib import tls
from stackgen.lib.meta import Identity
from stackgen.lib.netpol import Policy, component_policy, rule
from stackgen.lib.workload import ContainerSpec, HttpProbe, Port, checksum, empty_dir
from stackgen.settings import DnsLabel, LabelValue, Model

if TYPE_CHECKING:  # the overlay's model imports every component's; this only annotates
    from stackgen.config import StackConfig


class OpenEmrConfig(Model):
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
    # The Aurora DB cluster's identifier: the database dashboard then shows its CloudWatch metrics.
    database_cluster_id: str | None = Field(None, pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$")


SIDECAR_DIR = "openemr-sidecar"
LOG_FILES = ("access.log", "error.log", "php_errors.log")
PHP_INI_DIR = "/etc/openemr-observability/php"
PHP_INI_FILE = "zz-openemr-observability.ini"
BUFFER_DIR = "/fluent-bit/buffer"
SIDECAR_HTTP = Port("fb-http", HTTP.number)  # named apart from any port of the OpenEMR container
SIDECAR_UID = 65534
SIDECAR_BUFFER = "512M"
LOGS_VOLUME, CONFIG_VOLUME, BUFFER_VOLUME, PHP_VOLUME, TLS_VOLUME = (
    "openemr-logs", "fluent-bit-sidecar-config", "fluent-bit-buffer", "openemr-php-logging", "fluent-bit-tls")


# One tail input per file: a tail input applies one multiline parser to every file of its path.
SIDECAR_MULTILINE = {"error.log": multiline_parser("apache_error", APACHE_ERROR_START),
                     "php_errors.log": multiline_parser("php_error", PHP_ERROR_START)}


def sidecar_config(stack: StackConfig) -> dict:
    log_dir, app = stack.openemr.log_dir, stack.openemr
    labels = {"job": "openemr-files", "cluster": stack.cluster_name, "namespace": stack.app_namespace,
              "pod": "${POD_NAME}", "container": app.container, "app": app.pod_labels.get("app", app.deployment)}
    inputs = []
    for name in LOG_FILES:
        stem = name.removesuffix(".log")
        # Each input its own offsets database: db.locking gives an input exclusive access to its file.
        source = {**tail_input(f"openemr.{stem}", f"{log_dir}/{name}", f"{BUFFER_DIR}/tail-{stem}.db"),
                  "path_key": "log_file"}
        if name in SIDECAR_MULTILINE:
            source["multiline.parser"] = SIDECAR_MULTILINE[name]["name"]
        inputs.append(source)
    output = {**loki_output(stack, "openemr.*", labels, label_keys="$log_file"),
              "storage.total_limit_size": SIDECAR_BUFFER}
    # logs.backend: Loki's push, and/or a forward to the node agents that ship to Elasticsearch (es_shipping).
    outputs = [*([output] if loki_enabled(stack) else []), *es_shipping.sidecar_outputs(stack, SIDECAR_BUFFER)]
    filters = es_shipping.sidecar_filters(stack)
    return {"service": service_section(f"{BUFFER_DIR}/chunks"), "multiline_parsers": list(SIDECAR_MULTILINE.values()),
            "pipeline": {"inputs": inputs, **({"filters": filters} if filters else {}), "outputs": outputs}}


def php_ini(stack: StackConfig) -> str:
    return f"log_errors = On\nerror_log = {stack.openemr.log_dir}/php_errors.log\n"


def _app_identity(ctx: Context, name: str) -> Identity:
    return dataclasses.replace(ctx.identity(name, "log-shipper", versions.FLUENT_BIT), namespace=ctx.config.app_namespace,
                               placement=None)


class OpenEmrSide(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "openemr")
        stack = ctx.config
        if stack.fluent_bit.sidecar.enabled:
            ctx.extra_files[SIDECAR_DIR] = sidecar_component(ctx)


def egress_policy(chart: cdk8s.Chart, ctx: Context) -> None:
    """OpenEMR's egress to Loki's push port (and DNS). It lives in the app's namespace, so it goes with
    the app (in the Component), never in the monitoring overlay: that must apply before OpenEMR exists."""
    stack = ctx.config
    component_policy(chart, _app_identity(ctx, "openemr-to-monitoring"), Policy(egress=[
        dns_rule(stack.network),
        *([rule([ctx.pods_of(loki.push_service(stack))], [loki.HTTP])] if loki_enabled(stack) else []),
        *es_shipping.sidecar_egress(ctx)]), pod_selector=stack.openemr.pod_labels,
        policy_types=("Egress",))


def sidecar_component(ctx: Context) -> dict[str, list[dict]]:
    """The kustomize Component: a ConfigMap and a strategic-merge patch of the OpenEMR Deployment."""
    stack, identity = ctx.config, _app_identity(ctx, "openemr-fluent-bit")
    fluent_bit, ini = config_text(sidecar_config(stack)), php_ini(stack)
    chart = cdk8s.Chart(cdk8s.App(), "sidecar", disable_resource_name_hashes=True)
    k.KubeConfigMap(chart, "config", metadata=identity.meta(), data={CONFIG_FILE: fluent_bit, PHP_INI_FILE: ini})
    # The sidecar's own certificate in the app namespace, for the ca.crt it verifies Loki (or the node agents'
    # forward listener) with; the stack's issuer is a ClusterIssuer, so it signs here too.
    certificate = tls.certificate(chart, stack, identity, tls.client_names(identity))
    container = ContainerSpec(
        name="fluent-bit", image=versions.FLUENT_BIT.ref, resources=stack.fluent_bit.sidecar.resources,
        ports=[SIDECAR_HTTP], command=COMMAND, uid=SIDECAR_UID,
        env=[k.EnvVar(name="POD_NAME", value_from=k.EnvVarSource(field_ref=k.ObjectFieldSelector(
            field_path="metadata.name")))],
        mounts=[k.VolumeMount(name=CONFIG_VOLUME, mount_path=CONFIG_DIR, read_only=True),
                k.VolumeMount(name=LOGS_VOLUME, mount_path=stack.openemr.log_dir, read_only=True),
                k.VolumeMount(name=BUFFER_VOLUME, mount_path=BUFFER_DIR),
                # named apart from any volume of OpenEMR's own (a patch merges volumes by name)
                k.VolumeMount(name=TLS_VOLUME, mount_path=tls.MOUNT_PATH, read_only=True)],
        readiness=HttpProbe("/api/v1/health", SIDECAR_HTTP.name), liveness=HttpProbe("/", SIDECAR_HTTP.name))
    app_container = k.Container(
        name=stack.openemr.container,
        env=[k.EnvVar(name="PHP_INI_SCAN_DIR", value=f":{PHP_INI_DIR}")],
        volume_mounts=[k.VolumeMount(name=LOGS_VOLUME, mount_path=stack.openemr.log_dir),
                       k.VolumeMount(name=PHP_VOLUME, mount_path=PHP_INI_DIR, read_only=True)])
    config_map = k.ConfigMapVolumeSource(name=identity.name)
    k.KubeDeployment(chart, "patch", metadata=k.ObjectMeta(name=stack.openemr.deployment), spec=k.DeploymentSpec(
        selector=k.LabelSelector(match_labels=dict(stack.openemr.pod_labels)),
        template=k.PodTemplateSpec(
            metadata=k.ObjectMeta(annotations={"checksum/fluent-bit-sidecar": checksum(fluent_bit + ini)}),
            spec=k.PodSpec(containers=[app_container, container.render()], volumes=[
                empty_dir(LOGS_VOLUME, "1Gi"), empty_dir(BUFFER_VOLUME, "1Gi"),
                k.Volume(name=CONFIG_VOLUME, config_map=config_map),
                k.Volume(name=TLS_VOLUME, secret=k.SecretVolumeSource(secret_name=certificate.secret)),
                k.Volume(name=PHP_VOLUME, config_map=k.ConfigMapVolumeSource(
                    name=identity.name, items=[k.KeyToPath(key=PHP_INI_FILE, path=PHP_INI_FILE)]))]))))
    if stack.openemr.egress_policy:
        egress_policy(chart, ctx)
    objects = chart.to_json()
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    resources = [o for o in objects if o["kind"] in ("ConfigMap", "Certificate")]
    policy = [o for o in objects if o["kind"] == "NetworkPolicy"]
    # A strategic-merge patch names only what it adds: the selector and everything else stay OpenEMR's.
    del deployment["spec"]["selector"]
    # Inline, not a file of its own: a partial Deployment in a file reads as a whole one to manifest
    # scanners (checkov would judge OpenEMR's container by the few fields the patch adds).
    files = {"fluent-bit-sidecar.yaml": resources, **({"network-policy.yaml": policy} if policy else {})}
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1alpha1", "kind": "Component",
                     "resources": list(files),
                     "patches": [{"patch": yaml.safe_dump(deployment, sort_keys=True, width=120),
                                  "target": {"kind": "Deployment", "name": stack.openemr.deployment}}]}
    return {"kustomization.yaml": [kustomization], **files}
