"""`python main.py doctor` on recorded API responses (tests/kube_recorded.py), never a real cluster: the empty
cluster (`flux bootstrap` only) names each missing prerequisite, the ready one passes, and each check fails
when the cluster (or the rendered tree) is broken in its one place."""
from __future__ import annotations

import copy
import json
import socket

import pytest
import yaml
from conftest import DIST, ROOT, run_main
from doctor_tree import MANAGED_PLATFORM, OPERATORS, OVERLAY, PROMETHEUS_CRD, SERVICE_MONITOR_CRD, STACK, build_tree
from kube_recorded import RecordedApi, kubeconfig
from overlay_keys import CONFIGURED
from stackgen.components.platform import vpc_cni
from stackgen.config import deep_merge
from stackgen.doctor import cli
from stackgen.doctor.cluster import Cluster
from stackgen.names import PART_OF

SOURCE = "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/observability"
APIS = "/apis"
DEPLOYMENTS = "/apis/apps/v1/namespaces/flux-system/deployments"
METRICS = "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io"
CSI = "/apis/storage.k8s.io/v1/csidrivers/ebs.csi.eks.amazonaws.com"


@pytest.fixture(scope="module")
def api():
    with RecordedApi() as server:
        yield server


@pytest.fixture()
def tree(tmp_path):
    return build_tree(tmp_path)


@pytest.fixture()
def config(api, tmp_path):
    return kubeconfig(tmp_path / "kubeconfig", api.url)


def doctor(root, config, capsys, *extra, overlay=OVERLAY, dist=None) -> tuple[int, dict]:
    capsys.readouterr()
    code = cli.main(["--overlay", overlay, "--kubeconfig", str(config), "--overlays", str(root / "overlays"),
                     "--dist", str(dist or root / "dist"), "--json", *extra], ROOT)
    out = capsys.readouterr().out
    return code, json.loads(out) if out else {}


def rows(report: dict, status: str | None = None) -> dict[tuple[str, str], dict]:
    return {(c["check"], c["target"]): c for c in report["checks"] if status in (None, c["status"])}


def test_empty_cluster_names_each_missing_prerequisite(api, tree, config, capsys):
    api.load("empty")
    code, report = doctor(tree, config, capsys)
    failed = rows(report, "fail")
    assert code == 1 and report["ok"] is False
    assert set(failed) == {("Flux source Ready", "GitRepository flux-system/observability"),
                           ("kind served", "external-secrets.io/v1 ExternalSecret"),
                           ("metrics API", "APIService v1beta1.metrics.k8s.io")}
    assert failed[("Flux source Ready", "GitRepository flux-system/observability")]["detail"] == "does not exist"
    assert "flux.source_name" in failed[("Flux source Ready", "GitRepository flux-system/observability")]["fix"]
    external_secret = failed[("kind served", "external-secrets.io/v1 ExternalSecret")]["detail"]
    assert "monitoring/grafana-admin" in external_secret and "monitoring-stack" in external_secret
    assert "platform.metrics_server: managed" in failed[("metrics API", "APIService v1beta1.metrics.k8s.io")]["fix"]
    passed = rows(report, "pass")
    assert passed[("kind served", "monitoring.coreos.com/v1 Prometheus")]["detail"] == \
        "delivered by stage monitoring-crds (CRD prometheuses.monitoring.coreos.com)"
    assert "monitoring-crds" in passed[("kind served", "monitoring.coreos.com/v1 ServiceMonitor")]["detail"]
    for target in ("Deployment flux-system/source-controller", "Deployment flux-system/kustomize-controller"):
        assert ("Flux controller running", target) in passed
    assert ("storage provisioner", "StorageClass gp3-monitoring-encrypted -> CSIDriver ebs.csi.eks.amazonaws.com") in passed
    assert {t for c, t in passed if c == "namespace free"} == {"Namespace monitoring", "Namespace monitoring-agents"}
    assert rows(report, "warn") == {}


