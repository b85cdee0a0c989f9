"""Fluent Bit: the container logs of every node to Loki's push API, with Kubernetes metadata as labels.

Nothing is lost that the node can hold while Loki is down: records are buffered in chunks on the node's
disk (`storage.type: filesystem`, up to `fluent_bit.buffer_limit`), retried without limit, and the
tail offsets are kept in a database on the node, so a restarted pod resumes where it stopped.

Host access, each for a reason: read-only hostPath /var/log (the container logs, owned by root with
mode 0640, hence uid 0 with no capability), and hostPath /var/lib/fluent-bit for the tail offsets and
the buffer, so that both survive a restart of the pod. No hostNetwork, no hostPID, no capability.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import cdk8s_plus_37.k8s as k
import yaml

from constructs import Construct
from stackgen import forms, versions
from stackgen.components import fluent_bit_tls, loki
from stackgen.components.elk import es_shipping
from stackgen.components.elk.elasticsearch import loki_enabled
from stackgen.context import Context
from stackgen.lib import tls
from stackgen.lib.monitors import Endpoint, pod_monitor
from stackgen.lib.netpol import Policy, cidrs, component_policy, rule
from stackgen.lib.rbac import Grant, cluster_role
from stackgen.lib.workload import (
    ContainerSpec,
    HostAccess,
    HttpProbe,
    PodSpec,
    Port,
    checksum,
    daemon_set,
    service_account,
)
from stackgen.settings import FluentSize, Model, Resources, sized

if TYPE_CHECKING:  # the overlay's model imports every component's; this only annotates
    from stackgen.config import StackConfig


class FluentBitSidecar(Model):
    """Optional: ship OpenEMR's own log files (Apache access/error, PHP errors) from a sidecar."""
    enabled: bool = False
    resources: Resources = sized("10m", "32Mi", "100m", "96Mi")


class FluentBitEvents(Model):
    """Kubernetes events to Loki from one replica (components/fluent_bit_events.py)."""
    enabled: bool = True
    resources: Resources = sized("5m", "32Mi", "100m", "96Mi")


class FluentBitConfig(Model):
    """Container logs of every node to Loki, with a filesystem buffer for Loki outages."""
    resources: Resources = sized("25m", "64Mi", "250m", "192Mi")
    # How much may wait on each node's disk while Loki is unreachable; beyond it the oldest chunks go.
    buffer_limit: FluentSize = "2G"
    sidecar: FluentBitSidecar = FluentBitSidecar()
    events: FluentBitEvents = FluentBitEvents()


# Plain HTTP: Fluent Bit 4.2.0's HTTP server (metrics, health) has no TLS setting (src/flb_config.c
# service_configs: http_server, http_listen, http_port only; src/http_server/flb_hs.c serves through Monkey
# with a plain listener). It carries Fluent Bit's own metrics, no log line.
HTTP = Port("http", 2020)
# EKS Auto Mode nodes enforce SELinux (Bottlerocket). AWS's own Fluent Bit for them (the
# amazon-cloudwatch-observability chart: hostPath /var/log read-only and a state dir,
# `containerLogs.fluentBit.securityContext: {}`) sets no SELinux label; nor do we.
SELINUX = "SELinux: the runtime's default container_t (no seLinuxOptions), as AWS's Fluent Bit on Auto Mode"
ADDRESS_FORMS = {"service.http_listen": forms.LISTEN_HOST, "pipeline.outputs[].host": forms.HOSTNAME,
                 "pipeline.inputs[].listen": forms.LISTEN_HOST}
KUBE_API = Port("https", 443)
METRICS_PATH = "/api/v2/metrics/prometheus"
CONFIG_DIR = "/fluent-bit/etc/stackgen"
CONFIG_FILE = "fluent-bit.yaml"
STATE_DIR = "/var/lib/fluent-bit"
COMMAND = ["/fluent-bit/bin/fluent-bit", f"--config={CONFIG_DIR}/{CONFIG_FILE}"]
GRANTS = [Grant(("",), ("pods", "namespaces"))]


def service_section(storage_path: str) -> dict:
    """HTTP server (metrics, health) and the filesystem buffer."""
    return {
        "flush": 1, "log_level": "info", "http_server": "on", "http_listen": "0.0.0.0", "http_port": HTTP.number,
        # /api/v1/health reports unhealthy after 5 errors or failed retries within a minute.
        "health_check": "on", "hc_errors_count": 5, "hc_retry_failure_count": 5, "hc_period": 60,
        "storage.path": storage_path, "storage.sync": "normal", "storage.metrics": "on",
        "storage.backlog.mem_limit": "16M",
    }


