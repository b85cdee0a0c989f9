"""Data flows from OpenEMR into the stack: OTeBPF (traces, HTTP RED metrics), Fluent Bit (logs), the
optional sidecar for OpenEMR's log files, the policies between them, and the metrics catalog."""
from __future__ import annotations

import copy
import dataclasses
import os
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml
from conftest import DIST, OVERLAYS, clean_env, overlay_config, run_main, size_of
from stackgen import catalog, validate
from stackgen.checks.addresses import ADDRESS, resolve_url
from stackgen.checks.references import check_monitors_catalogued, selected_services
from stackgen.components.certificate_authority import CONTROLLER
from stackgen.flows import NODE_ADDRESS, Address, flow_allowed
from stackgen.manifests import Manifests, Pod, matches, service_backends
from stackgen.validate import load_tree

OPENEMR_POD = Pod("openemr", "openemr", {"app": "openemr"}, {"http": (80, "TCP"), "https": (443, "TCP")})
SIDECAR_DIR = "openemr-sidecar"


def one(objects, kind, name):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def config_map_yaml(objects, name, key):
    return yaml.safe_load(one(objects, "ConfigMap", name)["data"][key])


def pod(manifests, name):
    return next(p for p in manifests.pods() if p.labels.get("app.kubernetes.io/name") == name)


def container_of(workload):
    return workload["spec"]["template"]["spec"]["containers"][0]


def backends_at(manifests, address):
    """The pods behind an in-cluster address, and the port number they listen on."""
    assert resolve_url(manifests, address) is None, address
    match = ADDRESS.search(address)
    service = next(s for s in manifests.services() if s["metadata"]["name"] == match.group(1))
    port = next(p for p in service["spec"]["ports"] if p["port"] == int(match.group(3)))
    pods = service_backends(manifests, service)
    assert pods, address
    return [(p, p.ports[port["targetPort"]][0]) for p in pods]


# --- OTeBPF ---------------------------------------------------------------------------------------

def test_otebpf_has_host_pid_and_the_documented_capabilities_not_privileged(objects):
    daemon = one(objects, "DaemonSet", "otebpf")
    spec, container = daemon["spec"]["template"]["spec"], container_of(daemon)
    context = container["securityContext"]
    assert spec["hostPID"] is True and not spec.get("hostNetwork")
    assert set(context["capabilities"]["add"]) == {"BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH",
                                                   "CHECKPOINT_RESTORE", "NET_RAW"}
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not context.get("privileged") and context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert container["image"] == "docker.io/otel/ebpf-instrument:v1.0.0"


def test_otebpf_discovers_openemr_by_namespace_and_labels_with_kubernetes_attributes(objects):
    config = config_map_yaml(objects, "otebpf-config", "config.yaml")
    assert config["discovery"]["instrument"] == [{"k8s_namespace": "openemr", "k8s_pod_labels": {"app": "openemr"}}]
    assert config["attributes"]["kubernetes"]["enable"] == "true"
    daemon = one(objects, "DaemonSet", "otebpf")
    path = next(e["value"] for e in container_of(daemon)["env"] if e["name"] == "OTEL_EBPF_CONFIG_PATH")
    mount = next(m for m in container_of(daemon)["volumeMounts"] if m["name"] == "config")
    assert path == f"{mount['mountPath']}/config.yaml"


def test_otebpf_traces_reach_tempo_otlp_http_on_the_v1_traces_path(manifests):
    config = config_map_yaml(manifests.objects, "otebpf-config", "config.yaml")
    export = config["otel_traces_export"]
    assert export["protocol"] == "http/protobuf" and export["endpoint"].endswith(":4318/v1/traces")
    source = pod(manifests, "otebpf")
    for tempo, number in backends_at(manifests, export["endpoint"]):
        assert number == 4318
        assert flow_allowed(manifests, source, tempo, number)


