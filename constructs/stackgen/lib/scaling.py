"""HorizontalPodAutoscaler and PodDisruptionBudget, written once.

An HPA may only target something with a scale subresource that the stack does not also pin: a
Deployment whose replica count is left out, or an operator CR through its scale subresource
(Alertmanager -> .spec.replicas, Prometheus -> .spec.shards).
"""
from __future__ import annotations

from dataclasses import dataclass

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen.lib.meta import Identity
from stackgen.lib.workload import int_or_string
from stackgen.settings import Model, Percent, ReplicaRange


class Autoscaling(Model):
    """HPA settings. With `enabled: false` every component runs at its min_replicas, no HPA."""
    enabled: bool = True
    cpu_target: Percent = 70
    memory_target: Percent = 80
    # Grafana stays at one replica while it keeps its SQLite database on one RWO volume.
    grafana: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=1)
    # The stateless parts of Loki, Tempo and Mimir (read path, distributors, queriers). Their stateful
    # parts scale by configuration; the single-process topologies have nothing to autoscale.
    loki: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=1)
    tempo: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=1)
    mimir: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=1)
    # Prometheus scales by shards (the CR's scale subresource). Each shard scrapes only part of the
    # targets, so queries and rules on one shard see part of the data: sharding is opt-in.
    prometheus: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=1)
    alertmanager: ReplicaRange = ReplicaRange(min_replicas=1, max_replicas=3)


@dataclass(frozen=True)
class ScaleTarget:
    api_version: str
    kind: str
    name: str


def _utilization(resource: str, percent: int) -> k.MetricSpecV2:
    return k.MetricSpecV2(type="Resource", resource=k.ResourceMetricSourceV2(
        name=resource, target=k.MetricTargetV2(type="Utilization", average_utilization=percent)))


def horizontal_autoscaler(scope: Construct, identity: Identity, target: ScaleTarget,
                          scaling: ReplicaRange, defaults: Autoscaling) -> k.KubeHorizontalPodAutoscalerV2:
    return k.KubeHorizontalPodAutoscalerV2(
        scope, "hpa", metadata=identity.meta(),
        spec=k.HorizontalPodAutoscalerSpecV2(
            scale_target_ref=k.CrossVersionObjectReferenceV2(
                api_version=target.api_version, kind=target.kind, name=target.name),
            min_replicas=scaling.min_replicas,
            max_replicas=scaling.max_replicas,
            metrics=[
                _utilization("cpu", scaling.cpu_target or defaults.cpu_target),
                _utilization("memory", scaling.memory_target or defaults.memory_target),
            ],
            # Scale down slowly: stateful members (Alertmanager peers, shards) need time to hand over.
            behavior=k.HorizontalPodAutoscalerBehaviorV2(scale_down=k.HpaScalingRulesV2(
                stabilization_window_seconds=600,
                policies=[k.HpaScalingPolicyV2(type="Pods", value=1, period_seconds=300)])),
        ),
    )


def disruption_budget(scope: Construct, identity: Identity, selector: dict[str, str]) -> k.KubePodDisruptionBudget:
    """At most one pod of the component down at a time during voluntary disruptions (node drains)."""
    return k.KubePodDisruptionBudget(
        scope, "pdb", metadata=identity.meta(),
        spec=k.PodDisruptionBudgetSpec(
            max_unavailable=int_or_string(1),
            selector=k.LabelSelector(match_labels=selector),
            unhealthy_pod_eviction_policy="AlwaysAllow",
        ),
    )


def replicas_and_scaling(scope: Construct, identity: Identity, target: ScaleTarget, component: str,
                         autoscaling: Autoscaling, selector: dict[str, str], copies: int = 1) -> int | None:
    """Render the HPA and PDB a component's replica range calls for (`copies`: pods per scaled unit,
    e.g. Prometheus HA replicas per shard).

    Returns the count to render, or None when an HPA owns it.
    """
    scaling: ReplicaRange = getattr(autoscaling, component)
    hpa = autoscaling.enabled and scaling.max_replicas > scaling.min_replicas
    if hpa:
        horizontal_autoscaler(scope, identity, target, scaling, autoscaling)
    if scaling.min_replicas > 1 or hpa or copies > 1:
        disruption_budget(scope, identity, selector)
    return None if hpa else scaling.min_replicas
