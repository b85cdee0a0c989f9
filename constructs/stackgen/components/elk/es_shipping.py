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

from stackgen.components import fluent_bit_tls
from stackgen.components.elk import elasticsearch, elasticsearch_setup
from stackgen.lib import tls
from stackgen.lib.netpol import Rule, rule
from stackgen.lib.workload import Port, service

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
            parse("apache_message", PHP_ERROR), *sidecar_record_filters(stack)]


def outputs(stack: StackConfig, match: str = "kube.*") -> list[dict]:
    if not elasticsearch.enabled(stack):
        return []
    return [{
        "name": "es", **({"match_regex": r"^(kube|openemr)\."} if forwarding(stack) else {"match": match}),
        "host": elasticsearch.http_host(stack), "port": elasticsearch.HTTPS.number,
        "index": elasticsearch_setup.DATA_STREAM, "write_operation": "create", "suppress_type_name": "on",
        "generate_id": "on",
        # Kubernetes label keys hold dots (app.kubernetes.io/name), which would clash as objects.
        "replace_dots": "on", "trace_error": "on",
        "http_user": elasticsearch_setup.SHIPPER_USER, "http_passwd": f"${{{PASSWORD_VARIABLE}}}",
        **fluent_bit_tls.client(f"{CREDENTIALS_DIR}/ca.crt"),  # ECK's CA, not the stack's
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


def secret_env(stack: StackConfig) -> str:
    if not elasticsearch.enabled(stack):
        return ""
    return ("the es output reads its password only from the configuration, where ${VAR} is the one way to "
            "keep it out of the ConfigMap")


def env(stack: StackConfig) -> list[k.EnvVar]:
    return [k.EnvVar(name=PASSWORD_VARIABLE, value_from=k.EnvVarSource(secret_key_ref=k.SecretKeySelector(
        name=elasticsearch_setup.SHIPPER_SECRET, key="password")))] if elasticsearch.enabled(stack) else []


def egress(ctx: Context) -> list[Rule]:
    return [rule([elasticsearch.pods(ctx)], [elasticsearch.HTTPS])] if elasticsearch.enabled(ctx.config) else []


# OpenEMR's image writes Apache's and PHP's logs to files, not to its output: those lines reach
# Elasticsearch from the sidecar (openemr.py), which forwards them to the node agents (Fluent Bit's
# forward protocol, acknowledged), where the same parsers run and the es output sends them on. So no
# Elasticsearch credential or CA has to exist in the application's namespace.
FORWARD = Port("forward", 24224)
FORWARD_SERVICE = "fluent-bit-forward"
FROM_SIDECAR = "openemr.*"
# The sidecar's tail tags (openemr.<file stem>) and the parsers their lines take, in order.
SIDECAR_PARSERS = {"openemr.access": [("log", APACHE_ACCESS)],
                   "openemr.error": [("log", APACHE_ERROR), ("apache_message", PHP_ERROR)],
                   "openemr.php_errors": [("log", PHP_ERROR)]}


def forwarding(stack: StackConfig) -> bool:
    return elasticsearch.enabled(stack) and stack.fluent_bit.sidecar.enabled


def inputs(stack: StackConfig) -> list[dict]:
    """The node agents' forward listener over TLS (the agent's own certificate), buffered on disk like the tail
    input."""
    return [{"name": "forward", "tag": FROM_SIDECAR, "listen": "0.0.0.0", "port": FORWARD.number,
             "storage.type": "filesystem", **fluent_bit_tls.server()}] if forwarding(stack) else []


def forward_names(stack: StackConfig) -> list[str]:
    """The names the sidecar may dial the forward listener by (its certificate carries them)."""
    return tls.service_names(FORWARD_SERVICE, stack.agents_namespace) if forwarding(stack) else []


def sidecar_record_filters(stack: StackConfig) -> list[dict]:
    """On the node: the parsers for the forwarded file lines, by the file they came from."""
    if not forwarding(stack):
        return []
    return [{"name": "parser", "match": tag, "key_name": key, "parser": parser["name"], "reserve_data": "on",
             "preserve_key": "on"} for tag, steps in SIDECAR_PARSERS.items() for key, parser in steps]


def ports(stack: StackConfig) -> list[Port]:
    return [FORWARD] if forwarding(stack) else []


def forward_service(scope, identity, stack: StackConfig) -> None:
    if forwarding(stack):
        service(scope, identity, [FORWARD], name=FORWARD_SERVICE)


def ingress(ctx: Context) -> list[Rule]:
    return [rule([ctx.app_pods()], [FORWARD])] if forwarding(ctx.config) else []


def sidecar_filters(stack: StackConfig) -> list[dict]:
    """In the sidecar: the fields the searches filter on (a container's lines get them from its file name)."""
    if not forwarding(stack):
        return []
    fields = {"k8s_namespace": stack.app_namespace, "k8s_pod": "${POD_NAME}", "k8s_container": stack.openemr.container}
    return [{"name": "modify", "match": FROM_SIDECAR, "add": f"{key} {value}"} for key, value in fields.items()]


def sidecar_outputs(stack: StackConfig, buffer_limit: str) -> list[dict]:
    if not forwarding(stack):
        return []
    return [{"name": "forward", "match": FROM_SIDECAR, "require_ack_response": True, "retry_limit": "no_limits",
             "host": f"{FORWARD_SERVICE}.{stack.agents_namespace}.svc.{tls.CLUSTER_DOMAIN}", "port": FORWARD.number,
             "storage.total_limit_size": buffer_limit, **fluent_bit_tls.client()}]


def sidecar_egress(ctx: Context) -> list[Rule]:
    return [rule([ctx.pods_of("fluent-bit")], [FORWARD])] if forwarding(ctx.config) else []
