"""Types every component's configuration shares: formats, quantities, the strict base model.

Each component keeps its own configuration model beside the code that renders it; `config.py` puts
them together into the overlay's `StackConfig`.
"""
from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

# Formats accepted by the Prometheus CRD (same patterns as its openAPIV3Schema).
DURATION_PATTERN = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
BYTE_SIZE_PATTERN = r"^(0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$"
CPU_PATTERN = r"^([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$"
MEMORY_PATTERN = r"^[0-9]+(Ki|Mi|Gi|Ti)$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, min_length=1)]
ByteSize = Annotated[str, Field(pattern=BYTE_SIZE_PATTERN)]
# YAML reads `cpu_request: 2` as a number; a CPU quantity is a string either way.
Cpu = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, (int, float)) else v), Field(pattern=CPU_PATTERN)]
Memory = Annotated[str, Field(pattern=MEMORY_PATTERN)]
DnsLabel = Annotated[str, Field(pattern=DNS_LABEL_PATTERN)]
Percent = Annotated[int, Field(ge=1, le=100)]
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
REGION_PATTERN = r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"
KMS_KEY_ARN_PATTERN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$"
KmsKeyArn = Annotated[str, Field(pattern=KMS_KEY_ARN_PATTERN)]
Bucket = Annotated[str, Field(pattern=BUCKET_PATTERN)]
RoleArn = Annotated[str, Field(pattern=ROLE_ARN_PATTERN)]
Region = Annotated[str, Field(pattern=REGION_PATTERN)]
# AWS's documentation account: embedded defaults render, and are obviously not a real role.
PLACEHOLDER_ACCOUNT = "123456789012"
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE_PATTERN, max_length=63)]
# Fluent Bit's unit sizes (storage.total_limit_size, mem_buf_limit): 500M, 2G.
FLUENT_SIZE_PATTERN = r"^[0-9]+[KMG]$"
FluentSize = Annotated[str, Field(pattern=FLUENT_SIZE_PATTERN)]
# Go's time.ParseDuration (Flux's intervals and timeouts): no days, weeks or years.
GO_DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"
GoDuration = Annotated[str, Field(pattern=GO_DURATION_PATTERN)]
PATTERN_HELP = {
    DURATION_PATTERN: "must be a duration such as 30s, 5m, 12h, 15d, 1w or 1y",
    BYTE_SIZE_PATTERN: "must be a size such as 512MB, 90GB or 1TB",
    CPU_PATTERN: "must be a CPU quantity such as 250m or 2",
    MEMORY_PATTERN: "must be a memory quantity such as 512Mi or 4Gi",
    DNS_LABEL_PATTERN: "must be a DNS label (lower-case letters, digits, '-')",
    BUCKET_PATTERN: "must be an S3 bucket name (3-63 lower-case letters, digits, '.', '-')",
    ROLE_ARN_PATTERN: "must be an IAM role ARN such as arn:aws:iam::<account>:role/<name>",
    REGION_PATTERN: "must be an AWS region such as us-east-1",
    KMS_KEY_ARN_PATTERN: "must be a KMS key ARN such as arn:aws:kms:<region>:<account>:key/<key id>",
    LABEL_VALUE_PATTERN: "must be a label value (letters, digits, '-', '_', '.'; at most 63)",
    FLUENT_SIZE_PATTERN: "must be a Fluent Bit size such as 512M or 2G",
    GO_DURATION_PATTERN: "must be a Go duration such as 30s, 10m or 1h (no d, w or y)",
}


def cpu_millicores(quantity: str) -> int:
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return round(float(quantity) * 1000)


_DURATION_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def duration_seconds(duration: str) -> float:
    """Seconds in a Prometheus-style duration ('90d', '1h30m')."""
    return sum(float(n) * _DURATION_UNITS[unit] for n, unit in re.findall(r"([0-9]+)(ms|y|w|d|h|m|s)", duration))


