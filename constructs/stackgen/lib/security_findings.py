"""The peer security suite's findings (checkov's Kubernetes checks) that a workload keeps, and why.

Everything fixable is fixed where it is rendered (tokens only where the API is called, high UIDs, no
wildcard RBAC). What remains is a decision, and the reason is written on the object as
`checkov.io/skip<N>: <CHECK_ID>=<reason>`, which checkov reads from the object's own metadata; the
README's security section lists them, generated from dist/.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackgen.lib.workload import PodSpec

SKIP_PREFIX = "checkov.io/skip"
PULL_POLICY = "CKV_K8S_15"
DIGEST = "CKV_K8S_43"
LIVENESS = "CKV_K8S_8"
TOKEN = "CKV_K8S_38"
HOST_PID = "CKV_K8S_17"
HOST_NETWORK = "CKV_K8S_19"
ROOT = "CKV_K8S_23"
HIGH_UID = "CKV_K8S_40"
ADDED_CAPABILITIES = "CKV_K8S_25"
NET_RAW = "CKV_K8S_28"
SECRET_ENV = "CKV_K8S_35"
# checkov's own titles, for the README's list.
TITLES = {PULL_POLICY: "Image Pull Policy should be Always", DIGEST: "Image should use digest",
          LIVENESS: "Liveness Probe Should be Configured",
          TOKEN: "Ensure that Service Account Tokens are only mounted where necessary",
          HOST_PID: "Containers should not share the host process ID namespace",
          HOST_NETWORK: "Containers should not share the host network namespace",
          ROOT: "Minimize the admission of root containers",
          HIGH_UID: "Containers should run as a high UID to avoid host conflict",
          ADDED_CAPABILITIES: "Minimize the admission of containers with added capability",
          NET_RAW: "Minimize the admission of containers with the NET_RAW capability",
          SECRET_ENV: "Prefer using secrets as files over secrets as environment variables"}

PULL_POLICY_REASON = ("images are pinned to exact release tags in versions.py; IfNotPresent restarts pods "
                      "without a registry round trip")
DIGEST_REASON = "pinned to an exact release tag in versions.py; set Image.digest there to pull by digest"


def justified(pod: PodSpec) -> dict[str, str]:
    """Check id -> reason, for the findings this pod keeps."""
    found = {PULL_POLICY: PULL_POLICY_REASON}
    if any("@sha256:" not in c.image for c in pod.containers):
        found[DIGEST] = DIGEST_REASON
    missing = [c.no_liveness for c in pod.containers if c.liveness is None]
    if missing:
        found[LIVENESS] = missing[0]
    if pod.api_access:
        found[TOKEN] = f"calls the Kubernetes API: {pod.api_access}"
    if pod.secret_env:
        found[SECRET_ENV] = pod.secret_env
    access = pod.host_access
    if access:
        reason = f"node agent in its own privileged namespace: {access.reason}"
        if access.host_pid:
            found[HOST_PID] = reason
        if access.host_network:
            found[HOST_NETWORK] = reason
        if access.run_as_root:
            found[ROOT] = found[HIGH_UID] = reason
        if access.capabilities:
            found[ADDED_CAPABILITIES] = reason
        if "NET_RAW" in access.capabilities:
            found[NET_RAW] = reason
    return found


def annotations(found: dict[str, str]) -> dict[str, str]:
    for check, reason in found.items():
        # checkov splits the annotation at '=': a second one would make it fail on the whole tree.
        if "=" in reason:
            raise ValueError(f"{check}: a checkov skip reason may not contain '=': {reason}")
    return {f"{SKIP_PREFIX}{n}": f"{check}={reason}" for n, (check, reason) in enumerate(sorted(found.items()), 1)}


def skips(obj: dict) -> dict[str, str]:
    """Check id -> reason of the skips an object carries."""
    found = {}
    for key, value in (obj["metadata"].get("annotations") or {}).items():
        if key.startswith(SKIP_PREFIX):
            check, _, reason = value.partition("=")
            found[check] = reason
    return found


def report(objects_by_overlay: dict[str, list[dict]]) -> str:
    """The README's list of justified findings: one row per check and reason, with the objects (in any
    overlay) that carry it."""
    rows: dict[tuple[str, str], set[str]] = {}
    for objects in objects_by_overlay.values():
        for obj in objects:
            where = f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
            for check, reason in skips(obj).items():
                rows.setdefault((check, reason), set()).add(where)
    lines = ["| check | reason | objects |", "|---|---|---|"]
    lines += [f"| {check} ({TITLES.get(check, 'see checkov')}) | {reason} | {', '.join(f'`{w}`' for w in sorted(objects))} |"
              for (check, reason), objects in sorted(rows.items())]
    return "\n".join(lines) + "\n"
