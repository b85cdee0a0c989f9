"""A server's certificate covers the name its clients verify.

For every TLS client (checks/tls.py: a URL, a scrape endpoint's serverName, a Fluent Bit output's
tls.vhost or host, a dskit block's tls_server_name), the name it verifies is matched against the
dnsNames of each cert-manager Certificate the pods behind it mount (a Secret of their volumes, or of the
Prometheus/Alertmanager CR's TLS settings). A client whose name is in no such Certificate fails its
handshake at run time; validate says so beforehand. Pods serving a certificate cert-manager does not
issue (ECK's) are not judged here.

Wildcards as Go's crypto/x509 (the stack's clients are Go, and Fluent Bit's OpenSSL host check agrees)
and RFC 6125 6.4.3 allow them: `*` only as the whole left-most label, matching exactly one label.
"""
from __future__ import annotations

from stackgen.checks.hosts import mounted_certificates, resolve_host
from stackgen.checks.tls import Client, tls_clients
from stackgen.manifests import Manifests, Pod, ref


def covers(dns_name: str, host: str) -> bool:
    """Whether a certificate's DNS name covers `host` (RFC 6125 6.4.3, one left-most wildcard label)."""
    pattern, name = dns_name.lower().rstrip(".").split("."), host.lower().rstrip(".").split(".")
    if pattern[0] == "*":
        return len(name) == len(pattern) and name[0] != "" and name[1:] == pattern[1:]
    return pattern == name


def _target_pods(m: Manifests, client: Client) -> tuple[Pod, ...]:
    if client.targets is not None:
        return client.targets
    target = resolve_host(m, client.host or client.server_name or "", client.namespace)
    return target.pods if target else ()


def certificate_problems(m: Manifests, client: Client) -> list[str]:
    name = client.verified_name
    if not client.tls or not name:
        return []
    problems = []
    for pod in _target_pods(m, client):
        certificates = mounted_certificates(m, pod)
        dns_names = [d for c in certificates for d in c["spec"].get("dnsNames") or []]
        if certificates and not any(covers(d, name) for d in dns_names):
            names = ", ".join(ref(c) for c in certificates)
            problems.append(f"{client.where}: {client.key}: verifies the name {name}, which {names} (served by "
                            f"{pod.owner}) does not cover; add {name} to its dnsNames or use one of {dns_names}")
    return sorted(set(problems))


def check_certificate_names(m: Manifests) -> list[str]:
    return [problem for client in tls_clients(m) for problem in certificate_problems(m, client)]
