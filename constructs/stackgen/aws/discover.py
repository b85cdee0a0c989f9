"""`aws discover`: read the EKS cluster, find its buckets, roles and KMS key, write a cluster overlay.

The overlay names a size overlay as its base and holds only what was found (a re-run keeps the keys
it does not manage). What was not found is reported with the tags and name that were looked for.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from botocore.exceptions import ClientError

from stackgen.aws.conventions import CLUSTER_TAG, COMPONENT_TAG, WANTED, Wanted
from stackgen.aws.report import progress
from stackgen.aws.session import Aws, AwsError, error_code
from stackgen.config import BASE_KEY, deep_merge

SUPPORTED_MINOR = (1, 29)


@dataclass
class ClusterFacts:
    name: str
    version: str
    oidc_issuer: str
    auto_mode: bool | None  # None: the response has no computeConfig (moto does not model Auto Mode)
    block_storage: bool | None
    account: str | None = None  # from the cluster's ARN; the IRSA roles belong in this account
    service_cidr: str | None = None  # kubernetesNetworkConfig.serviceIpv4Cidr


@dataclass
class Found:
    wanted: Wanted
    value: str | None
    how: str  # "tag", "name", or why nothing was taken


@dataclass
class Discovery:
    cluster: ClusterFacts
    region: str
    found: list[Found] = field(default_factory=list)

    @property
    def missing(self) -> list[Found]:
        return [f for f in self.found if f.value is None]

    def overlay_values(self) -> dict:
        values: dict = {"cluster_name": self.cluster.name, "aws": {"region": self.region}}
        if self.cluster.service_cidr:
            values["network"] = {"service_cidr": self.cluster.service_cidr,
                                 "kube_api_cidrs": [kube_api_address(self.cluster.service_cidr)]}
        for found in self.found:
            if found.value is not None:
                section, key = found.wanted.key.split(".")
                values.setdefault(section, {})[key] = found.value
        return values

    def notes(self) -> list[str]:
        notes = []
        major_minor = tuple(int(p) for p in self.cluster.version.split(".")[:2])
        if major_minor < SUPPORTED_MINOR:
            notes.append(f"Kubernetes {self.cluster.version} is older than 1.29, the oldest version the stack is validated for")
        if self.cluster.auto_mode is False or self.cluster.block_storage is False:
            notes.append("EKS Auto Mode (compute and block storage) is off: the StorageClass's provisioner "
                         "ebs.csi.eks.amazonaws.com exists only with Auto Mode")
        if self.cluster.auto_mode is None:
            notes.append("the DescribeCluster response has no computeConfig: whether Auto Mode is on is unknown")
        return notes


def describe_cluster(aws: Aws, name: str) -> ClusterFacts:
    try:
        cluster = aws.call("eks", "describe_cluster", name=name)["cluster"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise AwsError(f"eks:DescribeCluster {name}: {error}") from None
        names = aws.call("eks", "list_clusters").get("clusters", [])
        raise AwsError(f"no EKS cluster {name!r} in {aws.region}; clusters there: {', '.join(names) or 'none'} "
                       "(check --cluster/cluster_name and --region/aws.region)") from None
    return cluster_facts(cluster)


def cluster_facts(cluster: dict) -> ClusterFacts:
    """The facts discover and preflight use, from a DescribeCluster `cluster` (real or recorded)."""
    compute = cluster.get("computeConfig")
    storage = (cluster.get("storageConfig") or {}).get("blockStorage")
    return ClusterFacts(cluster["name"], cluster.get("version", ""), cluster.get("identity", {}).get("oidc", {}).get("issuer", ""),
                        compute.get("enabled") if compute is not None else None,
                        storage.get("enabled") if storage is not None else None,
                        cluster["arn"].split(":")[4] if cluster.get("arn") else None,
                        (cluster.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr"))


def kube_api_address(service_cidr: str) -> str:
    """Where pods' API calls are matched by the network policy agent: the `kubernetes` Service's ClusterIP
    (the first address of the service CIDR) as a /32, not the endpoint ENIs behind it. The agent's eBPF
    programs sit on the pod's veth, before kube-proxy's DNAT, so they see the ClusterIP: "it attaches the ebpf
    probes to the TC hook of the pod veth interface and thus unable to see the pod IP after the DNAT happens
    for the clusterIPs" (aws/amazon-network-policy-controller-k8s, pkg/resolvers/endpoints.go,
    getMatchingServiceClusterIPs); flow logs in aws/aws-network-policy-agent#549 show egress verdicts on
    service-range destinations. Every API client of the stack uses the in-cluster address
    (KUBERNETES_SERVICE_HOST), never the endpoint's name."""
    return f"{ipaddress.ip_network(service_cidr).network_address + 1}/32"


