"""Fluent Bit's part of the Elasticsearch backend: the clinical document's Logstash stages as parser
filters, and a second output (`es`) to Elasticsearch. fluent_bit.py adds what these return.

Parsing (OpenEMR's containers only): Apache access lines (combined format) into client_ip, method,
path, status, bytes, referer, user_agent; Apache error lines into apache_module/level/pid/client/message;
PHP errors (on their own or inside an Apache error line) into php_level, php_message, php_file,
php_line. The raw line stays in `log`. Field names are the index template's (elasticsearch_setup.MAPPING).
No Logstash: each stage is one regex, which a parser filter does in place.

Output: HTTPS to the `es-http` Service, the CA and the `fluent-bit` user's password from the Secret the
setup Job writes into the agents' namespace (the user may only append to the data stream), records
buffered on the node's disk and retried without limit like the Loki output, ids generated so that a
retried batch is not indexed twice.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import cdk8s_plus_37.k8s as k

from stackgen.components import elasticsearch, elasticsearch_setup
from stackgen.lib.netpol import Rule, rule

if TYPE_CHECKING:
    from stackgen.config import StackConfig
    from stackgen.context import Context

CREDENTIALS_DIR = "/fluent-bit/etc/elasticsearch"
PASSWORD_VARIABLE = "ELASTICSEARCH_PASSWORD"

APACHE_ACCESS = {
    "name": "apache_access", "format": "regex",
    "regex": r'^(?<client_ip>[0-9a-fA-F.:]+) \S+ (?<remote_user>\S+) \[[^\]]+\] "(?<method>[A-Z]+) (?<path>\S+)'
             r' (?<http_version>HTTP/[0-9.]+)" (?<status>[1-5][0-9]{2}) (?:(?<bytes>[0-9]+)|-)'
             r'(?: "(?<referer>[^"]*)" "(?<user_agent>[^"]*)")?',
    "types": "status:integer bytes:integer",
}
APACHE_ERROR = {
    "name": "apache_error", "format": "regex",
    "regex": r"^\[[A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]{2} [0-9:.]+ [0-9]{4}\] \[(?<apache_module>[^:\]]+):"
             r"(?<apache_level>[^\]]+)\] \[pid (?<apache_pid>[0-9]+)[^\]]*\](?: \[client (?<apache_client>[^\]]+)\])?"
             r" (?<apache_message>.*)",
    "types": "apache_pid:integer",
}
PHP_ERROR = {
    "name": "php_error", "format": "regex",
    "regex": r"^(?:\[[^\]]+\] )?PHP (?<php_level>[A-Z][A-Za-z ]+?): +(?<php_message>.*?)"
             r"(?: in (?<php_file>/\S+?)(?::| on line )(?<php_line>[0-9]+))?$",
    "types": "php_line:integer",
}
PARSERS = [APACHE_ACCESS, APACHE_ERROR, PHP_ERROR]


def parsers(stack: StackConfig) -> list[dict]:
    return PARSERS if elasticsearch.enabled(stack) else []


def filters(stack: StackConfig) -> list[dict]:
    """After the kubernetes filter; a line no parser matches passes unchanged."""
    if not elasticsearch.enabled(stack):
        return []
    app = f"kube.var.log.containers.*_{stack.app_namespace}_*"

    def parse(key: str, parser: dict) -> dict:
        return {"name": "parser", "match": app, "key_name": key, "parser": parser["name"],
                "reserve_data": "on", "preserve_key": "on"}
    return [parse("log", APACHE_ACCESS), parse("log", APACHE_ERROR), parse("log", PHP_ERROR),
            parse("apache_message", PHP_ERROR)]


def outputs(stack: StackConfig, match: str = "kube.*") -> list[dict]:
    if not elasticsearch.enabled(stack):
        return []
    return [{
        "name": "es", "match": match, "host": elasticsearch.http_host(stack), "port": elasticsearch.HTTPS.number,
        "index": elasticsearch_setup.DATA_STREAM, "write_operation": "create", "suppress_type_name": "on",
        "generate_id": "on",
        # Kubernetes label keys hold dots (app.kubernetes.io/name), which would clash as objects.
        "replace_dots": "on", "trace_error": "on",
        "http_user": elasticsearch_setup.SHIPPER_USER, "http_passwd": f"${{{PASSWORD_VARIABLE}}}",
        "tls": "on", "tls.verify": "on", "tls.verify_hostname": "on", "tls.ca_file": f"{CREDENTIALS_DIR}/ca.crt",
        "retry_limit": "no_limits", "storage.total_limit_size": stack.fluent_bit.buffer_limit,
    }]


def volumes(stack: StackConfig) -> list[k.Volume]:
    if not elasticsearch.enabled(stack):
        return []
    return [k.Volume(name="elasticsearch", secret=k.SecretVolumeSource(
        secret_name=elasticsearch_setup.SHIPPER_SECRET, items=[k.KeyToPath(key="ca.crt", path="ca.crt")]))]


def mounts(stack: StackConfig) -> list[k.VolumeMount]:
    return [k.VolumeMount(name="elasticsearch", mount_path=CREDENTIALS_DIR, read_only=True)] \
        if elasticsearch.enabled(stack) else []


def env(stack: StackConfig) -> list[k.EnvVar]:
    return [k.EnvVar(name=PASSWORD_VARIABLE, value_from=k.EnvVarSource(secret_key_ref=k.SecretKeySelector(
        name=elasticsearch_setup.SHIPPER_SECRET, key="password")))] if elasticsearch.enabled(stack) else []


def egress(ctx: Context) -> list[Rule]:
    return [rule([elasticsearch.pods(ctx)], [elasticsearch.HTTPS])] if elasticsearch.enabled(ctx.config) else []