def test_otebpf_metrics_ports_are_the_ones_it_serves(objects):
    config = config_map_yaml(objects, "otebpf-config", "config.yaml")
    ports = {p["name"]: p["containerPort"] for p in container_of(one(objects, "DaemonSet", "otebpf"))["ports"]}
    served = {config["prometheus_export"]["port"]: config["prometheus_export"]["path"],
              config["internal_metrics"]["prometheus"]["port"]: config["internal_metrics"]["prometheus"]["path"]}
    monitor = one(objects, "PodMonitor", "otebpf")
    assert {(ports[e["port"]], e["path"]) for e in monitor["spec"]["podMetricsEndpoints"]} == set(served.items())


def test_otebpf_cluster_role_only_reads(objects):
    role = one(objects, "ClusterRole", "monitoring-agents-otebpf")
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} <= {"get", "list", "watch"}
    assert not any("secrets" in rule["resources"] for rule in role["rules"])


def test_otebpf_disabled_removes_it_and_whatever_admits_it(tmp_path):
    out = tmp_path / "dist"
    result = run_main("--overlay", "hospital", "--dist", str(out), env=clean_env(OTEBPF_ENABLED="0"))
    assert result.returncode == 0, result.stderr
    assert "OTeBPF is off" in result.stdout
    objects = load_tree(out / "hospital")
    assert not [o for o in objects if "app.kubernetes.io/name: otebpf" in yaml.safe_dump(o)]
    assert not (out / "hospital" / "otebpf.yaml").exists()
    assert validate.validate_overlay(out / "hospital") == []
    # The rules on OpenEMR's HTTP metrics go with it; the others stay.
    rules = {o["metadata"]["name"] for o in objects if o["kind"] == "PrometheusRule"}
    from test_rules import GROUPS
    assert rules == GROUPS - {"openemr-service", "openemr-slo"}
    # The rest is untouched: every other file renders exactly as committed.
    for path in (DIST / "hospital").glob("*.yaml"):
        if path.name not in ("otebpf.yaml", "tempo.yaml", "prometheus.yaml", "rules.yaml", "kustomization.yaml"):
            assert (out / "hospital" / path.name).read_text() == path.read_text(), path.name


# --- Fluent Bit -------------------------------------------------------------------------------------

def fluent_bit_config(objects):
    return config_map_yaml(objects, "fluent-bit-config", "fluent-bit.yaml")


def test_fluent_bit_reads_every_container_log_with_kubernetes_metadata(objects):
    daemon = one(objects, "DaemonSet", "fluent-bit")
    pipeline = fluent_bit_config(objects)["pipeline"]
    [source] = [i for i in pipeline["inputs"] if i["name"] == "tail"]
    assert source["path"] == "/var/log/containers/*.log"
    assert "cri" in source["multiline.parser"]
    kubernetes = next(f for f in pipeline["filters"] if f["name"] == "kubernetes")
    assert kubernetes["match"] == source["tag"]
    mounts = {m["mountPath"]: m for m in container_of(daemon)["volumeMounts"]}
    assert mounts["/var/log"]["readOnly"] is True
    # Toleration of every taint: a node whose logs nobody reads is a node without logs.
    assert daemon["spec"]["template"]["spec"]["tolerations"] == [{"operator": "Exists"}]


def loki_output(config: dict) -> dict:
    [output] = [o for o in config["pipeline"]["outputs"] if o["name"] == "loki"]
    return output


def test_fluent_bit_pushes_to_lokis_push_api_with_the_labels_asked_for(manifests):
    output = loki_output(fluent_bit_config(manifests.objects))
    assert output["name"] == "loki" and output["uri"] == "/loki/api/v1/push"
    labels = dict(pair.strip().split("=", 1) for pair in output["labels"].split(","))
    assert set(labels) == {"job", "cluster", "namespace", "pod", "container", "app"}
    # From the log file's name (available without the API); only `app` needs the pod's metadata.
    assert labels["namespace"] == "$k8s_namespace" and labels["app"] == "$kubernetes['labels']['app']"
    source = pod(manifests, "fluent-bit")
    for loki, number in backends_at(manifests, f"{output['host']}:{output['port']}"):
        assert loki.labels["app.kubernetes.io/name"] in ("loki", "loki-write")
        assert flow_allowed(manifests, source, loki, number)