def _tags(pairs: list[dict], key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {p[key]: p[value] for p in pairs}


def _bucket_tags(aws: Aws, bucket: str) -> dict[str, str]:
    try:
        return _tags(aws.call("s3", "get_bucket_tagging", Bucket=bucket)["TagSet"])
    except ClientError as error:
        if error_code(error) in ("NoSuchTagSet", "NoSuchBucket"):
            return {}
        raise


def _tagged(tags: dict[str, str], cluster: str) -> str | None:
    return tags.get(COMPONENT_TAG) if tags.get(CLUSTER_TAG) == cluster else None


def _role_arns(aws: Aws) -> dict[str, str]:
    roles = {}
    for page in aws.client("iam").get_paginator("list_roles").paginate():
        roles.update({r["RoleName"]: r["Arn"] for r in page["Roles"]})
    return roles


def _kms_keys(aws: Aws, cluster: str, names: set[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Customer keys tagged for the cluster (component -> ARNs), and the key ARNs of the wanted aliases."""
    tagged: dict[str, list[str]] = {}
    for key in aws.call("kms", "list_keys").get("Keys", []):
        tags = _tags(aws.call("kms", "list_resource_tags", KeyId=key["KeyId"]).get("Tags", []), "TagKey", "TagValue")
        component = _tagged(tags, cluster)
        if component:
            tagged.setdefault(component, []).append(key["KeyArn"])
    aliases = {}
    for alias in aws.call("kms", "list_aliases").get("Aliases", []):
        if alias.get("TargetKeyId") and alias["AliasName"] in names:
            aliases[alias["AliasName"]] = aws.call("kms", "describe_key", KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"]
    return tagged, aliases


def _choose(wanted: Wanted, cluster: str, by_tag: list[str], by_name: str | None) -> Found:
    if len(by_tag) == 1:
        return Found(wanted, by_tag[0], "tag")
    if len(by_tag) > 1:
        return Found(wanted, None, f"{len(by_tag)} carry the tags ({', '.join(sorted(by_tag))}); tag exactly one")
    if by_name:
        return Found(wanted, by_name, "name")
    return Found(wanted, None, f"not found: looked for {wanted.looked_for(cluster)}")


def discover(aws: Aws, cluster_name: str) -> Discovery:
    progress(f"reading EKS cluster {cluster_name} in {aws.region}")
    facts = describe_cluster(aws, cluster_name)
    progress(f"cluster {facts.name}: Kubernetes {facts.version}, OIDC issuer {facts.oidc_issuer or 'none'}")
    buckets = [b["Name"] for b in aws.call("s3", "list_buckets").get("Buckets", [])]
    progress(f"reading the tags of {len(buckets)} S3 bucket(s)")
    bucket_tags = {b: _tagged(_bucket_tags(aws, b), cluster_name) for b in buckets}
    roles = _role_arns(aws)
    progress(f"reading the tags of {len(roles)} IAM role(s)")
    role_tags = {name: _tagged(_tags(aws.call("iam", "list_role_tags", RoleName=name).get("Tags", [])), cluster_name)
                 for name in roles}
    progress("reading KMS keys and aliases")
    kms_tagged, aliases = _kms_keys(aws, cluster_name, {w.name(cluster_name) for w in WANTED if w.kind == "kms"})
    discovery = Discovery(facts, aws.region)
    for wanted in WANTED:
        name = wanted.name(cluster_name)
        if wanted.kind == "bucket":
            found = _choose(wanted, cluster_name, [b for b, c in bucket_tags.items() if c == wanted.component],
                            name if name in bucket_tags else None)
        elif wanted.kind == "role":
            found = _choose(wanted, cluster_name, [roles[r] for r, c in role_tags.items() if c == wanted.component],
                            roles.get(name))
        else:
            found = _choose(wanted, cluster_name, kms_tagged.get(wanted.component, []), aliases.get(name))
        progress(f"{wanted.key}: {found.value} (by {found.how})" if found.value else f"{wanted.key}: {found.how}")
        discovery.found.append(found)
    return discovery


HEADER = ("# Written by `python main.py aws discover`: values discovered in AWS, on top of the base overlay.\n"
          "# Re-running discover updates them and keeps any other key added here.\n")


def write_overlay(path: Path, base: str, discovery: Discovery) -> dict:
    existing = yaml.safe_load(path.read_text()) if path.exists() else {}
    data = deep_merge(existing if isinstance(existing, dict) else {}, discovery.overlay_values())
    data = {BASE_KEY: base, **{k: v for k, v in data.items() if k != BASE_KEY}}
    facts = discovery.cluster
    about = (f"# Cluster {facts.name}: Kubernetes {facts.version}, OIDC issuer {facts.oidc_issuer}, Auto Mode "
             f"{ {True: 'on', False: 'off', None: 'unknown'}[facts.auto_mode] }.\n")
    path.write_text(HEADER + about + yaml.safe_dump(data, sort_keys=False))
    return data
