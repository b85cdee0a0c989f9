"""Alertmanager, run by the operator from an Alertmanager CR.

Replicas gossip on 9094 over mutual TLS (spec.clusterTLS: Alertmanager's TLS transport carries all gossip
over TCP, so the 9094/UDP the operator declares is then unused) and share silences and notification
state, persisted on a PVC.
An HPA scales it through the CR's scale subresource (.spec.replicas), never the operator's
StatefulSet (the operator would revert it).

Routing by severity: critical -> Slack #alerts-critical and PagerDuty (grouped for 1s only), warning ->
email and Slack #alerts-warnings, info -> nobody. The configuration and its notification templates are
rendered into the Secret the CR names; they hold no credentials: each receiver reads its credential
from a file of a Secret the CR mounts (`*_file`), and that Secret is created outside git.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import cdk8s_plus_37.k8s as k
import yaml
from pydantic import Field, model_validator

from constructs import Construct
from imports.com.coreos import monitoring as m
from stackgen import versions
from stackgen.components.rules import AlertOverride, AlertThresholds
from stackgen.components.rules.slo import SloConfig
from stackgen.context import Context
from stackgen.lib import operated, tls
from stackgen.lib.monitors import Endpoint, ScrapeTls, service_monitor
from stackgen.lib.netpol import EgressMode, Policy, Rule, component_policy, external, rule
from stackgen.lib.scaling import ScaleTarget, replicas_and_scaling
from stackgen.lib.workload import Port, service, service_account
from stackgen.settings import Memory, Model, PositiveDuration, Resources, SecretKeyRef, sized


class AlertmanagerConfig(Model):
    storage_size: Memory = "5Gi"
    retention: PositiveDuration = "120h"
    resources: Resources = sized("25m", "64Mi", "100m", "128Mi")


class Channel(Model):
    """A receiver channel. Turned on, it needs the Secret key holding its credential; the value itself
    never appears in git or dist/ (Alertmanager reads it from the mounted file)."""
    enabled: bool = True
    secret: SecretKeyRef | None = None

    @model_validator(mode="after")
    def _secret_when_enabled(self) -> "Channel":
        if self.enabled and self.secret is None:
            raise ValueError("secret=None must name the Secret (name, key) holding the credential while "
                             "enabled is true; or set enabled: false")
        return self


HOST_NAME = r"^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$"


class Slack(Channel):
    secret: SecretKeyRef | None = SecretKeyRef(name="alertmanager-slack", key="api-url")
    # The host of the webhook URL in the Secret (Slack's incoming webhooks: https://hooks.slack.com/services/...),
    # which egress allows by name; the URL itself stays out of git.
    webhook_host: str = Field("hooks.slack.com", pattern=HOST_NAME)
    critical_channel: str = Field("#alerts-critical", pattern=r"^#[a-z0-9_-]{1,80}$")
    warning_channel: str = Field("#alerts-warnings", pattern=r"^#[a-z0-9_-]{1,80}$")


class PagerDuty(Channel):
    secret: SecretKeyRef | None = SecretKeyRef(name="alertmanager-pagerduty", key="routing-key")
    url: str = Field("https://events.pagerduty.com/v2/enqueue", pattern=r"^https://")


class Email(Channel):
    secret: SecretKeyRef | None = SecretKeyRef(name="alertmanager-smtp", key="password")
    to: str = Field("oncall@example.org", pattern=r"^[^@\s]+@[^@\s]+$")
    sender: str = Field("alertmanager@example.org", pattern=r"^[^@\s]+@[^@\s]+$")
    smarthost: str = Field("smtp.example.org:587", pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
    username: str = "alertmanager@example.org"


class Alerting(Model):
    slack: Slack = Slack()
    pagerduty: PagerDuty = PagerDuty()
    email: Email = Email()
    # Links in notifications: where reviewers' runbooks and the team's Grafana are reached from outside.
    runbook_url: str = Field("https://git.example.org/observability/docs/runbooks.md", pattern=r"^https://")
    grafana_url: str = Field("https://grafana.example.org", pattern=r"^https://")
    thresholds: AlertThresholds = AlertThresholds()
    # OpenEMR's objectives and their burn-rate alerts (with OTeBPF).
    slo: SloConfig = SloConfig()
    # Alert names (as in the README's list) this overlay does not render, and per-alert changes.
    disabled: list[str] = []
    overrides: dict[str, AlertOverride] = {}


WEB = Port("web", 9093)
RELOADER = Port("reloader-web", 8080)
MESH_TCP = Port("mesh-tcp", 9094)
MESH_UDP = Port("mesh-udp", 9094, "UDP")
HTTPS = Port("https", 443)
# The operator's headless Service of the StatefulSet: Prometheus sends alerts to its endpoints.
GOVERNING_SERVICE = "alertmanager-operated"
# Where the operator mounts the Secrets listed in the CR, and the keys of the configuration Secret.
SECRETS_DIR = "/etc/alertmanager/secrets"
CONFIG_DIR = "/etc/alertmanager/config"
TEMPLATES_FILE = "notifications.tmpl"
TITLE = '{{ template "openemr.title" . }}'


def secret_file(ref: SecretKeyRef) -> str:
    return f"{SECRETS_DIR}/{ref.name}/{ref.key}"


def _receivers(alerting: Alerting) -> list[dict]:
    critical, warning = {"name": "critical"}, {"name": "warning"}
    slack, pagerduty, email = alerting.slack, alerting.pagerduty, alerting.email
    if slack.enabled:
        def to_slack(channel: str) -> dict:
            return {"api_url_file": secret_file(slack.secret), "channel": channel, "send_resolved": True,
                    "title": TITLE, "text": '{{ template "openemr.text" . }}'}
        critical["slack_configs"] = [to_slack(slack.critical_channel)]
        warning["slack_configs"] = [to_slack(slack.warning_channel)]
    if pagerduty.enabled:
        critical["pagerduty_configs"] = [{"routing_key_file": secret_file(pagerduty.secret), "url": pagerduty.url,
                                          "description": TITLE, "send_resolved": True}]
    if email.enabled:
        warning["email_configs"] = [{
            "to": email.to, "from": email.sender, "smarthost": email.smarthost, "auth_username": email.username,
            "auth_password_file": secret_file(email.secret), "require_tls": True, "send_resolved": True,
            "headers": {"Subject": TITLE}, "html": '{{ template "openemr.email.html" . }}'}]
    return [{"name": "null"}, critical, warning]


# Fluent Bit names its outputs' series after the plugin and its index (loki.0, es.1).
LOKI_OUTPUTS, ES_OUTPUTS = 'name=~"loki\\..+"', 'name=~"es\\..+"'
FLUENT_BIT_DELIVERY = "FluentBitRetriesFailing|FluentBitOutputErrors"


def _inhibit(source: str, targets: str, equal: list[str] | None = None, only: str | None = None) -> dict:
    """`only`: a further matcher on the targets (which of Fluent Bit's outputs)."""
    rule = {"source_matchers": [f'alertname="{source}"'],
            "target_matchers": [f'alertname=~"{targets}"', *([only] if only else [])]}
    return {**rule, **({"equal": equal} if equal else {})}


def inhibit_rules() -> list[dict]:
    """The cause silences its consequences (each proven with the real Alertmanager, tests/test_alerting.py)."""
    return [
        {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
         "equal": ["alertname", "namespace"]},
        # A node that is down explains every other alert on it: pods (joined to kube_pod_info for the node),
        # node-exporter, Fluent Bit and OTeBPF on that node (their targets carry `node`).
        {"source_matchers": ['alertname="KubeNodeNotReady"'], "target_matchers": ['alertname!="KubeNodeNotReady"'],
         "equal": ["node"]},
        {"source_matchers": ['alertname="OpenEMRDown"'],
         "target_matchers": ['alertname=~"OpenEMR.+"', 'severity="warning"'], "equal": ["namespace"]},
        # A backend that is down explains its senders' retries and errors (not lost records: those page).
        _inhibit("LokiDown", "LokiRequestErrors|LokiRequestLatency"),
        _inhibit("LokiDown", FLUENT_BIT_DELIVERY, only=LOKI_OUTPUTS),
        # Rendered with logs.backend elasticsearch | both; inert otherwise.
        _inhibit("ElasticsearchClusterRed", "ElasticsearchClusterYellow", ["namespace", "es_cluster"]),
        _inhibit("ElasticsearchClusterRed", FLUENT_BIT_DELIVERY, only=ES_OUTPUTS),
        _inhibit("ElasticsearchDiskFloodStage", "ElasticsearchDiskHighWatermark", ["namespace", "name"]),
        _inhibit("TempoDown", "OTeBPFTraceExportErrors|TempoRequestErrors|TempoRequestLatency"),
        _inhibit("MimirDown", "PrometheusRemoteWrite.+|MimirRequestErrors|MimirRequestLatency"),
        # The worse state of the same object silences the milder one.
        _inhibit("KubePersistentVolumeFull", "KubePersistentVolumeFillingUp|KubePersistentVolumeFillingUpPredicted",
                 ["namespace", "persistentvolumeclaim"]),
        _inhibit("NodeFilesystemAlmostOutOfSpace", "NodeFilesystemFillingUp|NodeFilesystemSpaceFillingUp",
                 ["instance", "mountpoint"]),
        _inhibit("NodeFilesystemAlmostOutOfFiles", "NodeFilesystemFilesFillingUp", ["instance", "mountpoint"]),
        _inhibit("KubeDeploymentRolloutStuck", "KubeDeploymentReplicasMismatch", ["namespace", "deployment"]),
        _inhibit("AlertmanagerClusterDown", "AlertmanagerClusterMembersMissing|AlertmanagerConfigInconsistent",
                 ["namespace", "service"]),
    ]


def routing_config(alerting: Alerting) -> dict:
    return {
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "namespace", "severity"],
            "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
            "routes": [
                # The dead man's switch: route it to an external heartbeat service, if you have one.
                {"matchers": ['alertname="Watchdog"'], "receiver": "null"},
                {"matchers": ['severity="critical"'], "receiver": "critical",
                 "group_wait": "1s", "group_interval": "1m", "repeat_interval": "1h"},
                {"matchers": ['severity="warning"'], "receiver": "warning", "repeat_interval": "4h"},
                {"matchers": ['severity="info"'], "receiver": "null"},
            ],
        },
        "inhibit_rules": inhibit_rules(),
        "receivers": _receivers(alerting),
        "templates": [f"{CONFIG_DIR}/*.tmpl"],
    }