def test_ready_cluster_passes(api, tree, config, capsys):
    api.load("ready")
    code, report = doctor(tree, config, capsys)
    assert code == 0 and report["ok"] is True and report["failed"] == 0
    assert [c for c in report["checks"] if c["status"] != "pass"] == []
    checks = {c for c, _ in rows(report)}
    assert checks == {"Flux API served", "Flux controller running", "Flux source Ready", "kind served", "metrics API",
                      "storage provisioner", "namespace free", "placeholder"}
    assert rows(report)[("placeholder", f"overlay {OVERLAY}")]["detail"] == \
        "no documentation placeholder in the configuration"


def test_table_output_has_one_line_per_check(api, tree, config, capsys):
    api.load("empty")
    capsys.readouterr()
    code = cli.main(["--overlay", OVERLAY, "--kubeconfig", str(config), "--overlays", str(tree / "overlays"),
                     "--dist", str(tree / "dist")], ROOT)
    lines = capsys.readouterr().out.splitlines()
    body = [line for line in lines[2:] if line.startswith("| ")]
    assert code == 1 and lines[0] == "| status | check | target | detail | fix |"
    assert sum(line.startswith("| FAIL |") for line in body) == 3
    assert lines[-1] == f"{len(body)} checks: 3 failed, 0 warnings"


# Exit 2: bad input or an API error, one line on stderr.

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_api_server_is_one_line_on_stderr(tree, tmp_path):
    unreachable = kubeconfig(tmp_path / "unreachable", f"http://127.0.0.1:{_free_port()}")
    result = run_main("doctor", "--overlay", OVERLAY, "--kubeconfig", str(unreachable), "--overlays",
                      str(tree / "overlays"), "--dist", str(tree / "dist"))
    assert result.returncode == 2 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip() and "!!" not in line]  # minus Node's banner
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the API server at http://127.0.0.1:"), result.stderr


def test_tls_failure_is_one_line(api, tree, tmp_path, capsys):
    """https to a plain-HTTP port: the TLS handshake fails."""
    api.load("ready")
    config = kubeconfig(tmp_path / "tls", api.url.replace("http://", "https://"))
    capsys.readouterr()
    code = cli.main(["--overlay", OVERLAY, "--kubeconfig", str(config), "--overlays", str(tree / "overlays"),
                     "--dist", str(tree / "dist")], ROOT)
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"error: cannot reach the API server at {api.url.replace('http://', 'https://')} "
                                   "(GET /api): [SSL"), captured.err  # the reason's wording is OpenSSL's


@pytest.mark.parametrize("args, message", [
    (["--kubeconfig", "/nonexistent/kubeconfig"], "error: kubeconfig: "),
    (["--context", "elsewhere"], "error: kubeconfig: "),
    (["--overlay", "nowhere"], "error: overlay 'nowhere' does not exist; available: fixture"),
])
def test_bad_input_exits_2(api, tree, config, capsys, args, message):
    api.load("ready")
    capsys.readouterr()
    code = cli.main(["--overlay", OVERLAY, "--kubeconfig", str(config), "--overlays", str(tree / "overlays"),
                     "--dist", str(tree / "dist"), *args], ROOT)
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.startswith(message) and captured.err.count("\n") == 1, captured.err


def test_api_error_exits_2(api, tree, config, capsys):
    api.load("ready")
    api.errors["/api/v1/namespaces/monitoring"] = 403
    capsys.readouterr()
    code = cli.main(["--overlay", OVERLAY, "--kubeconfig", str(config), "--overlays", str(tree / "overlays"),
                     "--dist", str(tree / "dist")], ROOT)
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == f"error: the API server at {api.url} answered 403 Forbidden to GET Namespace monitoring\n"


