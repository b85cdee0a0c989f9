"""EKS Auto Mode's `eks.amazonaws.com/v1` NodeClass, as AWS documents it: there is no public CRD file.

The schema below holds exactly the fields of the "Node Class Specification" on AWS's page "Create a Node
Class for Amazon EKS" (https://docs.aws.amazon.com/eks/latest/userguide/create-node-class.html, source
awsdocs/amazon-eks-user-guide latest/ug/automode/create-node-class.adoc at 0026c9df), with the values and
ranges the page states. validate.py applies it strictly, like a CRD schema: a field the page does not
document is a problem, so a typo or a Karpenter EC2NodeClass field (amiFamily, userData, kubelet) cannot
reach the cluster unnoticed. Fields documented elsewhere (pod subnets, capacity reservations) are left
out until the project renders them and reads their page.
"""
from __future__ import annotations

API_VERSION, KIND = "eks.amazonaws.com/v1", "NodeClass"

_TAGS = {"type": "object", "additionalProperties": {"type": "string"}}


def _terms(*alternatives: str) -> dict:
    """Selector terms: each term one of tags (a map), id, or (security groups only) name."""
    properties = {"tags": _TAGS, **{key: {"type": "string"} for key in alternatives}}
    return {"type": "array", "minItems": 1, "items": {
        "type": "object", "properties": properties, "minProperties": 1, "maxProperties": 1}}


SCHEMA = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            # "Required fields": role, subnetSelectorTerms, securityGroupSelectorTerms.
            "required": ["role", "subnetSelectorTerms", "securityGroupSelectorTerms"],
            "properties": {
                "role": {"type": "string", "minLength": 1},  # the IAM role's name, not its ARN
                "subnetSelectorTerms": _terms("id"),
                "securityGroupSelectorTerms": _terms("id", "name"),
                "snatPolicy": {"enum": ["Random", "Disabled"]},
                "networkPolicy": {"enum": ["DefaultAllow", "DefaultDeny"]},
                "networkPolicyEventLogs": {"enum": ["Disabled", "Enabled"]},
                "ephemeralStorage": {"type": "object", "properties": {
                    # "Range: 1-59000Gi or 1-64000G or 1-58Ti or 1-64T"
                    "size": {"type": "string", "pattern": r"^[1-9][0-9]*(Gi|G|Ti|T)$"},
                    "iops": {"type": "integer", "minimum": 3000, "maximum": 16000},
                    "throughput": {"type": "integer", "minimum": 125, "maximum": 1000},
                    "kmsKeyID": {"type": "string"},
                }},
                "advancedNetworking": {"type": "object", "properties": {
                    "httpsProxy": {"type": "string", "maxLength": 255},
                    "noProxy": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 255}},
                }},
                "certificateBundles": {"type": "array", "items": {
                    "type": "object", "required": ["name", "data"],
                    "properties": {"name": {"type": "string"}, "data": {"type": "string"}}}},
                "tags": _TAGS,
            },
        },
    },
}

# "Range: 1-59000Gi or 1-64000G or 1-58Ti or 1-64T": the upper bounds the pattern cannot express.
SIZE_LIMITS = {"Gi": 59000, "G": 64000, "Ti": 58, "T": 64}
# "Cannot use restricted tags like: kubernetes.io/cluster/*, karpenter.sh/provisioner-name, ..."
RESTRICTED_TAG_PREFIXES = ("kubernetes.io/cluster/", "karpenter.sh/provisioner-name", "karpenter.sh/nodepool",
                           "karpenter.sh/nodeclaim", "karpenter.sh/managed-by", "eks.amazonaws.com/nodeclass")


def problems(obj: dict) -> list[str]:
    """What the schema cannot say: the size ranges, the restricted tags, the reserved name `default`."""
    spec, found = obj.get("spec") or {}, []
    if obj.get("metadata", {}).get("name") == "default":
        found.append("metadata.name: `default` is the built-in NodeClass's name (\"Do not name your custom node "
                     "class `default`\")")
    size = (spec.get("ephemeralStorage") or {}).get("size", "")
    for unit, limit in SIZE_LIMITS.items():
        if size.endswith(unit) and size[:-len(unit)].isdigit() and int(size[:-len(unit)]) > limit:
            found.append(f"spec.ephemeralStorage.size: {size} is above {limit}{unit}")
            break
    found += [f"spec.tags.{key}: a restricted tag" for key in spec.get("tags") or {}
              if key.startswith(RESTRICTED_TAG_PREFIXES)]
    return found