def notification_templates(alerting: Alerting) -> str:
    grafana = alerting.grafana_url.rstrip("/") + "/alerting/list"
    return "\n".join([
        '{{ define "openemr.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}'
        '{{ end }}] {{ .CommonLabels.alertname }}{{ with .CommonLabels.namespace }} ({{ . }}){{ end }}{{ end }}',
        '{{ define "openemr.text" }}{{ range .Alerts }}*{{ .Annotations.summary }}*',
        "{{ .Annotations.description }}",
        "Severity: {{ .Labels.severity }} | Runbook: {{ .Annotations.runbook_url }}",
        "{{ end }}Grafana: " + grafana + " | Silence: {{ .ExternalURL }}{{ end }}",
        '{{ define "openemr.email.html" }}<h3>{{ template "openemr.title" . }}</h3>{{ range .Alerts }}'
        '<p><b>{{ .Annotations.summary }}</b><br>{{ .Annotations.description }}<br>'
        '<a href="{{ .Annotations.runbook_url }}">Runbook</a></p>{{ end }}'
        '<p><a href="' + grafana + '">Grafana</a> | <a href="{{ .ExternalURL }}">Alertmanager</a></p>{{ end }}',
        "",
    ])


def server_name(namespace: str) -> str:
    """The name Prometheus and the peers verify (both dial pod IPs)."""
    return tls.server_name(GOVERNING_SERVICE, namespace)