def memory_bytes(quantity: str) -> int:
    """Bytes of a Kubernetes memory quantity ('512Mi') or a Prometheus byte size ('90GB')."""
    match = re.fullmatch(r"([0-9.]+)(?:([KMGTPE])(i?))?B?", quantity)
    if not match:
        raise ValueError(f"not a size: {quantity}")
    number, prefix, binary = float(match.group(1)), match.group(2), match.group(3)
    if not prefix:
        return int(number)
    return int(number * (1024 if binary else 1000) ** ("KMGTPE".index(prefix) + 1))


def role(name: str) -> str:
    return f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/openemr-monitoring-{name}"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(Model):
    cpu_request: Cpu
    memory_request: Memory
    cpu_limit: Cpu
    memory_limit: Memory

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "Resources":
        if cpu_millicores(self.cpu_request) > cpu_millicores(self.cpu_limit):
            raise ValueError(f"cpu_request={self.cpu_request} must be <= cpu_limit ({self.cpu_limit})")
        if memory_bytes(self.memory_request) > memory_bytes(self.memory_limit):
            raise ValueError(
                f"memory_request={self.memory_request} must be <= memory_limit ({self.memory_limit})")
        return self


def sized(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str):
    return Field(default_factory=lambda: Resources(
        cpu_request=cpu_request, memory_request=memory_request,
        cpu_limit=cpu_limit, memory_limit=memory_limit))


class ReplicaRange(Model):
    min_replicas: int = Field(1, ge=1, le=50)
    max_replicas: int = Field(3, ge=1, le=50)
    cpu_target: Percent | None = None
    memory_target: Percent | None = None

    @model_validator(mode="after")
    def _min_le_max(self) -> "ReplicaRange":
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas={self.max_replicas} must be >= min_replicas ({self.min_replicas})")
        return self


class SecretKeyRef(Model):
    name: DnsLabel
    key: str = Field(min_length=1)


# The availability zones the highly available overlays spread ring members over (one node in each at least).
ZONES = 3


def quorum(replication_factor: int) -> int:
    """dskit's write quorum: the copies of a series that must be written for a push to succeed."""
    return replication_factor // 2 + 1


class RingBackend(Model):
    """Loki, Tempo, Mimir: data is replicated over ring members; the factor must fit the members.

    The scalable topologies claim high availability: with their members spread one per node and evenly over
    ZONES zones (lib/workload.one_member_per_*), the loss of any one node or zone must leave every series a
    quorum of its copies. Zone-aware replication is not used (README, Scaling decisions), so the copies of a
    series may be any `replication_factor` of the members: a zone takes ceil(members / ZONES) of them."""
    topology: str
    replication_factor: int = Field(1, ge=1, le=5)
    # The topology that runs one process; every other one claims high availability.
    SINGLE_PROCESS: ClassVar[str]

    def ring_members(self) -> list[tuple[str, str, int]]:
        """(role, replicas setting, members holding data in the rendered topology)."""
        raise NotImplementedError

    def claims_ha(self) -> bool:
        return self.topology != self.SINGLE_PROCESS

    @model_validator(mode="after")
    def _replication_fits(self) -> "RingBackend":
        factor = self.replication_factor
        for role_name, setting, members in self.ring_members():
            if factor > members:
                raise ValueError(f"replication_factor={factor} must be <= the {members} {role_name} "
                                 f"replica(s) of topology {self.topology} ({setting})")
            lost = min(factor, -(-members // ZONES))  # a zone's share; a node holds one member
            if self.claims_ha() and factor - lost < quorum(factor):
                raise ValueError(
                    f"replication_factor={factor} with {members} {role_name} member(s) ({setting}) loses its write "
                    f"quorum ({quorum(factor)} of {factor} copies) when one node or zone of {ZONES} is down; "
                    f"topology {self.topology} claims high availability: use 3 on 3 members (or 5 on 5)")
        return self


Ratio = Annotated[float, Field(gt=0, le=1)]


def _positive(duration: str) -> str:
    if duration_seconds(duration) <= 0:
        raise PydanticCustomError("positive_duration", "must be greater than zero (a duration such as 30s, 5m, 12h or 15d)")
    return duration


# Where zero means "never" or "always" to the program (a retention that never deletes, a scrape loop
# with no pause), the configuration must name a real duration.
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
