"""Documentation placeholders left in an overlay's resolved configuration.

The embedded defaults render without AWS and without a mail server (hosts under example.org, roles in
AWS's documentation account), so `validate` accepts them; `aws preflight` and `doctor` fail while the
tree Flux would apply still uses one, each row naming the key to set. Found generically: every string of
the resolved configuration is read, whatever component it belongs to.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel

from stackgen.aws.conventions import WANTED
from stackgen.aws.report import Check
from stackgen.settings import PLACEHOLDER_ACCOUNT

# Names reserved for documentation and testing, never delegated in the public DNS: the second-level
# example.com/.net/.org (RFC 2606 section 3, RFC 6761 section 6.5) and the top-level .example (RFC 2606
# section 2, RFC 6761 6.5), .test (6.2) and .invalid (6.4). Nothing else: example.org.uk or
# myexample.org are ordinary names someone may own.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TOP_LEVEL = ("example", "test", "invalid")
# TEST-NET-1, -2 and -3 (RFC 5737 section 3): addresses for documentation, not routed.
DOCUMENTATION_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
# The account AWS's documentation writes in its example ARNs (General Reference, "Amazon Resource Names":
# "For example, 123456789012"; IAM User Guide, "IAM identifiers").
ACCOUNT = re.compile(rf"(?<![0-9]){PLACEHOLDER_ACCOUNT}(?![0-9])")
# A host name or dotted address where one begins: at the start of a word, after a URL's `//` or a mail
# address's `@`; not inside a path (`/runbooks.md`), after a dot, or as a mail address's local part
# (`john.test@`).
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
HOST = re.compile(rf"(?:(?<=//)|(?<=@)|(?<![\w.@/:-]))((?:{LABEL}\.)+{LABEL})\.?(?![\w@-])")


def reserved(text: str) -> str | None:
    """Why a string is a documentation placeholder (the first reason found), or None."""
    if ACCOUNT.search(text):
        return f"{PLACEHOLDER_ACCOUNT} is AWS's documentation account"
    for host in HOST.findall(text):
        why = _reserved_host(host.lower())
        if why:
            return why
    return None


def _reserved_host(host: str) -> str | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        domain = ".".join(labels[-2:])
        if domain in RESERVED_DOMAINS:
            subject = domain if host == domain else f"{host}: {domain}"
            return f"{subject} is reserved for documentation (RFC 2606, RFC 6761)"
        if labels[-1] in RESERVED_TOP_LEVEL:
            return f"{host}: .{labels[-1]} is a top-level domain reserved for testing and documentation (RFC 2606, RFC 6761)"
        return None
    if any(address in network for network in DOCUMENTATION_NETWORKS):
        return f"{host} is a documentation address (RFC 5737)"
    return None


@dataclass(frozen=True)
class Placeholder:
    key: str  # the overlay key, dotted: alerting.email.to, network.kube_api_cidrs[0]
    value: str
    why: str


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            yield from _strings(getattr(value, name), _join(path, field.alias or name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, _join(path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def placeholders(config: BaseModel) -> list[Placeholder]:
    """Every string of the configuration that is a documentation placeholder, with its key."""
    return [Placeholder(key, value, why) for key, value in _strings(config, "") if (why := reserved(value))]


def _rendered_text(objects: Iterable[dict]) -> str:
    def walk(node: object) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for key, item in node.items():
                yield str(key)
                yield from walk(item)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
    return "\n".join(s for obj in objects for s in walk(obj))


DISCOVERED = {wanted.key for wanted in WANTED}


def placeholder_checks(config: BaseModel, overlay: str, rendered: Iterable[dict], where: str) -> list[Check]:
    """One row per placeholder: failing where the rendered objects (`where`, e.g. dist/clinic) use its
    value, passing where nothing rendered does (a disabled receiver, a log backend not chosen)."""
    found = placeholders(config)
    if not found:
        return [Check("placeholder", f"overlay {overlay}", "pass", "no documentation placeholder in the configuration")]
    text = _rendered_text(rendered)
    checks = []
    for placeholder in found:
        detail = f"{placeholder.value!r}: {placeholder.why}"
        if placeholder.value not in text:
            checks.append(Check("placeholder", placeholder.key, "pass", f"{detail}; not used in {where}"))
            continue
        fix = f"set {placeholder.key} in overlays/{overlay}.yaml, then python main.py --overlay {overlay}"
        if placeholder.key in DISCOVERED:
            fix = f"python main.py aws discover --overlay {overlay} (or {fix})"
        checks.append(Check("placeholder", placeholder.key, "fail", f"{detail}; used in {where}", fix))
    return checks