def cluster_tls(certificate_secret: str, namespace: str) -> m.AlertmanagerSpecClusterTls:
    """Gossip between the replicas over mutual TLS (spec.clusterTLS, Alertmanager >= 0.24): each member serves
    and presents its certificate and requires the peer's, both verified with our CA and for server_name()
    (memberlist dials peers by IP). With it Alertmanager's TLS transport carries gossip over TCP only."""
    server = {**operated.server_tls(certificate_secret), "client_ca": operated.ca_of(certificate_secret),
              "client_auth_type": "RequireAndVerifyClientCert"}
    client = {"ca": operated.ca_of(certificate_secret), "server_name": server_name(namespace),
              "cert": {"secret": {"name": certificate_secret, "key": "tls.crt"}},
              "key_secret": {"name": certificate_secret, "key": "tls.key"}}
    return m.AlertmanagerSpecClusterTls(server=server, client=client)


def mounted_secrets(alerting: Alerting) -> list[str]:
    return sorted({c.secret.name for c in (alerting.slack, alerting.pagerduty, alerting.email) if c.enabled})


def receiver_egress(alerting: Alerting, mode: EgressMode) -> list[Rule]:
    """Each enabled receiver's host on its port: Slack's webhook and PagerDuty's events API over HTTPS, the
    SMTP smarthost on its own port (`network.egress` decides by name or to anywhere, lib/netpol.external)."""
    https = ([alerting.slack.webhook_host] if alerting.slack.enabled else []) + \
        ([urlsplit(alerting.pagerduty.url).hostname] if alerting.pagerduty.enabled else [])
    rules = external(mode, https, [HTTPS])
    if alerting.email.enabled:
        host, port = alerting.email.smarthost.rsplit(":", 1)
        rules += external(mode, [host], [HTTPS if int(port) == HTTPS.number else Port("smtp", int(port))])
    return rules


