"""The checks doctor runs, in order. Each takes the Inputs and returns its rows; add one by writing a
function and listing it in CHECKS."""
from __future__ import annotations

from collections.abc import Callable

from stackgen.aws.report import Check
from stackgen.checks.placeholders import placeholder_checks
from stackgen.components.platform import vpc_cni
from stackgen.doctor.cluster import condition
from stackgen.doctor.flux_checks import flux_installed, source_ready
from stackgen.doctor.inputs import Inputs
from stackgen.doctor.kinds import kinds_available
from stackgen.doctor.tree import Stage
from stackgen.names import PART_OF

METRICS_API_SERVICE = "v1beta1.metrics.k8s.io"
AUTO_MODE_EBS = "ebs.csi.eks.amazonaws.com"
PRUNE_ANNOTATION = "kustomize.toolkit.fluxcd.io/prune"  # "disabled": Flux never deletes the object


def metrics_api(inputs: Inputs) -> list[Check]:
    """HorizontalPodAutoscalers on CPU and memory read metrics.k8s.io (metrics-server)."""
    hpas = inputs.first_stage_with("HorizontalPodAutoscaler")
    if hpas is None:
        return []
    target = f"APIService {METRICS_API_SERVICE}"
    status, message = condition(inputs.cluster.api_service(METRICS_API_SERVICE), "Available")
    if status == "True":
        return [Check("metrics API", target, "pass", "Available")]
    delivered = inputs.first_stage_with("APIService", METRICS_API_SERVICE)
    if delivered and delivered[0] <= hpas[0]:
        return [Check("metrics API", target, "pass", f"delivered by stage {delivered[1].name}")]
    state = f"registered but not Available: {message or 'no condition yet'}" if status else "not registered"
    return [Check("metrics API", target, "fail",
                  f"{state}: the HorizontalPodAutoscalers of stage {hpas[1].name} cannot read CPU or memory",
                  "set platform.metrics_server: managed in the overlay (or install metrics-server)")]


def storage_provisioners(inputs: Inputs) -> list[Check]:
    checks = []
    for stage in inputs.stages:
        for storage_class in stage.of_kind("StorageClass"):
            name, provisioner = storage_class["metadata"]["name"], storage_class.get("provisioner", "")
            target = f"StorageClass {name} -> CSIDriver {provisioner}"
            if inputs.cluster.csi_driver(provisioner) is not None:
                checks.append(Check("storage provisioner", target, "pass", "the CSIDriver exists"))
            elif inputs.first_stage_with("CSIDriver", provisioner):
                checks.append(Check("storage provisioner", target, "pass", "a stage delivers the CSIDriver"))
            else:
                checks.append(Check("storage provisioner", target, "fail",
                                    f"no CSIDriver {provisioner}: the volumes of class {name} would stay Pending",
                                    _provisioner_fix(provisioner)))
    return checks


def _provisioner_fix(provisioner: str) -> str:
    if provisioner == AUTO_MODE_EBS:
        # Only EKS Auto Mode's block storage capability serves this driver (EKS API: storageConfig.blockStorage).
        return ("enable EKS Auto Mode with its block storage capability (storageConfig.blockStorage.enabled; "
                "aws eks describe-cluster shows it); the self-managed EBS CSI driver is ebs.csi.aws.com instead")
    return f"install the CSI driver {provisioner}"


def namespaces_free(inputs: Inputs) -> list[Check]:
    """A Namespace someone else owns would be taken over by Flux (its labels, and whatever policies the stage
    puts in it), and deleted with everything in it once the stage stops applying it, unless pruning is off."""
    return [_namespace(inputs, stage, namespace) for stage in inputs.stages for namespace in stage.of_kind("Namespace")]


def _namespace(inputs: Inputs, stage: Stage, namespace: dict) -> Check:
    name = namespace["metadata"]["name"]
    target = f"Namespace {name}"
    existing = inputs.cluster.namespace(name)
    if existing is None:
        return Check("namespace free", target, "pass", f"absent: stage {stage.name} creates it")
    if ((existing.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/part-of") == PART_OF:
        return Check("namespace free", target, "pass", f"exists, labelled part-of {PART_OF}")
    pruned = stage.prune and (namespace["metadata"].get("annotations") or {}).get(PRUNE_ANNOTATION) != "disabled"
    return Check("namespace free", target, "fail",
                 f"exists without app.kubernetes.io/part-of: {PART_OF}: stage {stage.name} would adopt it"
                 + (", and delete it with everything in it once the stage no longer applies it" if pruned else ""),
                 f"choose another namespace in overlays/{inputs.overlay}.yaml (namespace, agents_namespace); if it is "
                 f"this stack's: kubectl label namespace {name} app.kubernetes.io/part-of={PART_OF}")


def network_policies_enforced(inputs: Inputs) -> list[Check]:
    """EKS Auto Mode accepts every NetworkPolicy and enforces none until its network policy controller is
    on (vpc_cni.py): the stack's isolation would silently not exist."""
    policies = inputs.first_stage_with("NetworkPolicy")
    if policies is None:
        return []
    target = f"ConfigMap {vpc_cni.NAMESPACE}/{vpc_cni.NAME} {vpc_cni.KEY}"
    delivered = inputs.first_stage_with("ConfigMap", vpc_cni.NAME)
    if delivered and delivered[0] <= policies[0]:
        return [Check("network policies enforced", target, "pass", f"set by stage {delivered[1].name}")]
    value = ((inputs.cluster.config_map(vpc_cni.NAMESPACE, vpc_cni.NAME) or {}).get("data") or {}).get(vpc_cni.KEY)
    if value == "true":
        return [Check("network policies enforced", target, "pass", "true: the network policy controller is on")]
    return [Check("network policies enforced", target, "fail",
                  f"{'absent' if value is None else repr(value)}: the NetworkPolicies of stage {policies[1].name} "
                  "would be accepted and enforce nothing (EKS Auto Mode: Use Network Policies, Step 1)",
                  f"{vpc_cni.ENABLE_COMMAND}; or network.policy_controller: manage in overlays/{inputs.overlay}.yaml")]


def no_placeholders(inputs: Inputs) -> list[Check]:
    """A documentation placeholder (a mail host under example.org, a role in AWS's documentation account)
    that a stage applies: the cluster would run it (checks/placeholders.py)."""
    objects = [obj for stage in inputs.stages for obj in stage.objects]
    return placeholder_checks(inputs.config, inputs.overlay, objects, f"the stages of dist/flux/{inputs.overlay}.yaml")


CHECKS: tuple[Callable[[Inputs], list[Check]], ...] = (
    flux_installed, source_ready, kinds_available, metrics_api, storage_provisioners, namespaces_free,
    network_policies_enforced, no_placeholders)


def run(inputs: Inputs) -> list[Check]:
    return [row for check in CHECKS for row in check(inputs)]
