"""The cluster as doctor reads it: API discovery and a handful of reads, through the Kubernetes Python
client with the standard kubeconfig loading. Every read answers a plain dict in the API's JSON form (the
client's typed models parse the answer first) or None for 404; any other failure is a DoctorError."""
from __future__ import annotations

from collections.abc import Callable

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

TIMEOUT = (5, 30)  # seconds: connect, read


class DoctorError(Exception):
    """No usable kubeconfig, an unreachable API server or an unexpected answer (exit 2)."""


def group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class Cluster:
    def __init__(self, api: client.ApiClient):
        self.api = api
        self.host = api.configuration.host
        self._groups: dict[str, set[str]] | None = None  # group -> served versions ("" is the core group)
        self._resources: dict[str, dict[str, str]] = {}  # apiVersion -> {kind: plural}

    @classmethod
    def connect(cls, kubeconfig: str | None, context: str | None) -> Cluster:
        configuration = client.Configuration()
        try:
            config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
        except (ConfigException, OSError) as error:
            raise DoctorError(f"kubeconfig: {error}") from None
        configuration.retries = 1  # an unreachable API server is reported at once, not after urllib3's 3 retries
        return cls(client.ApiClient(configuration))

    def _read(self, what: str, call: Callable, *args, absent: tuple[int, ...] = (404,)) -> dict | None:
        try:
            answer = call(*args, _request_timeout=TIMEOUT)
        except ApiException as error:
            if error.status in absent:
                return None
            raise DoctorError(f"the API server at {self.host} answered {error.status} {error.reason} to {what}") from None
        except urllib3.exceptions.HTTPError as error:  # refused, timed out, TLS failed (urllib3's MaxRetryError)
            reason = " ".join(str(getattr(error, "reason", None) or error).split())
            raise DoctorError(f"cannot reach the API server at {self.host} ({what}): {reason}") from None
        return answer if isinstance(answer, dict) else self.api.sanitize_for_serialization(answer)

    # Discovery: /api, /apis and one resource list per group-version asked about.
    def _served_groups(self) -> dict[str, set[str]]:
        if self._groups is None:
            core = self._read("GET /api", client.CoreApi(self.api).get_api_versions) or {}
            groups = self._read("GET /apis", client.ApisApi(self.api).get_api_versions) or {}
            self._groups = {"": set(core.get("versions") or [])}
            for group in groups.get("groups") or []:
                self._groups[group["name"]] = {v["version"] for v in group.get("versions") or []}
        return self._groups

    def kinds(self, api_version: str) -> dict[str, str]:
        """{kind: plural} the cluster serves at this apiVersion; empty when it serves none."""
        if api_version not in self._resources:
            group, version = group_version(api_version)
            listing = None
            if version in self._served_groups().get(group, set()):
                listing = self._resource_list(group, version)
            self._resources[api_version] = {r["kind"]: r["name"] for r in (listing or {}).get("resources") or []
                                            if "/" not in r["name"]}  # not subresources (deployments/scale)
        return self._resources[api_version]

    def _resource_list(self, group: str, version: str) -> dict | None:
        if not group:
            return self._read(f"GET /api/{version}", client.CoreV1Api(self.api).get_api_resources)
        # An aggregated API (metrics.k8s.io from metrics-server) stays listed in /apis while its backend is
        # down; its resource list then answers 503 Service Unavailable: not served, not a doctor error.
        return self._read(f"GET /apis/{group}/{version}", client.CustomObjectsApi(self.api).get_api_resources,
                          group, version, absent=(404, 503))

    def serves(self, api_version: str, kind: str) -> bool:
        return kind in self.kinds(api_version)

    # Reads of single objects.
    def custom_object(self, api_version: str, kind: str, namespace: str, name: str) -> dict | None:
        group, version = group_version(api_version)
        plural = self.kinds(api_version)[kind]
        return self._read(f"GET {kind} {namespace}/{name}", client.CustomObjectsApi(self.api).get_namespaced_custom_object,
                          group, version, namespace, plural, name)

    def deployment(self, namespace: str, name: str) -> dict | None:
        return self._read(f"GET Deployment {namespace}/{name}", client.AppsV1Api(self.api).read_namespaced_deployment,
                          name, namespace)

    def namespace(self, name: str) -> dict | None:
        return self._read(f"GET Namespace {name}", client.CoreV1Api(self.api).read_namespace, name)

    def csi_driver(self, name: str) -> dict | None:
        return self._read(f"GET CSIDriver {name}", client.StorageV1Api(self.api).read_csi_driver, name)

    def config_map(self, namespace: str, name: str) -> dict | None:
        return self._read(f"GET ConfigMap {namespace}/{name}", client.CoreV1Api(self.api).read_namespaced_config_map,
                          name, namespace)

    def api_service(self, name: str) -> dict | None:
        return self._read(f"GET APIService {name}", client.ApiregistrationV1Api(self.api).read_api_service, name)


def condition(obj: dict | None, kind: str) -> tuple[str, str]:
    """(status, message) of the condition of this type in status.conditions; ("", "") when absent."""
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return str(c.get("status", "")), str(c.get("message") or c.get("reason") or "")
    return "", ""
