"""Egress outside the cluster by domain name (EKS Auto Mode's ApplicationNetworkPolicy), or to 0.0.0.0/0
with `network.egress: cidr`: each component reaches exactly the hosts it needs, DNS still resolves."""
from __future__ import annotations

import copy

import pytest
from conftest import DIST, OVERLAYS, overlay_config
from stackgen import render
from stackgen.config import ConfigError, LoadedConfig, deep_merge, load_overlay
from stackgen.flows import Address, dns_peers, domain_matches, flow_allowed
from stackgen.manifests import Manifests
from stackgen.validate import load_tree, schema_problems

PUBLIC = "52.216.0.10"  # an address an AWS name might resolve to; only the name decides with domain-names
BACKENDS = ("loki", "tempo", "mimir")


def named(host: str) -> Address:
    return Address(PUBLIC, host)


def pods_of(m: Manifests, prefix: str) -> list:
    return [p for p in m.pods() if p.labels.get("app.kubernetes.io/name", "").startswith(prefix)]


def one_pod(m: Manifests, name: str):
    return next(p for p in m.pods() if p.labels.get("app.kubernetes.io/name") == name)


def rendered(overlay: str, **sections) -> Manifests:
    """The overlay with `sections` merged over it, validated as an overlay file would be."""
    config = overlay_config(overlay)
    config = type(config).model_validate(deep_merge(config.model_dump(), sections))
    return Manifests(render.render_overlay(LoadedConfig(overlay, f"overlays/{overlay}.yaml", config)).manifests)