def test_fluent_bit_buffers_on_the_node_disk_and_retries_without_limit(objects):
    config = fluent_bit_config(objects)
    output = loki_output(config)
    # The container logs, and OpenEMR's file logs forwarded by its sidecar where Elasticsearch takes them.
    assert {i["storage.type"] for i in config["pipeline"]["inputs"]} == {"filesystem"}
    [source] = [i for i in config["pipeline"]["inputs"] if i["name"] == "tail"]
    assert output["retry_limit"] == "no_limits" and output["storage.total_limit_size"] == "2G"
    daemon = one(objects, "DaemonSet", "fluent-bit")
    host_paths = {v["name"]: v["hostPath"]["path"] for v in daemon["spec"]["template"]["spec"]["volumes"] if "hostPath" in v}
    state = next(m["mountPath"] for m in container_of(daemon)["volumeMounts"] if m["name"] == "state")
    assert host_paths["state"] == state == "/var/lib/fluent-bit"
    # Both the buffer and the tail offsets survive a restart of the pod.
    assert config["service"]["storage.path"].startswith(state + "/") and source["db"].startswith(state + "/")


def test_fluent_bit_runs_as_root_only_to_read_root_owned_logs(objects):
    context = container_of(one(objects, "DaemonSet", "fluent-bit"))["securityContext"]
    assert context["runAsUser"] == 0 and context["capabilities"] == {"drop": ["ALL"]}
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False


# --- the OpenEMR side ---------------------------------------------------------------------------------

def openemr_deployment() -> dict:
    """OpenEMR as CONTEXT.md describes it (the app team's Deployment, not rendered by us)."""
    probe = {"httpGet": {"path": "/interface/login/login.php", "port": 80}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "openemr", "namespace": "openemr"},
            "spec": {"selector": {"matchLabels": {"app": "openemr"}}, "template": {
                "metadata": {"labels": {"app": "openemr"}},
                "spec": {"containers": [{
                    "name": "openemr", "image": "openemr/openemr:7.0.4",
                    "ports": [{"name": "http", "containerPort": 80}, {"name": "https", "containerPort": 443}],
                    "readinessProbe": probe, "livenessProbe": probe,
                    "volumeMounts": [{"name": "sites", "mountPath": "/var/www/localhost/htdocs/openemr/sites"}]}],
                    "volumes": [{"name": "sites", "persistentVolumeClaim": {"claimName": "openemr-sites"}}]}}}}


MERGE_KEYS = {"containers": "name", "volumes": "name", "env": "name", "volumeMounts": "mountPath", "ports": "containerPort"}


