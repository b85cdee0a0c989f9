"""Alertmanager, run by the operator from an Alertmanager CR.

Replicas gossip on 9094 (TCP and UDP) and share silences and notification state, persisted on a PVC.
An HPA scales it through the CR's scale subresource (.spec.replicas), never the operator's
StatefulSet (the operator would revert it). The routing configuration is rendered into the Secret the
CR names; it holds no credentials (receivers read theirs from mounted Secret files).
"""
from __future__ import annotations

import cdk8s_plus_37.k8s as k
import yaml
from constructs import Construct

from imports.com.coreos import monitoring as m
from stackgen import versions
from stackgen.context import Context
from stackgen.lib import operated
from stackgen.lib.monitors import Endpoint, service_monitor
from stackgen.lib.netpol import Policy, cidrs, component_policy, rule
from stackgen.lib.scaling import ScaleTarget, replicas_and_scaling
from stackgen.lib.workload import Port, service, service_account

WEB = Port("web", 9093)
RELOADER = Port("reloader-web", 8080)
MESH_TCP = Port("mesh-tcp", 9094)
MESH_UDP = Port("mesh-udp", 9094, "UDP")
RECEIVER_PORTS = [Port("https", 443), Port("smtp-submission", 587)]


def routing_config() -> dict:
    """Minimal valid routing: everything grouped and sent nowhere, until receivers are configured."""
    return {
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "namespace", "severity"],
            "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
        },
        "receivers": [{"name": "null"}],
    }


class Alertmanager(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "alertmanager")
        config, stack = ctx.config.alertmanager, ctx.config
        identity = ctx.identity("alertmanager", "alert-router", versions.ALERTMANAGER)
        name = stack.instance
        config_secret = f"alertmanager-{name}-config"
        replicas = replicas_and_scaling(
            self, identity, ScaleTarget("monitoring.coreos.com/v1", "Alertmanager", name), "alertmanager",
            stack.autoscaling, identity.selector)
        k.KubeSecret(self, "config", metadata=identity.meta(config_secret),
                     string_data={"alertmanager.yaml": yaml.safe_dump(routing_config(), sort_keys=True)})
        m.Alertmanager(
            self, "alertmanager",
            metadata={"name": name, "namespace": ctx.namespace, "labels": identity.labels},
            spec=m.AlertmanagerSpec(
                image=versions.ALERTMANAGER.ref, version=versions.ALERTMANAGER.tag,
                replicas=replicas, retention=config.retention,
                config_secret=config_secret,
                service_account_name=identity.name,
                pod_metadata=m.AlertmanagerSpecPodMetadata(labels=identity.labels),
                resources=operated.resources("Alertmanager", config.resources),
                security_context=operated.security_context("Alertmanager"),
                affinity=operated.spread_over_nodes("Alertmanager", identity.selector) if replicas != 1 else None,
                storage=operated.storage("Alertmanager", stack.storage.class_name, config.storage_size),
            ),
        )
        service_account(self, identity)
        service(self, identity, [WEB, RELOADER])
        service_monitor(self, identity, [Endpoint(WEB.name), Endpoint(RELOADER.name)])
        ctx.scraped(identity, [WEB, RELOADER])
        peers = ctx.pods_of("alertmanager")
        component_policy(self, identity, Policy(
            ingress=[
                rule([ctx.pods_of("prometheus"), ctx.pods_of("grafana")], [WEB]),
                rule([ctx.pods_of("prometheus")], [RELOADER]),
                rule([peers], [MESH_TCP, MESH_UDP]),
            ],
            egress=[
                rule([peers], [MESH_TCP, MESH_UDP]),
                # Receivers (Slack, PagerDuty over HTTPS; SMTP submission) are outside the cluster.
                rule(cidrs(["0.0.0.0/0"]), RECEIVER_PORTS),
            ]))

