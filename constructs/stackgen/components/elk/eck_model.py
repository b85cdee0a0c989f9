"""What ECK 3.5 creates from an Elasticsearch or Kibana resource, as plain data (no cdk8s), for the
checks and the NetworkPolicy evaluator: the pods (the podTemplate's labels plus ECK's own), the Services
and the Secrets it generates. Names and ports as the operator sets them (pkg/controller/elasticsearch/
label, services, user; pkg/controller/kibana): `<name>-es-http` (9200, HTTPS), `<name>-es-transport`
(9300, headless), `<name>-es-elastic-user` (key `elastic`), `<name>-es-http-certs-public` (key `ca.crt`),
`<name>-kb-http` (5601) and `<name>-kb-http-certs-public`.
"""
from __future__ import annotations

ES_API_VERSION = "elasticsearch.k8s.elastic.co/v1"
KIBANA_API_VERSION = "kibana.k8s.elastic.co/v1"
HTTP_PORT, TRANSPORT_PORT, KIBANA_PORT = 9200, 9300, 5601
ES_CONTAINER, KIBANA_CONTAINER = "elasticsearch", "kibana"


def http_service(name: str) -> str:
    return f"{name}-es-http"


def elastic_user_secret(name: str) -> str:
    return f"{name}-es-elastic-user"


def ca_secret(name: str) -> str:
    return f"{name}-es-http-certs-public"


def kibana_service(name: str) -> str:
    return f"{name}-kb-http"


def kibana_ca_secret(name: str) -> str:
    return f"{name}-kb-http-certs-public"


def _template_labels(template: dict) -> dict[str, str]:
    return dict((template.get("metadata") or {}).get("labels") or {})


def _containers(template: dict, name: str) -> list[dict]:
    """The podTemplate's container of that name, as ECK merges it into the one it runs."""
    found = [c for c in (template.get("spec") or {}).get("containers", []) if c.get("name") == name]
    return found or [{"name": name}]


def pods(cr: dict) -> list[tuple[str, dict[str, str], dict[str, tuple[int, str]], dict]]:
    """(nodeSet or role, labels, ports, pod spec) for each kind of pod ECK runs for the resource."""
    name = cr["metadata"]["name"]
    if cr["kind"] == "Elasticsearch":
        return [(node_set["name"], {
            **_template_labels(node_set.get("podTemplate") or {}),
            "common.k8s.elastic.co/type": "elasticsearch", "elasticsearch.k8s.elastic.co/cluster-name": name,
            "elasticsearch.k8s.elastic.co/statefulset-name": f"{name}-es-{node_set['name']}"},
            {"https": (HTTP_PORT, "TCP"), "transport": (TRANSPORT_PORT, "TCP")},
            {**((node_set.get("podTemplate") or {}).get("spec") or {}),
             "containers": _containers(node_set.get("podTemplate") or {}, ES_CONTAINER)})
            for node_set in cr["spec"]["nodeSets"]]
    template = cr["spec"].get("podTemplate") or {}
    return [("kibana", {**_template_labels(template), "common.k8s.elastic.co/type": "kibana",
                        "kibana.k8s.elastic.co/name": name}, {"https": (KIBANA_PORT, "TCP")},
             {**(template.get("spec") or {}), "containers": _containers(template, KIBANA_CONTAINER)})]


def services(cr: dict) -> list[dict]:
    name, namespace = cr["metadata"]["name"], cr["metadata"]["namespace"]

    def service(service_name: str, selector: dict, port_name: str, port: int) -> dict:
        return {"kind": "Service", "metadata": {"name": service_name, "namespace": namespace},
                "spec": {"selector": selector, "ports": [{"name": port_name, "port": port, "targetPort": port}]}}
    if cr["kind"] == "Elasticsearch":
        selector = {"common.k8s.elastic.co/type": "elasticsearch", "elasticsearch.k8s.elastic.co/cluster-name": name}
        return [service(http_service(name), selector, "https", HTTP_PORT),
                service(f"{name}-es-transport", selector, "tls-transport", TRANSPORT_PORT)]
    return [service(kibana_service(name), {"common.k8s.elastic.co/type": "kibana", "kibana.k8s.elastic.co/name": name},
                    "https", KIBANA_PORT)]


def generated_secrets(cr: dict) -> dict[str, set[str]]:
    """Secrets ECK writes for the resource (in its namespace), with their keys."""
    name = cr["metadata"]["name"]
    if cr["kind"] == "Elasticsearch":
        return {elastic_user_secret(name): {"elastic"}, ca_secret(name): {"ca.crt", "tls.crt"}}
    return {kibana_ca_secret(name): {"ca.crt", "tls.crt"}}


# A Job that writes Secrets at run time names them here: "<namespace>/<name>=<key>,<key>;..." (the
# checks count it as their producer; nothing of their values is rendered).
WRITES_SECRETS_ANNOTATION = "monitoring.openemr.io/writes-secrets"


def written_secrets(job: dict) -> dict[tuple[str, str], set[str]]:
    value = ((job.get("metadata") or {}).get("annotations") or {}).get(WRITES_SECRETS_ANNOTATION, "")
    written = {}
    for entry in filter(None, value.split(";")):
        target, _, keys = entry.partition("=")
        namespace, _, name = target.partition("/")
        written[(namespace, name)] = set(keys.split(","))
    return written


def runtime_producers(objects: list[dict]) -> dict[tuple[str, str], list[tuple[str, set[str]]]]:
    """(namespace, Secret) -> [(producer, keys)] for Secrets that ECK or a setup Job create at run time."""
    producers: dict[tuple[str, str], list[tuple[str, set[str]]]] = {}
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
        if obj["kind"] in ("Elasticsearch", "Kibana"):
            for secret, keys in generated_secrets(obj).items():
                producers.setdefault((obj["metadata"]["namespace"], secret), []).append((where, keys))
        elif obj["kind"] == "Job":
            for target, keys in written_secrets(obj).items():
                producers.setdefault(target, []).append((where, keys))
    return producers