def test_tree_without_the_overlays_delivery_exits_2(api, tree, config, capsys):
    api.load("ready")
    (tree / "dist" / "flux" / f"{OVERLAY}.yaml").unlink()
    capsys.readouterr()
    code = cli.main(["--overlay", OVERLAY, "--kubeconfig", str(config), "--overlays", str(tree / "overlays"),
                     "--dist", str(tree / "dist")], ROOT)
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == (f"error: {tree / 'dist' / 'flux' / OVERLAY}.yaml does not exist: render the overlay first "
                            f"(python main.py --overlay {OVERLAY})\n")


def test_path_prefix_maps_flux_paths_to_dist(api, tmp_path, config, capsys):
    """flux.path_prefix ./deploy/dist: ./deploy/dist/fixture/crds is <dist>/fixture/crds."""
    api.load("ready")
    code, report = doctor(build_tree(tmp_path / "a", prefix="./deploy/dist"), config, capsys)
    assert code == 0 and ("kind served", "monitoring.coreos.com/v1 Prometheus") in rows(report, "pass")
    root = build_tree(tmp_path / "b", prefix="./deploy/dist", overlay_prefix="./dist")
    capsys.readouterr()
    code = cli.main(["--overlay", OVERLAY, "--kubeconfig", str(config), "--overlays", str(root / "overlays"),
                     "--dist", str(root / "dist")], ROOT)
    assert code == 2 and "spec.path './deploy/dist/fixture/crds' is not under flux.path_prefix './dist'" in capsys.readouterr().err


# Each check fails on the cluster broken in its one place (the ready cluster otherwise).

def test_flux_not_installed(api, tree, config, capsys):
    api.load("ready")
    groups = api.responses[APIS]["groups"]
    api.responses[APIS]["groups"] = [g for g in groups if g["name"] != "kustomize.toolkit.fluxcd.io"]
    del api.responses[f"{DEPLOYMENTS}/kustomize-controller"]
    code, report = doctor(tree, config, capsys)
    assert code == 1
    assert set(rows(report, "fail")) == {("Flux API served", "kustomize.toolkit.fluxcd.io/v1 Kustomization"),
                                         ("Flux controller running", "Deployment flux-system/kustomize-controller")}
    assert "flux bootstrap" in rows(report, "fail")[("Flux API served", "kustomize.toolkit.fluxcd.io/v1 Kustomization")]["fix"]


def test_flux_controller_not_available(api, tree, config, capsys):
    api.load("ready")
    deployment = api.responses[f"{DEPLOYMENTS}/source-controller"]
    deployment["status"].update(availableReplicas=0, readyReplicas=0, unavailableReplicas=1)
    deployment["status"]["conditions"][0].update(status="False", reason="MinimumReplicasUnavailable",
                                                 message="Deployment does not have minimum availability.")
    code, report = doctor(tree, config, capsys)
    failed = rows(report, "fail")
    assert code == 1 and set(failed) == {("Flux controller running", "Deployment flux-system/source-controller")}
    assert failed[("Flux controller running", "Deployment flux-system/source-controller")]["detail"] == \
        "not Available (0/1 available): Deployment does not have minimum availability."


def test_managed_platform_needs_helm_controller(api, tmp_path, config, capsys):
    """A stage applying HelmReleases needs helm.toolkit.fluxcd.io and helm-controller (bootstrapped without it here)."""
    root = build_tree(tmp_path, platform=MANAGED_PLATFORM)
    api.load("ready")
    api.responses[APIS]["groups"] = [g for g in api.responses[APIS]["groups"] if g["name"] != "helm.toolkit.fluxcd.io"]
    del api.responses[f"{DEPLOYMENTS}/helm-controller"]
    code, report = doctor(root, config, capsys)
    assert code == 1
    assert set(rows(report, "fail")) == {("Flux API served", "helm.toolkit.fluxcd.io/v2 HelmRelease"),
                                         ("Flux controller running", "Deployment flux-system/helm-controller")}
    assert ("Flux API served", "source.toolkit.fluxcd.io/v1 HelmRepository") in rows(report, "pass")