def strategic_merge(base, patch, key=None):
    """The subset of kustomize's strategic merge the patch uses: maps merge, named lists merge by key."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for name, value in patch.items():
            merged[name] = strategic_merge(base[name], value, name) if name in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and key in MERGE_KEYS:
        by_key = {item[MERGE_KEYS[key]]: item for item in base}
        merged = [strategic_merge(by_key[i[MERGE_KEYS[key]]], i) if i[MERGE_KEYS[key]] in by_key else i for i in patch]
        patched = {item[MERGE_KEYS[key]] for item in patch}
        return [item for item in base if item[MERGE_KEYS[key]] not in patched] + merged
    return copy.deepcopy(patch)


def sidecar_files(overlay_name):
    directory = DIST / overlay_name / SIDECAR_DIR
    return {path.name: [d for d in yaml.safe_load_all(path.read_text()) if d] for path in directory.glob("*.yaml")}


def patched_openemr():
    files = sidecar_files("large")
    assert set(files) == {"kustomization.yaml", "fluent-bit-sidecar.yaml", "network-policy.yaml"}
    [kustomization] = files["kustomization.yaml"]
    # the sidecar's ConfigMap and its own Certificate (TLS to the stack, tests/test_tls_clients.py)
    [config_map], [certificate] = ([d for d in files["fluent-bit-sidecar.yaml"] if d["kind"] == kind]
                                   for kind in ("ConfigMap", "Certificate"))
    assert len(files["fluent-bit-sidecar.yaml"]) == 2 and certificate["metadata"]["namespace"] == "openemr"
    assert kustomization["kind"] == "Component"
    assert kustomization["resources"] == ["fluent-bit-sidecar.yaml", "network-policy.yaml"]
    [entry] = kustomization["patches"]
    assert entry["target"] == {"kind": "Deployment", "name": "openemr"}
    patch = yaml.safe_load(entry["patch"])
    assert patch["kind"] == "Deployment" and patch["metadata"]["name"] == "openemr"
    assert "selector" not in patch["spec"], "the patch must not replace OpenEMR's own selector"
    return strategic_merge(openemr_deployment(), patch), config_map


def test_sidecar_mode_is_opt_in():
    chosen = [o for o in OVERLAYS if overlay_config(o).fluent_bit.sidecar.enabled]
    assert chosen == ["hospital-elk", "large"]
    assert [o for o in OVERLAYS if (DIST / o / SIDECAR_DIR).is_dir()] == chosen
    for overlay in chosen:
        assert not (DIST / overlay / "kustomization.yaml").read_text().count(SIDECAR_DIR), \
            "the Component belongs to the OpenEMR kustomization, not to the monitoring one"


def test_sidecar_patch_yields_a_valid_openemr_deployment():
    deployment, config_map = patched_openemr()
    for version in validate.SUPPORTED_KUBERNETES:
        kubernetes_validate.validate(deployment, version, strict=True)
        kubernetes_validate.validate(config_map, version, strict=True)
    spec = deployment["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["openemr", "fluent-bit"]
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "openemr"}}
    names = [p["name"] for c in spec["containers"] for p in c.get("ports", [])]
    assert len(names) == len(set(names)), "port names must be unique in a pod"
    sidecar = spec["containers"][1]
    assert sidecar["securityContext"]["runAsNonRoot"] is True and sidecar["securityContext"]["runAsUser"] == 65534
    assert config_map["metadata"]["namespace"] == "openemr"


def test_sidecar_tails_files_the_app_really_writes_to_the_shared_volume():
    """The seed's defect 7: the sidecar tailed files that were never on the volume it shared."""
    deployment, config_map = patched_openemr()
    spec = deployment["spec"]["template"]["spec"]
    app, sidecar = spec["containers"]
    fluent_bit = yaml.safe_load(config_map["data"]["fluent-bit.yaml"])
    ini = config_map["data"]["zz-openemr-observability.ini"]

    def volume_at(container, path):
        mounts = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
        return max(mounts, key=lambda m: len(m["mountPath"]))["name"] if mounts else None

    # Apache writes ${APACHE_LOG_DIR}/{access,error}.log (the image sets APACHE_LOG_DIR=/var/log/apache2).
    apache = ["/var/log/apache2/access.log", "/var/log/apache2/error.log"]
    php_error_log = next(line.split("=", 1)[1].strip() for line in ini.splitlines() if line.startswith("error_log"))
    tailed = [p.strip() for source in fluent_bit["pipeline"]["inputs"] for p in source["path"].split(",")]
    assert set(tailed) == {*apache, php_error_log}
    shared = {volume_at(app, path) for path in tailed} | {volume_at(sidecar, path) for path in tailed}
    assert len(shared) == 1 and None not in shared
    [volume] = [v for v in spec["volumes"] if v["name"] in shared]
    assert "emptyDir" in volume
    # PHP-FPM reads the extra ini directory: the compiled-in one first (leading ':'), then ours.
    scan = next(e["value"] for e in app["env"] if e["name"] == "PHP_INI_SCAN_DIR")
    ini_mount = next(m for m in app["volumeMounts"] if m["mountPath"] == scan.lstrip(":"))
    ini_volume = next(v for v in spec["volumes"] if v["name"] == ini_mount["name"])
    assert scan.startswith(":") and ini_volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert [i["key"] for i in ini_volume["configMap"]["items"]] == ["zz-openemr-observability.ini"]
    # The sidecar reads the config it is given, and keeps offsets and buffer on its own writable volume.
    mount_of = {m["name"]: m["mountPath"] for m in sidecar["volumeMounts"]}
    command = sidecar["command"][-1].split("=", 1)[1]
    assert command.startswith(mount_of["fluent-bit-sidecar-config"] + "/")
    databases = [source["db"] for source in fluent_bit["pipeline"]["inputs"]]
    assert all(db.startswith(mount_of["fluent-bit-buffer"] + "/") for db in databases)
    assert len(set(databases)) == len(databases)  # db.locking: one input per offsets database


