"""Every Secret a pod mounts has exactly one producer, and holds every key the pod reads from it.

Producers: a rendered Secret, or an ExternalSecret whose target is that Secret. An overlay that renders
ExternalSecrets (`secrets.provider: aws`) must produce every mounted Secret that way; one that renders
none (`secrets.provider: kubernetes`) leaves them to `kubectl create secret` (README: Receiver Secrets).
Keys read: the files named by `GF_*__FILE` variables under a Secret volume, and Alertmanager's `*_file`
settings under the directories the operator mounts the CR's `spec.secrets` at.
"""
from __future__ import annotations

import re
from typing import Callable

from stackgen.components.elk import eck_model
from stackgen.lib import tls
from stackgen.manifests import Manifests, ref

ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets"
Produced = dict[tuple[str, str], list[tuple[str, set[str]]]]
# Other producers of Secrets, e.g. an operator that writes Secrets for its custom resources (ECK's
# `<name>-es-elastic-user`) or a Job that creates one: each returns (namespace, Secret) -> [(producer, keys)].
OTHER_PRODUCERS: list[Callable[[Manifests], Produced]] = [lambda m: eck_model.runtime_producers(m.objects),
                                                          lambda m: tls.secret_producers(m.of_kind("Certificate"))]


def _produced_keys(manifests: Manifests) -> Produced:
    """(namespace, Secret) -> [(producer, keys it writes)]."""
    producers: Produced = {}
    for secret in manifests.of_kind("Secret"):
        keys = set(secret.get("data") or {}) | set(secret.get("stringData") or {})
        producers.setdefault((secret["metadata"]["namespace"], secret["metadata"]["name"]), []).append((ref(secret), keys))
    for external in manifests.of_kind("ExternalSecret"):
        spec = external["spec"]
        target = (spec.get("target") or {}).get("name") or external["metadata"]["name"]
        keys = {item["secretKey"] for item in spec.get("data") or []}
        producers.setdefault((external["metadata"]["namespace"], target), []).append((ref(external), keys))
    for other in OTHER_PRODUCERS:
        for secret, found in other(manifests).items():
            producers.setdefault(secret, []).extend(found)
    return producers


def _pod_reads(obj: dict) -> tuple[set[str], set[tuple[str, str]]]:
    """The Secrets a workload mounts, and the (Secret, key) files it reads through `__FILE` variables."""
    spec = obj["spec"]["template"]["spec"]
    volumes = {v["name"]: v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    mounted, files = set(volumes.values()), set()
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        dirs = {m["mountPath"].rstrip("/"): volumes[m["name"]] for m in container.get("volumeMounts", [])
                if m["name"] in volumes}
        for env in container.get("env", []):
            ref_ = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref_:
                mounted.add(ref_["name"])
                files.add((ref_["name"], ref_["key"]))
            if env["name"].endswith("__FILE") and "value" in env:
                directory, _, key = env["value"].rpartition("/")
                if directory in dirs:
                    files.add((dirs[directory], key))
    return mounted, files


def _alertmanager_reads(manifests: Manifests, cr: dict) -> tuple[set[str], set[tuple[str, str]]]:
    mounted = set(cr["spec"].get("secrets") or [])
    config = manifests.find("Secret", cr["spec"].get("configSecret", ""), cr["metadata"]["namespace"])
    text = ((config or {}).get("stringData") or {}).get("alertmanager.yaml", "")
    pattern = re.escape(ALERTMANAGER_SECRETS_DIR) + r"/([^/\s]+)/([^/\s]+)"
    return mounted, set(re.findall(pattern, text))


def check_secret_producers(manifests: Manifests) -> list[str]:
    producers = _produced_keys(manifests)
    external = bool(manifests.of_kind("ExternalSecret"))
    problems = []
    readers = [(ref(o), o["metadata"]["namespace"], *_pod_reads(o))
               for o in manifests.of_kind("Deployment", "StatefulSet", "DaemonSet")]
    readers += [(ref(cr), cr["metadata"]["namespace"], *_alertmanager_reads(manifests, cr))
                for cr in manifests.of_kind("Alertmanager")]
    for reader, namespace, mounted, files in readers:
        for secret in sorted(mounted):
            found = producers.get((namespace, secret), [])
            if len(found) > 1:
                problems.append(f"{reader}: Secret {secret} has {len(found)} producers "
                                f"({', '.join(p for p, _ in found)}); exactly one may write it")
            elif not found and external:
                problems.append(f"{reader}: mounts Secret {secret}, which no ExternalSecret produces")
        for secret, key in sorted(files):
            found = producers.get((namespace, secret), [])
            if len(found) == 1 and key not in found[0][1]:
                problems.append(f"{reader}: reads key {key} of Secret {secret}, which {found[0][0]} does not write "
                                f"(it writes: {', '.join(sorted(found[0][1]))})")
    stores = {s["metadata"]["name"] for s in manifests.of_kind("ClusterSecretStore")}
    for obj in manifests.of_kind("ExternalSecret"):
        store = obj["spec"]["secretStoreRef"]
        if stores and store.get("kind") == "ClusterSecretStore" and store["name"] not in stores:
            problems.append(f"{ref(obj)}: reads from ClusterSecretStore {store['name']}, which is not rendered "
                            f"(rendered: {', '.join(sorted(stores))})")
    return problems