def test_managed_platform_on_the_empty_cluster(api, tmp_path, config, capsys):
    """metrics-server delivered by the platform stage passes, and so does ExternalSecret: the External Secrets
    chart's HelmRelease installs its CRDs (crds.CHART_CRDS) before the stages after it."""
    root = build_tree(tmp_path, platform=MANAGED_PLATFORM)
    api.load("empty")
    code, report = doctor(root, config, capsys)
    assert code == 1 and set(rows(report, "fail")) == {("Flux source Ready", "GitRepository flux-system/observability")}
    assert rows(report, "pass")[("metrics API", "APIService v1beta1.metrics.k8s.io")]["detail"] == \
        "delivered by stage monitoring-platform"
    assert ("Flux controller running", "Deployment flux-system/helm-controller") in rows(report, "pass")
    assert rows(report, "warn") == {}
    delivered = rows(report, "pass")[("kind served", "external-secrets.io/v1 ExternalSecret")]["detail"]
    assert "monitoring-platform" in delivered and "external-secrets" in delivered


def test_source_not_ready(api, tree, config, capsys):
    api.load("ready")
    ready = api.responses[SOURCE]["status"]["conditions"][0]
    ready.update(status="False", reason="GitOperationFailed",
                 message="failed to checkout and determine revision: unable to clone "
                         "'https://github.com/example-clinic/openemr-observability': authentication required")
    code, report = doctor(tree, config, capsys)
    failed = rows(report, "fail")
    assert code == 1 and set(failed) == {("Flux source Ready", "GitRepository flux-system/observability")}
    assert "authentication required" in failed[("Flux source Ready", "GitRepository flux-system/observability")]["detail"]


def test_crd_delivered_after_its_first_use(api, tmp_path, config, capsys):
    """The ServiceMonitor CRD in the stack stage, while the operators stage already applies a ServiceMonitor."""
    root = build_tree(tmp_path, crds=[PROMETHEUS_CRD], stack=STACK + [SERVICE_MONITOR_CRD])
    api.load("ready")
    code, report = doctor(root, config, capsys)
    failed = rows(report, "fail")
    assert code == 1 and set(failed) == {("kind served", "monitoring.coreos.com/v1 ServiceMonitor")}
    detail = failed[("kind served", "monitoring.coreos.com/v1 ServiceMonitor")]["detail"]
    assert detail == ("stage monitoring-operators applies ServiceMonitor monitoring/prometheus-operator, but its CRD "
                      "servicemonitors.monitoring.coreos.com comes later, in stage monitoring-stack")


def test_crd_in_the_stage_of_its_first_use(api, tmp_path, config, capsys):
    """Flux applies a stage's CRDs before the rest of it: a CRD may come with its first objects."""
    root = build_tree(tmp_path, crds=[PROMETHEUS_CRD], operators=OPERATORS + [SERVICE_MONITOR_CRD])
    api.load("ready")
    code, report = doctor(root, config, capsys)
    assert code == 0 and rows(report, "pass")[("kind served", "monitoring.coreos.com/v1 ServiceMonitor")]["detail"] == \
        "delivered by stage monitoring-operators (CRD servicemonitors.monitoring.coreos.com)"


def test_kind_nobody_delivers(api, tmp_path, config, capsys):
    root = build_tree(tmp_path, crds=[SERVICE_MONITOR_CRD])
    api.load("ready")
    code, report = doctor(root, config, capsys)
    failed = rows(report, "fail")
    assert code == 1 and set(failed) == {("kind served", "monitoring.coreos.com/v1 Prometheus")}
    assert "no stage delivers its CRD" in failed[("kind served", "monitoring.coreos.com/v1 Prometheus")]["detail"]


def test_remote_resources_are_reported_not_resolved(api, tmp_path, config, capsys):
    url = ("https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/v0.93.0/example/"
           "prometheus-operator-crd/monitoring.coreos.com_prometheuses.yaml")
    root = build_tree(tmp_path, crds=[SERVICE_MONITOR_CRD], crd_urls=(url,))
    api.load("ready")
    code, report = doctor(root, config, capsys)
    warned = rows(report, "warn")
    assert code == 0 and set(warned) == {("resources readable offline", "stage monitoring-crds"),
                                         ("kind served", "monitoring.coreos.com/v1 Prometheus")}
    assert url in warned[("resources readable offline", "stage monitoring-crds")]["detail"]