def s3_and_sts(region: str, bucket: str) -> list[Address]:
    return [named(f"{bucket}.s3.{region}.amazonaws.com"), named(f"s3.{region}.amazonaws.com"),
            named(f"sts.{region}.amazonaws.com")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_backends_reach_s3_and_sts_by_name_and_nothing_else(overlay):
    m, config = Manifests(load_tree(DIST / overlay)), overlay_config(overlay)
    region = config.aws.region
    for backend in BACKENDS:
        bucket = getattr(config, backend).model_dump().get("bucket") or config.mimir.blocks_bucket
        for pod in pods_of(m, backend):
            for destination in s3_and_sts(region, bucket):
                assert flow_allowed(m, pod, destination, 443), (pod.owner, destination)
            for destination in (named("evil.example.com"), Address("1.2.3.4"), named("s3.eu-west-1.amazonaws.com"),
                                named("sts.amazonaws.com"), named("grafana.com")):
                assert not flow_allowed(m, pod, destination, 443), (pod.owner, destination)
            assert not flow_allowed(m, pod, named(f"s3.{region}.amazonaws.com"), 80), pod.owner
            for dns in dns_peers(config.network):
                assert flow_allowed(m, pod, dns, 53, "UDP"), pod.owner


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grafana_and_alertmanager_reach_their_hosts_only(overlay):
    m, config = Manifests(load_tree(DIST / overlay)), overlay_config(overlay)
    region, grafana, alertmanager = config.aws.region, one_pod(m, "grafana"), one_pod(m, "alertmanager")
    for host in ("grafana.com", "storage.googleapis.com", f"monitoring.{region}.amazonaws.com", f"logs.{region}.amazonaws.com",
                 f"xray.{region}.amazonaws.com", f"sts.{region}.amazonaws.com"):
        assert flow_allowed(m, grafana, named(host), 443), host
    for destination in (named("evil.example.com"), named("storage.grafana.com.evil.example"), Address("1.2.3.4"),
                        named(f"{config.loki.bucket}.s3.{region}.amazonaws.com")):
        assert not flow_allowed(m, grafana, destination, 443), destination
    smtp_host, smtp_port = config.alerting.email.smarthost.rsplit(":", 1)
    assert flow_allowed(m, alertmanager, named("hooks.slack.com"), 443)
    assert flow_allowed(m, alertmanager, named("events.pagerduty.com"), 443)
    assert flow_allowed(m, alertmanager, named(smtp_host), int(smtp_port))
    assert not flow_allowed(m, alertmanager, named(smtp_host), 25)
    assert not flow_allowed(m, alertmanager, named("evil.example.com"), 443)
    assert not flow_allowed(m, alertmanager, Address("1.2.3.4"), 443)


def test_elasticsearch_snapshots_reach_s3_and_sts_by_name():
    m, config = Manifests(load_tree(DIST / "hospital-elk")), overlay_config("hospital-elk")
    elasticsearch = one_pod(m, "elasticsearch")
    for destination in s3_and_sts(config.aws.region, config.elasticsearch.snapshot_bucket):
        assert flow_allowed(m, elasticsearch, destination, 443), destination
    assert not flow_allowed(m, elasticsearch, named("evil.example.com"), 443)
    assert not flow_allowed(m, elasticsearch, Address("1.2.3.4"), 443)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_egress_to_anywhere_remains(overlay):
    """Every 0.0.0.0/0 rule is replaced by domain names; the API server's is network.kube_api_cidrs, which
    DNS-based rules cannot replace (pods reach it by its Service address): unset, the `kubernetes` Service's
    ClusterIP of both EKS default service CIDRs."""
    m = Manifests(load_tree(DIST / overlay))
    api = [peer["ipBlock"]["cidr"] for p in m.of_kind("NetworkPolicy") if p["metadata"]["name"] == "kube-state-metrics"
           for r in p["spec"]["egress"] for peer in r["to"] if "ipBlock" in peer]
    assert api == ["10.100.0.1/32", "172.20.0.1/32"]
    wide = [(p["metadata"]["name"], r.get("ports")) for p in m.of_kind("NetworkPolicy")
            for r in p["spec"].get("egress") or [] for peer in r.get("to") or [] if "ipBlock" in peer
            and peer["ipBlock"]["cidr"] == "0.0.0.0/0"]
    assert wide == []
    assert m.of_kind("ApplicationNetworkPolicy")


def test_without_the_application_network_policies_the_s3_flow_is_denied():
    m, config = Manifests(load_tree(DIST / "clinic")), overlay_config("clinic")
    loki = pods_of(m, "loki")[0]
    s3 = named(f"{config.loki.bucket}.s3.{config.aws.region}.amazonaws.com")
    assert flow_allowed(m, loki, s3, 443)
    stripped = Manifests([o for o in m.objects if o["kind"] != "ApplicationNetworkPolicy"])
    assert not flow_allowed(stripped, loki, s3, 443)


@pytest.mark.parametrize("overlay", ["clinic", "hospital-elk"])
@pytest.mark.parametrize("dns", ["node-local", "kube-dns"])
def test_cidr_egress_renders_no_application_network_policy_and_allows_anywhere(overlay, dns):
    m = rendered(overlay, network={"egress": "cidr", "dns": dns})
    config = overlay_config(overlay)
    assert m.of_kind("ApplicationNetworkPolicy") == []
    loki = pods_of(m, "loki")[0]
    assert flow_allowed(m, loki, Address("1.2.3.4"), 443) and not flow_allowed(m, loki, Address("1.2.3.4"), 80)
    network = config.network.model_copy(update={"dns": dns})
    for pod in (loki, one_pod(m, "grafana"), one_pod(m, "alertmanager")):
        assert all(flow_allowed(m, pod, peer, 53, "UDP") for peer in dns_peers(network)), pod.owner


def test_kube_dns_defaults_to_cidr_and_refuses_domain_names(tmp_path):
    assert overlay_config("clinic").network.egress_mode == "domain-names"
    path = tmp_path / "standard-eks.yaml"
    path.write_text("network: {dns: kube-dns}\n")
    assert load_overlay(path, {}).config.network.egress_mode == "cidr"
    path.write_text("network: {dns: kube-dns, egress: domain-names}\n")
    with pytest.raises(ConfigError, match=r"network.egress=domain-names needs dns: node-local .*set egress: cidr"):
        load_overlay(path, {})


def test_hosts_come_from_the_configured_urls_and_addresses_stay_addresses():
    m = rendered("hospital", grafana={"database": {"type": "postgres", "host": "db.internal.example.net:5433",
                                                   "password_secret": {"name": "grafana-db", "key": "password"}},
                                      "sso": {"enabled": True, "client_id": "grafana", "admin_groups": ["ops"],
                                              "auth_url": "https://idp.example.net/authorize",
                                              "token_url": "https://idp.example.net/token",
                                              "api_url": "https://api.idp.example.net:8443/userinfo"}},
                 alerting={"email": {"smarthost": "10.20.30.40:2525"}},
                 autoscaling={"grafana": {"max_replicas": 1}})
    grafana, alertmanager = one_pod(m, "grafana"), one_pod(m, "alertmanager")
    assert flow_allowed(m, grafana, named("db.internal.example.net"), 5433)
    assert flow_allowed(m, grafana, named("idp.example.net"), 443)
    assert flow_allowed(m, grafana, named("api.idp.example.net"), 8443)
    assert not flow_allowed(m, grafana, named("idp.example.net"), 8443)
    # An address has no name to match: it is a /32.
    assert flow_allowed(m, alertmanager, Address("10.20.30.40"), 2525)
    assert not flow_allowed(m, alertmanager, Address("10.20.30.41"), 2525)


@pytest.mark.parametrize("pattern,host,expected", [
    ("s3.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com", True),
    ("*.s3.us-east-1.amazonaws.com", "b.s3.us-east-1.amazonaws.com", True),
    ("*.s3.us-east-1.amazonaws.com", "a.b.s3.us-east-1.amazonaws.com", True),
    ("*.s3.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com", False),
    ("*.s3.us-east-1.amazonaws.com", "evils3.us-east-1.amazonaws.com", False),
    ("grafana.com", "www.grafana.com", False),
])
def test_domain_names_match_as_the_crd_documents(pattern, host, expected):
    assert domain_matches(pattern, host) is expected


def test_application_network_policies_are_held_to_the_vendored_crd():
    policy = copy.deepcopy(next(o for o in load_tree(DIST / "clinic") if o["kind"] == "ApplicationNetworkPolicy"))
    assert schema_problems(policy, ()) == []
    policy["spec"]["egress"][0]["to"][0]["domainName"] = policy["spec"]["egress"][0]["to"][0].pop("domainNames")
    policy["spec"]["egress"][0]["to"].append({"domainNames": ["bad domain"]})
    problems = schema_problems(policy, ())
    assert any("domainName" in p for p in problems) and any("bad domain" in p for p in problems), problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_aws_client_exchanges_its_token_at_the_regional_sts_name(overlay):
    """The one STS name the policies allow: the IRSA ServiceAccounts ask the EKS webhook for regional STS, and
    minio-go (Tempo, Mimir), which reads only AWS_REGION, gets it set."""
    objects, region = load_tree(DIST / overlay), overlay_config(overlay).aws.region
    # External Secrets' ServiceAccount is not among them: its controller, in its own namespace, exchanges the token.
    irsa = [o for o in objects if o["kind"] == "ServiceAccount" and o["metadata"]["name"] in ("grafana", *BACKENDS)]
    assert len(irsa) == 4 and all("eks.amazonaws.com/role-arn" in o["metadata"]["annotations"] for o in irsa)
    for account in irsa:
        assert account["metadata"]["annotations"]["eks.amazonaws.com/sts-regional-endpoints"] == "true"
    m = Manifests(objects)
    for pod in [p for backend in BACKENDS for p in pods_of(m, backend)]:
        env = {e["name"]: e.get("value") for c in pod.containers for e in c.get("env") or []}
        assert env.get("AWS_REGION") == region, pod.owner


def test_the_api_server_rule_follows_the_service_cidr():
    from stackgen.components.cluster import Network
    assert Network(service_cidr="10.50.0.0/16").kube_api_cidrs == ["10.50.0.1/32"]
    assert Network(service_cidr="10.50.0.0/16", kube_api_cidrs=["10.0.0.0/16"]).kube_api_cidrs == ["10.0.0.0/16"]