def test_sidecar_pushes_to_loki_through_the_openemr_egress_policy():
    # The policy lives in the app's namespace, so it comes with the app's Component, not the overlay.
    [policy] = sidecar_files("large")["network-policy.yaml"]
    objects = [*load_tree(DIST / "large"), policy]
    manifests = Manifests(objects)
    _, config_map = patched_openemr()
    [output] = yaml.safe_load(config_map["data"]["fluent-bit.yaml"])["pipeline"]["outputs"]
    assert policy["metadata"]["namespace"] == "openemr" and policy["spec"]["policyTypes"] == ["Egress"]
    assert matches(policy["spec"]["podSelector"], OPENEMR_POD.labels)
    for loki, number in backends_at(manifests, f"{output['host']}:{output['port']}"):
        assert flow_allowed(manifests, OPENEMR_POD, loki, number)
        assert not flow_allowed(manifests, OPENEMR_POD, loki, 9095)
    assert not flow_allowed(manifests, OPENEMR_POD, pod(manifests, "grafana"), 3000)
    assert not flow_allowed(manifests, OPENEMR_POD, Address("52.216.0.10"), 443)


def test_the_monitoring_overlay_holds_nothing_for_the_app_namespace(objects):
    """It must apply to a cluster where OpenEMR is not installed yet (a NetworkPolicy in a namespace that
    does not exist fails the whole Flux Kustomization); the app's objects come with its Component."""
    assert not [o for o in objects if o["metadata"].get("namespace") == "openemr"]


# --- flows ----------------------------------------------------------------------------------------

def scrape_targets(manifests):
    """(monitor, pod, port number) for every target a rendered monitor makes Prometheus scrape."""
    targets = []
    for monitor in manifests.of_kind("ServiceMonitor"):
        services, _ = selected_services(manifests, monitor)
        for service in services:
            for endpoint in monitor["spec"]["endpoints"]:
                port = next(p for p in service["spec"]["ports"] if p["name"] == endpoint["port"])
                targets += [(monitor["metadata"]["name"], p, p.ports[port["targetPort"]][0])
                            for p in service_backends(manifests, service)]
    for monitor in manifests.of_kind("PodMonitor"):
        for p in manifests.pods():
            if p.namespace == monitor["metadata"]["namespace"] and matches(monitor["spec"]["selector"], p.labels):
                targets += [(monitor["metadata"]["name"], p, p.ports[e["port"]][0])
                            for e in monitor["spec"]["podMetricsEndpoints"]]
    return targets


def test_prometheus_reaches_every_scrape_target(manifests):
    targets = scrape_targets(manifests)
    # The kubelets and the API server are outside the overlay: reached by address below; cert-manager's
    # controller is the platform stage's chart: reached as its pods are labelled there.
    monitors = {m["metadata"]["name"] for m in manifests.of_kind("ServiceMonitor", "PodMonitor")} - {
        "kubelet", "apiserver", "cert-manager"}
    assert {name for name, _, _ in targets} == monitors
    prometheus = pod(manifests, "prometheus")
    blocked = [(name, p.owner, number) for name, p, number in targets if not flow_allowed(manifests, prometheus, p, number)]
    assert blocked == []
    assert flow_allowed(manifests, prometheus, Address(NODE_ADDRESS), 10250)  # kubelet
    assert flow_allowed(manifests, prometheus, Address("10.100.0.1"), 443)  # API server endpoints
    cert_manager = Pod("Deployment/cert-manager", "cert-manager", CONTROLLER, {"http-metrics": (9402, "TCP")})
    assert flow_allowed(manifests, prometheus, cert_manager, 9402)
    assert not flow_allowed(manifests, prometheus, dataclasses.replace(cert_manager, labels={}), 9402)