def test_metrics_api_registered_but_not_available(api, tree, config, capsys):
    api.load("ready")
    api.responses[METRICS]["status"]["conditions"][0].update(
        status="False", reason="FailedDiscoveryCheck",
        message="failing or missing response from https://10.0.3.12:10250/apis/metrics.k8s.io/v1beta1: "
                "Get \"https://10.0.3.12:10250/apis/metrics.k8s.io/v1beta1\": context deadline exceeded")
    code, report = doctor(tree, config, capsys)
    failed = rows(report, "fail")
    assert code == 1 and set(failed) == {("metrics API", "APIService v1beta1.metrics.k8s.io")}
    assert failed[("metrics API", "APIService v1beta1.metrics.k8s.io")]["detail"].startswith(
        "registered but not Available: failing or missing response")


def test_no_hpa_needs_no_metrics_api(api, tmp_path, config, capsys):
    root = build_tree(tmp_path, stack=[o for o in STACK if o["kind"] != "HorizontalPodAutoscaler"])
    api.load("empty")
    code, report = doctor(root, config, capsys)
    assert code == 1 and "metrics API" not in {c for c, _ in rows(report)}


def test_storage_provisioner_missing(api, tree, config, capsys):
    api.load("ready")
    del api.responses[CSI]
    code, report = doctor(tree, config, capsys)
    failed = rows(report, "fail")
    target = ("storage provisioner", "StorageClass gp3-monitoring-encrypted -> CSIDriver ebs.csi.eks.amazonaws.com")
    assert code == 1 and set(failed) == {target}
    assert "blockStorage" in failed[target]["fix"] and "ebs.csi.aws.com" in failed[target]["fix"]