def tail_input(tag: str, path: str, db: str) -> dict:
    """Read files from where the last run stopped; buffer on disk, not in memory."""
    return {"name": "tail", "tag": tag, "path": path, "db": db, "db.locking": True, "skip_long_lines": "on",
            "refresh_interval": 10, "rotate_wait": 30, "storage.type": "filesystem"}


def loki_output(stack: StackConfig, match: str, labels: dict[str, str], label_keys: str | None = None) -> dict:
    """Loki's push API on its write path over verified TLS; retried without limit while the disk buffer holds."""
    output = {
        "name": "loki", "match": match,
        "host": f"{loki.push_service(stack)}.{stack.namespace}.svc.{tls.CLUSTER_DOMAIN}", "port": loki.HTTP.number,
        "uri": loki.PUSH_PATH, **fluent_bit_tls.client(),
        "labels": ", ".join(f"{key}={value}" for key, value in labels.items()),
        "line_format": "json", "retry_limit": "no_limits",
        "storage.total_limit_size": stack.fluent_bit.buffer_limit,
    }
    if label_keys:
        output["label_keys"] = label_keys
    return output


# The kubelet names each container's log file <pod>_<namespace>_<container>-<container id>.log. These
# labels come from that name, so they survive an unreachable API server and pods already gone (whose
# last lines explain a crash): at 4.2.0 the kubernetes filter adds nothing at all when its lookup fails.
CONTAINER_PATH_PARSER = {
    "name": "k8s_container_path", "format": "regex",
    "regex": r"^/var/log/containers/(?<k8s_pod>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)"
             r"_(?<k8s_namespace>[^_]+)_(?<k8s_container>.+)-(?<k8s_container_id>[a-z0-9]{64})\.log$",
}
# Continuation lines of a PHP error: its stack trace, "thrown in", and a chained exception, which PHP
# writes after a blank line as "Next <class>: ..." (php-src Zend/zend_exceptions.c, Exception::__toString:
# "\n\nNext "); the blank line continues it too, so the whole chain stays one record.
TRACE_LINE = r"Stack trace:|#\d+ |\s+thrown in |Next |PHP Stack trace:|PHP +\d+\. |\s+|$"
TRACE_CONTINUATION = f"/^(?:{TRACE_LINE})/"
PHP_ERROR_START = r"\[\d{2}-[A-Za-z]{3}-\d{4} \d{2}:\d{2}:\d{2}[^\]]*\] "
APACHE_ERROR_START = r"\[[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4}\] "


def multiline_parser(name: str, start: str) -> dict:
    """Join a first line matching `start` with the trace lines that follow (flush_timeout in ms)."""
    return {"name": name, "type": "regex", "flush_timeout": 2000, "rules": [
        {"state": "start_state", "regex": f"/^(?:{start})/", "next_state": "cont"},
        {"state": "cont", "regex": TRACE_CONTINUATION, "next_state": "cont"}]}


# For the app namespace's containers, whose output mixes plain lines (OpenEMR's entrypoint), PHP's errors
# (its CLI scripts log them to stderr, "PHP Fatal error: ..." with no date) and, from an image that logs to
# its output, Apache's error and access lines. Every line that does not continue a trace starts a record,
# not only an error's first line: in Fluent Bit 4.2.0 a line no rule matches is passed on alone but leaves
# the parser in its continuation state (src/multiline/flb_ml_rule.c flb_ml_rule_process), so trace-shaped
# lines after it would be joined into a record with no first line, which flb_ml_flush_stream_group
# (src/multiline/flb_ml.c) packs as {"log": ...} alone: no log_file, hence no namespace, pod or container.
# The continuation rule lists only trace shapes, so an access line is never glued onto a trace.
APP_MULTILINE = multiline_parser("openemr_php_apache", f"(?!(?:{TRACE_LINE}))")


