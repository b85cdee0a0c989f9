"""Kubernetes events to Loki, from one Fluent Bit replica (a Deployment, not the node DaemonSet: every node
would ship every event).

Events are where "why is this pod pending" lives, and kube-state-metrics keeps none of them. Fluent
Bit 4.2's `kubernetes_events` input lists the events once, then follows the API server's watch stream
(RBAC: list and watch on core `events`, nothing else). Labels join the pod logs' streams: `namespace`
and, for events about a pod, `pod` (the involved object lifted to top-level keys, then copied when its
kind is Pod; Loki's output leaves out a label whose key a record lacks, logging a warning for it), plus
`kind` and `type` (Normal or Warning). Warning events of OpenEMR's namespace:

    {job="kubernetes-events", namespace="openemr", type="Warning"}

The buffer is in memory (`mem_buf_limit`): on a restart the input lists again what the API server
still holds, within `kube_retention_time`, so little is lost and a little may be shipped twice.
Runs in the stack namespace under PSS restricted: non-root, read-only root filesystem, no capability.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen import versions
from stackgen.components import loki
from stackgen.components.elk.elasticsearch import loki_enabled
from stackgen.components.fluent_bit import (
    COMMAND,
    CONFIG_DIR,
    CONFIG_FILE,
    HTTP,
    KUBE_API,
    METRICS_PATH,
    config_text,
    loki_output,
)
from stackgen.context import Context
from stackgen.lib import tls
from stackgen.lib.monitors import Endpoint, pod_monitor
from stackgen.lib.netpol import Policy, cidrs, component_policy, rule
from stackgen.lib.rbac import Grant, cluster_role
from stackgen.lib.workload import ContainerSpec, HttpProbe, PodSpec, checksum, deployment, service_account

if TYPE_CHECKING:
    from stackgen.config import StackConfig

NAME = "fluent-bit-events"
JOB = "kubernetes-events"
TAG = "k8s_events"
GRANTS = [Grant(("",), ("events",), ("list", "watch"))]
UID = 65534


def enabled(stack: StackConfig) -> bool:
    return stack.fluent_bit.events.enabled and loki_enabled(stack)


def _in_memory(output: dict) -> dict:
    """The events buffer is in memory: a disk limit would only mislead."""
    return {key: value for key, value in output.items() if key != "storage.total_limit_size"}


def events_config(stack: StackConfig) -> dict:
    return {
        "service": {"flush": 1, "log_level": "info", "http_server": "on", "http_listen": "0.0.0.0",
                    "http_port": HTTP.number, "health_check": "on", "hc_errors_count": 5,
                    "hc_retry_failure_count": 5, "hc_period": 60},
        "pipeline": {
            "inputs": [{"name": "kubernetes_events", "tag": TAG, "kube_retention_time": "1h", "mem_buf_limit": "16M"}],
            "filters": [
                {"name": "nest", "match": TAG, "operation": "lift", "nested_under": "involvedObject",
                 "add_prefix": "object_"},
                {"name": "modify", "match": TAG, "condition": "Key_value_equals object_kind Pod",
                 "copy": "object_name pod"}],
            "outputs": [_in_memory(loki_output(stack, TAG, {
                "job": JOB, "cluster": stack.cluster_name, "namespace": "$object_namespace", "pod": "$pod",
                "kind": "$object_kind", "type": "$type"}))],
        },
    }


class FluentBitEventsShipper(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "fluent-bit-events")
        stack = ctx.config
        if not enabled(stack):
            return
        identity = ctx.identity(NAME, "event-shipper", versions.FLUENT_BIT)
        text = config_text(events_config(stack))
        k.KubeConfigMap(self, "config", metadata=identity.meta(f"{NAME}-config"), data={CONFIG_FILE: text})
        certificate = tls.certificate(self, stack, identity, tls.client_names(identity))  # for its ca.crt
        container = ContainerSpec(
            name="fluent-bit", image=versions.FLUENT_BIT.ref, resources=stack.fluent_bit.events.resources,
            ports=[HTTP], command=COMMAND,
            mounts=[k.VolumeMount(name="config", mount_path=CONFIG_DIR, read_only=True), certificate.mount()],
            readiness=HttpProbe("/api/v1/health", HTTP.name), liveness=HttpProbe("/", HTTP.name))
        deployment(self, PodSpec(
            identity, [container], uid=UID, api_access="lists and watches Kubernetes events",
            volumes=[k.Volume(name="config", config_map=k.ConfigMapVolumeSource(name=f"{NAME}-config")),
                     certificate.volume()],
            annotations={"checksum/config": checksum(text)}), replicas=1, recreate=True)
        service_account(self, identity)
        cluster_role(self, identity, GRANTS)
        pod_monitor(self, identity, [Endpoint(HTTP.name, path=METRICS_PATH)])
        ctx.scraped(identity, [HTTP])
        component_policy(self, identity, Policy(
            ingress=[rule([ctx.pods_of("prometheus")], [HTTP])],
            egress=[rule([ctx.pods_of(loki.push_service(stack))], [loki.HTTP]),
                    rule(cidrs(stack.network.kube_api_cidrs), [KUBE_API])]))