def test_placeholder_a_stage_applies(api, tmp_path, config, capsys):
    """The fixture overlay back on the default Grafana address, which a stage's object links to: the key
    fails; a default no stage uses (the Elasticsearch snapshot role) passes with its reason."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "alertmanager-config", "namespace": "monitoring"},
              "stringData": {"notifications.tmpl": "Grafana: https://grafana.example.org/alerting/list"}}
    root = build_tree(tmp_path, stack=STACK + [secret])
    overlay = root / "overlays" / f"{OVERLAY}.yaml"
    settings = yaml.safe_load(overlay.read_text())
    del settings["alerting"]["grafana_url"], settings["elasticsearch"]
    overlay.write_text(yaml.safe_dump(settings))
    api.load("ready")
    code, report = doctor(root, config, capsys)
    failed = rows(report, "fail")
    assert code == 1 and set(failed) == {("placeholder", "alerting.grafana_url")}
    assert failed[("placeholder", "alerting.grafana_url")]["detail"] == (
        "'https://grafana.example.org': grafana.example.org: example.org is reserved for documentation (RFC 2606, "
        f"RFC 6761); used in the stages of dist/flux/{OVERLAY}.yaml")
    assert rows(report, "pass")[("placeholder", "elasticsearch.snapshot_role_arn")]["detail"].startswith(
        "'arn:aws:iam::123456789012:role/openemr-monitoring-elasticsearch': 123456789012 is AWS's documentation account")


def _existing_namespace(api, name: str, labels: dict) -> None:
    recorded = copy.deepcopy(api.responses["/api/v1/namespaces/flux-system"])
    recorded["metadata"].update(name=name, labels={"kubernetes.io/metadata.name": name, **labels})
    api.responses[f"/api/v1/namespaces/{name}"] = recorded


@pytest.mark.parametrize("foreign, ours, detail", [
    ("monitoring", "monitoring-agents", "would adopt it"),  # kustomize.toolkit.fluxcd.io/prune: disabled
    ("monitoring-agents", "monitoring",
     "would adopt it, and delete it with everything in it once the stage no longer applies it"),
])
def test_namespace_owned_by_someone_else(api, tree, config, capsys, foreign, ours, detail):
    api.load("ready")
    _existing_namespace(api, foreign, {"team": "platform"})
    _existing_namespace(api, ours, {"app.kubernetes.io/part-of": PART_OF})
    code, report = doctor(tree, config, capsys)
    failed = rows(report, "fail")
    assert code == 1 and set(failed) == {("namespace free", f"Namespace {foreign}")}
    assert failed[("namespace free", f"Namespace {foreign}")]["detail"] == \
        f"exists without app.kubernetes.io/part-of: {PART_OF}: stage monitoring-operators {detail}"
    assert rows(report, "pass")[("namespace free", f"Namespace {ours}")]["detail"] == f"exists, labelled part-of {PART_OF}"


def test_aggregated_api_without_backend_is_not_served(api, config):
    """metrics.k8s.io stays listed in /apis while metrics-server is down; its resource list answers 503."""
    api.load("ready")
    api.errors["/apis/metrics.k8s.io/v1beta1"] = 503
    cluster = Cluster.connect(str(config), None)
    assert cluster.kinds("metrics.k8s.io/v1beta1") == {}
    api.errors.clear()
    assert Cluster.connect(str(config), None).kinds("metrics.k8s.io/v1beta1") == {"NodeMetrics": "nodes", "PodMetrics": "pods"}


# The committed dist/, whatever its layout: doctor walks what dist/flux/<overlay>.yaml names.

def test_committed_dist_on_the_recorded_clusters(api, config, capsys, tmp_path):
    api.load("ready")
    code, report = doctor(ROOT, config, capsys, overlay="hospital", dist=DIST)
    # The committed overlays keep the embedded defaults' documentation placeholders: each one the rendered
    # stages use fails with its key; the Elasticsearch snapshot role is not rendered for hospital (logs: loki).
    assert code == 1 and set(rows(report, "fail")) == {("placeholder", key) for key in HOSPITAL_PLACEHOLDERS}
    smarthost = rows(report, "fail")[("placeholder", "alerting.email.smarthost")]
    assert smarthost["detail"].startswith("'smtp.example.org:587': smtp.example.org: example.org is reserved")
    assert smarthost["fix"] == "set alerting.email.smarthost in overlays/hospital.yaml, then python main.py --overlay hospital"
    assert "python main.py aws discover --overlay hospital" in rows(report, "fail")[("placeholder", "loki.role_arn")]["fix"]
    assert rows(report, "pass")[("placeholder", "elasticsearch.snapshot_role_arn")]["detail"].endswith(
        "not used in the stages of dist/flux/hospital.yaml")
    delivery = [d for d in yaml.safe_load_all((DIST / "flux" / "hospital.yaml").read_text()) if d]
    served = {t.split(" ", 1)[1] for c, t in rows(report) if c == "kind served"}
    assert {"Prometheus", "ServiceMonitor", "StorageClass", "Namespace"} <= served
    assert {t for c, t in rows(report) if c == "Flux source Ready"} == {
        f"{d['spec']['sourceRef']['kind']} {d['metadata']['namespace']}/{d['spec']['sourceRef']['name']}" for d in delivery}
    # Issue 20: dist/ delivers everything it applies, so a cluster with nothing but `flux bootstrap` is
    # ready for it (its platform stage brings the metrics API and External Secrets' kinds), but for what
    # the cluster's owner must turn on: Auto Mode enforces no NetworkPolicy until its controller is on.
    api.load("empty")
    code, report = doctor(ROOT, config, capsys, overlay="hospital", dist=DIST)
    assert code == 1 and {r for r in rows(report, "fail") if r[0] != "placeholder"} == {ENFORCED}
    assert vpc_cni.ENABLE_COMMAND in rows(report, "fail")[ENFORCED]["fix"]
    assert ("kind served", "external-secrets.io/v1 ExternalSecret") in rows(report, "pass")
    # The same overlay with the keys set (a cluster overlay on hospital), rendered: the ready cluster passes.
    root = render_overlay(tmp_path, "configured", CONFIGURED)
    api.load("ready")
    code, report = doctor(root, config, capsys, overlay="configured")
    assert code == 0, [c for c in report["checks"] if c["status"] == "fail"]
    assert set(rows(report, "pass")) >= {("placeholder", "overlay configured")}


HOSPITAL_PLACEHOLDERS = {"loki.role_arn", "tempo.role_arn", "mimir.role_arn", "grafana.role_arn", "secrets.role_arn",
                         "alerting.email.to", "alerting.email.sender", "alerting.email.smarthost",
                         "alerting.email.username", "alerting.grafana_url", "alerting.runbook_url"}


def render_overlay(root, name: str, settings: dict):
    """overlays/<name>.yaml on top of the committed hospital overlay, rendered into root/dist."""
    overlays = root / "overlays"
    overlays.mkdir(exist_ok=True)
    (overlays / "hospital.yaml").write_text((ROOT / "overlays" / "hospital.yaml").read_text())
    (overlays / f"{name}.yaml").write_text(yaml.safe_dump({"base": "hospital", **settings}))
    result = run_main("--overlays", str(overlays), "--overlay", name, "--dist", str(root / "dist"))
    assert result.returncode == 0, result.stderr
    return root


ENFORCED = ("network policies enforced", "ConfigMap kube-system/amazon-vpc-cni enable-network-policy-controller")


def test_network_policies_must_be_enforced_or_managed(api, config, capsys, tmp_path):
    """The ConfigMap off fails; an overlay that manages it (network.policy_controller: manage) sets it in its
    platform stage, before the NetworkPolicies of the operators' stage, and passes on the empty cluster."""
    api.load("ready")
    api.responses["/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni"]["data"][vpc_cni.KEY] = "false"
    code, report = doctor(ROOT, config, capsys, overlay="hospital", dist=DIST)
    assert code == 1 and {r for r in rows(report, "fail") if r[0] != "placeholder"} == {ENFORCED}
    render_overlay(tmp_path, "managed", deep_merge(CONFIGURED, {"network": {"policy_controller": "manage"}}))
    api.load("empty")
    code, report = doctor(tmp_path, config, capsys, overlay="managed")
    assert code == 0 and rows(report, "pass")[ENFORCED]["detail"] == "set by stage monitoring-platform"