COLLECTION_FLOWS = [("otebpf", "tempo-push", 4318), ("fluent-bit", "loki-push", 3100)]
FORBIDDEN = [("otebpf", "loki-push", 3100), ("fluent-bit", "tempo-push", 4318), ("fluent-bit", "grafana", 3000),
             ("otebpf", "prometheus", 9090), ("fluent-bit", "alertmanager", 9093), ("otebpf", "mimir-push", 8080)]
PUSH = {"tempo-push": {"clinic": "tempo", "hospital": "tempo-distributor", "large": "tempo-distributor"},
        "loki-push": {"clinic": "loki", "hospital": "loki-write", "large": "loki-write"},
        "mimir-push": {"clinic": "mimir", "hospital": "mimir-distributor", "large": "mimir-distributor"}}


def named(manifests, overlay, name):
    return pod(manifests, PUSH[name][size_of(overlay)] if name in PUSH else name)


@pytest.mark.parametrize("source,destination,port", COLLECTION_FLOWS)
def test_collection_flow_is_allowed(manifests, overlay, source, destination, port):
    assert flow_allowed(manifests, named(manifests, overlay, source), named(manifests, overlay, destination), port)


@pytest.mark.parametrize("source,destination,port", FORBIDDEN)
def test_collector_cannot_reach_what_it_does_not_need(manifests, overlay, source, destination, port):
    assert not flow_allowed(manifests, named(manifests, overlay, source), named(manifests, overlay, destination), port)


def test_nothing_outside_the_namespace_reaches_alertmanager_or_grafana(manifests):
    for outsider in (OPENEMR_POD, Pod("other", "default", {"app": "anything"}, {})):
        for name, port in (("alertmanager", 9093), ("alertmanager", 9094), ("grafana", 3000), ("prometheus", 9090)):
            assert not flow_allowed(manifests, outsider, pod(manifests, name), port)


# --- metrics catalog ---------------------------------------------------------------------------------

def test_every_monitor_scrapes_a_catalogued_component(manifests):
    assert check_monitors_catalogued(manifests) == []
    monitors = manifests.of_kind("ServiceMonitor", "PodMonitor")
    renamed = copy.deepcopy(monitors[0])
    renamed["metadata"]["name"] = "uncatalogued-exporter"
    assert catalog.check_monitors_catalogued([renamed]) == [
        f"{renamed['kind']}/monitoring/uncatalogued-exporter: scrapes a component whose metrics are not in metrics.yaml"]


def test_catalog_names_no_monitor_that_no_overlay_renders():
    rendered = {o["metadata"]["name"] for name in OVERLAYS for o in load_tree(DIST / name)
                if o["kind"] in ("ServiceMonitor", "PodMonitor")}
    # Components of an optional switch (`rendered_with`) are rendered by the overlay that turns it on.
    assert set(catalog.monitored_components()) == rendered


def test_catalog_lists_the_otebpf_http_metrics_and_tempo_span_metrics():
    assert {"http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_count"} <= \
        catalog.component_series("otebpf")
    assert "traces_spanmetrics_calls_total" in catalog.component_series("tempo-span-metrics")
    assert "http_server_request_duration_seconds_total" not in catalog.all_series()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl absent")
def test_the_app_kustomization_takes_the_sidecar_component(tmp_path):
    """The real kustomize applies the Component's inline patch to OpenEMR's own Deployment."""
    (tmp_path / "deployment.yaml").write_text(yaml.safe_dump(openemr_deployment()))
    component = os.path.relpath(DIST / "large" / SIDECAR_DIR, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["deployment.yaml"],
                                                                 "components": [component]}))
    result = subprocess.run(["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    built = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(result.stdout) if d}
    deployment, expected = built[("Deployment", "openemr")], patched_openemr()[0]
    assert {c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]} == \
        {c["name"] for c in expected["spec"]["template"]["spec"]["containers"]}
    assert ("NetworkPolicy", "openemr-to-monitoring") in built and ("ConfigMap", "openemr-fluent-bit") in built
