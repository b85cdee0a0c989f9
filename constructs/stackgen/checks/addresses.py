"""Every in-cluster address a rendered object mentions must name a port of a rendered Service."""
from __future__ import annotations

import json
import re

import yaml

from stackgen.manifests import Manifests, ref

# An in-cluster address as configs write it: http://svc.ns.svc[.cluster.local]:port/..., memberlist's
# dns+svc.ns.svc...:port, gRPC's dns:///svc.ns.svc...:port. The port must be explicit.
ADDRESS = re.compile(r"(?:https?://|dns\+|dns:///)?([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?(?::(\d+))?")
# Names a certificate must carry, not addresses dialled: a TLS client's expected server name and a
# Certificate's DNS names (checked against what clients dial by validate's certificate-name check).
NAME_KEYS = ("serverName", "server_name", "tls_server_name", "dnsNames")


def _addresses_only(node):
    """`node` without the values of NAME_KEYS, also inside the configuration files a ConfigMap carries."""
    if isinstance(node, dict):
        return {k: _addresses_only(v) for k, v in node.items() if k not in NAME_KEYS}
    if isinstance(node, list):
        return [_addresses_only(v) for v in node]
    if isinstance(node, str) and any(f"{key}:" in node for key in NAME_KEYS):
        try:
            document = yaml.safe_load(node)
        except yaml.YAMLError:
            return node
        return _addresses_only(document) if isinstance(document, (dict, list)) else node
    return node


def resolve_url(m: Manifests, url: str) -> str | None:
    """None if the address names a port of a rendered Service; else what is wrong."""
    match = ADDRESS.search(url)
    if not match or not match.group(3):
        return f"{url}: not an in-cluster service address with an explicit port"
    name, namespace, port = match.group(1), match.group(2), int(match.group(3))
    service = m.service(name, namespace)
    if service is None:
        return f"{url}: no Service {namespace}/{name}"
    if port not in {p["port"] for p in service["spec"]["ports"]}:
        return f"{url}: Service {namespace}/{name} has no port {port}"
    return None


def _host_port_pairs(node) -> list[str]:
    """`host: <name>` with `port: <n>` beside it (Fluent Bit outputs and the like), as host:port."""
    if isinstance(node, list):
        return [pair for item in node for pair in _host_port_pairs(item)]
    if not isinstance(node, dict):
        return []
    own = [f"{node['host']}:{node['port']}"] if isinstance(node.get("host"), str) and "port" in node else []
    return own + [pair for value in node.values() for pair in _host_port_pairs(value)]


def _config_file_addresses(obj: dict) -> list[str]:
    if obj["kind"] != "ConfigMap":
        return []
    pairs = []
    for content in (obj.get("data") or {}).values():
        try:
            pairs += _host_port_pairs(yaml.safe_load(content))
        except yaml.YAMLError:
            continue
    return pairs


def in_cluster_addresses(m: Manifests) -> list[tuple[str, str]]:
    """(object, address) for every in-cluster address any rendered object mentions (configs, CRs, env).
    A bare host name counts with the port configured beside it."""
    found = []
    for obj in m.objects:
        paired = _config_file_addresses(obj)
        hosts = {pair.rsplit(":", 1)[0] for pair in paired}
        found += [(ref(obj), match.group(0)) for match in ADDRESS.finditer(json.dumps(_addresses_only(obj)))
                  if match.group(3) or match.group(0) not in hosts]
        found += [(ref(obj), pair) for pair in paired if ADDRESS.fullmatch(pair)]
    return found


def grafana_datasource_urls(m: Manifests) -> list[str]:
    urls = []
    for config_map in m.of_kind("ConfigMap"):
        for content in (config_map.get("data") or {}).values():
            document = yaml.safe_load(content) if "datasources:" in content else None
            urls += [source["url"] for source in (document or {}).get("datasources", []) if "url" in source]
    return urls


def check_urls(m: Manifests) -> list[str]:
    return [f"{where}: {problem}" for where, address in in_cluster_addresses(m)
            if (problem := resolve_url(m, address))]