def node_config(stack: StackConfig) -> dict:
    kube = "$kubernetes"
    return {
        "service": service_section(f"{STATE_DIR}/buffer"),
        "parsers": [CONTAINER_PATH_PARSER, *es_shipping.parsers(stack)],
        "multiline_parsers": [APP_MULTILINE],
        "pipeline": {
            "inputs": [{**tail_input("kube.*", "/var/log/containers/*.log", f"{STATE_DIR}/tail.db"),
                        # containerd (EKS) writes CRI format; docker kept for self-managed nodes.
                        "multiline.parser": "cri, docker", "path_key": "log_file"}, *es_shipping.inputs(stack)],
            "filters": [
                # First: joined records are re-emitted from the start of the pipeline, so filters placed
                # before this one would run twice. Its buffer is kept on disk like every other chunk.
                {"name": "multiline", "match": f"kube.var.log.containers.*_{stack.app_namespace}_*",
                 "multiline.key_content": "log", "multiline.parser": APP_MULTILINE["name"],
                 "emitter_storage.type": "filesystem", "emitter_mem_buf_limit": "16M"},
                {"name": "parser", "match": "kube.*", "key_name": "log_file", "parser": CONTAINER_PATH_PARSER["name"],
                 "reserve_data": "on", "preserve_key": "off"},
                # No fluentbit.io/parser annotations: the stack loads only the parsers above.
                {"name": "kubernetes", "match": "kube.*", "kube_tag_prefix": "kube.var.log.containers.",
                 "merge_log": "on", "keep_log": "off", "labels": "on", "annotations": "off",
                 "k8s-logging.parser": "off", "k8s-logging.exclude": "on"}, *es_shipping.filters(stack)],
            "outputs": [*([loki_output(stack, "kube.*", {
                "job": "fluent-bit", "cluster": stack.cluster_name, "namespace": "$k8s_namespace",
                "pod": "$k8s_pod", "container": "$k8s_container", "app": f"{kube}['labels']['app']"})]
                if loki_enabled(stack) else []), *es_shipping.outputs(stack)],
        },
    }


def config_text(config: dict) -> str:
    # Never fold long values (label lists, parser regexes) over lines: reviewers read them as written.
    return yaml.safe_dump(config, sort_keys=False, width=100_000)


class FluentBit(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "fluent-bit")
        stack = ctx.config
        identity = ctx.identity("fluent-bit", "log-shipper", versions.FLUENT_BIT)
        text = config_text(node_config(stack))
        k.KubeConfigMap(self, "config", metadata=identity.meta("fluent-bit-config"), data={CONFIG_FILE: text})
        # Its own certificate: the CA for its outputs, and what the forward listener serves (es_shipping).
        certificate = tls.certificate(self, stack, identity,
                                      es_shipping.forward_names(stack) or tls.client_names(identity))
        container = ContainerSpec(
            name="fluent-bit", image=versions.FLUENT_BIT.ref, resources=stack.fluent_bit.resources,
            ports=[HTTP, *es_shipping.ports(stack)],
            command=COMMAND,
            mounts=[k.VolumeMount(name="config", mount_path=CONFIG_DIR, read_only=True),
                    k.VolumeMount(name="varlog", mount_path="/var/log", read_only=True),
                    k.VolumeMount(name="state", mount_path=STATE_DIR), certificate.mount(),
                    *es_shipping.mounts(stack)],
            env=es_shipping.env(stack),
            # Liveness only asks whether the process serves; during a Loki outage it keeps buffering.
            readiness=HttpProbe("/api/v1/health", HTTP.name), liveness=HttpProbe("/", HTTP.name))
        pod = PodSpec(
            identity, [container], uid=0, api_access="the kubernetes filter reads pod metadata (labels) for each log file", tolerate_all_taints=True,
            volumes=[k.Volume(name="config", config_map=k.ConfigMapVolumeSource(name="fluent-bit-config")),
                     k.Volume(name="varlog", host_path=k.HostPathVolumeSource(path="/var/log", type="Directory")),
                     k.Volume(name="state", host_path=k.HostPathVolumeSource(path=STATE_DIR,
                                                                             type="DirectoryOrCreate")),
                     certificate.volume(), *es_shipping.volumes(stack)],
            annotations={"checksum/config": checksum(text)}, secret_env=es_shipping.secret_env(stack),
            host_access=HostAccess(
                "read-only hostPath /var/log: container logs owned by root (uid 0, no capability); hostPath "
                f"/var/lib/fluent-bit: tail offsets and disk buffer survive restarts; {SELINUX}", run_as_root=True))
        service_account(self, identity)
        cluster_role(self, identity, GRANTS)
        daemon_set(self, pod)
        es_shipping.forward_service(self, identity, stack)  # the OpenEMR sidecar's lines, for Elasticsearch
        pod_monitor(self, identity, [Endpoint(HTTP.name, path=METRICS_PATH)])
        ctx.scraped(identity, [HTTP])
        component_policy(self, identity, Policy(
            ingress=[rule([ctx.pods_of("prometheus")], [HTTP]), *es_shipping.ingress(ctx)],
            egress=[*([rule([ctx.pods_of(loki.push_service(stack))], [loki.HTTP])] if loki_enabled(stack) else []),
                    *es_shipping.egress(ctx), rule(cidrs(stack.network.kube_api_cidrs), [KUBE_API])]))