class Alertmanager(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "alertmanager")
        config, stack = ctx.config.alertmanager, ctx.config
        identity = ctx.identity("alertmanager", "alert-router", versions.ALERTMANAGER)
        name = stack.instance
        config_secret = f"alertmanager-{name}-config"
        replicas = replicas_and_scaling(
            self, identity, ScaleTarget("monitoring.coreos.com/v1", "Alertmanager", name), "alertmanager",
            stack.autoscaling, identity.selector)
        alerting = stack.alerting
        # Grafana dials the Service; Prometheus and the peers the pods, for server_name().
        certificate = tls.certificate(self, stack, identity, [
            *tls.service_names(identity.name, ctx.namespace), *tls.service_names(GOVERNING_SERVICE, ctx.namespace)])
        k.KubeSecret(self, "config", metadata=identity.meta(config_secret), string_data={
            "alertmanager.yaml": yaml.safe_dump(routing_config(alerting), sort_keys=False),
            TEMPLATES_FILE: notification_templates(alerting)})
        m.Alertmanager(
            self, "alertmanager",
            metadata={"name": name, "namespace": ctx.namespace, "labels": identity.labels},
            spec=m.AlertmanagerSpec(
                image=versions.ALERTMANAGER.ref, version=versions.ALERTMANAGER.tag,
                replicas=replicas, retention=config.retention,
                config_secret=config_secret,
                secrets=mounted_secrets(alerting) or None,
                service_account_name=identity.name,
                pod_metadata=m.AlertmanagerSpecPodMetadata(labels=identity.labels),
                resources=operated.resources("Alertmanager", config.resources),
                security_context=operated.security_context("Alertmanager"),
                affinity=operated.spread_over_nodes("Alertmanager", identity.selector) if replicas != 1 else None,
                node_selector=identity.placement.node_selector if identity.placement else None,
                tolerations=operated.tolerations("Alertmanager", identity.placement),
                storage=operated.storage("Alertmanager", stack.storage.class_name, config.storage_size),
                web=operated.web_tls("Alertmanager", certificate.secret),
                cluster_tls=cluster_tls(certificate.secret, ctx.namespace),
            ),
        )
        service_account(self, identity)
        service(self, identity, [WEB, RELOADER])
        scrape_tls = ScrapeTls(certificate.secret, tls.server_name(identity.name, ctx.namespace))
        service_monitor(self, identity, [Endpoint(WEB.name, tls=scrape_tls), Endpoint(RELOADER.name, tls=scrape_tls)])
        ctx.scraped(identity, [WEB, RELOADER])
        peers = ctx.pods_of("alertmanager")
        component_policy(self, identity, Policy(
            ingress=[
                rule([ctx.pods_of("prometheus"), ctx.pods_of("grafana")], [WEB]),
                rule([ctx.pods_of("prometheus")], [RELOADER]),
                rule([peers], [MESH_TCP, MESH_UDP]),
            ],
            egress=[
                rule([peers], [MESH_TCP, MESH_UDP]),
                *receiver_egress(alerting, stack.network.egress_mode),
            ]))