ANP = ("kind served", "networking.k8s.aws/v1alpha1 ApplicationNetworkPolicy")


def test_domain_name_egress_needs_the_cluster_to_serve_application_network_policies(api, config, capsys):
    """EKS Auto Mode serves the kind (recorded ready: pass); a cluster without it (standard EKS, an older
    platform version) fails, naming network.egress: cidr, before Flux's dry-run would fail the whole stage."""
    api.load("ready")
    code, report = doctor(ROOT, config, capsys, overlay="hospital", dist=DIST)
    # the committed overlay's only failures are its documentation placeholders (test_committed_dist_...)
    placeholders = {("placeholder", key) for key in HOSPITAL_PLACEHOLDERS}
    assert set(rows(report, "fail")) == placeholders and rows(report, "pass")[ANP]["detail"] == "served by the cluster"
    api.responses[APIS]["groups"] = [g for g in api.responses[APIS]["groups"] if g["name"] != "networking.k8s.aws"]
    del api.responses["/apis/networking.k8s.aws/v1alpha1"]
    code, report = doctor(ROOT, config, capsys, overlay="hospital", dist=DIST)
    failed = rows(report, "fail")
    assert code == 1 and set(failed) == {ANP} | placeholders
    assert "network.egress: cidr" in failed[ANP]["fix"] and "overlays/hospital.yaml" in failed[ANP]["fix"]
    assert "monitoring/alertmanager" in failed[ANP]["detail"] and "monitoring-stack" in failed[ANP]["detail"]
