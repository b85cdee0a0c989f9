"""Pod Security Standards, from the standard's text: would the namespace's admission admit each pod?

Every pod template, and every pod the operator creates from a Prometheus or Alertmanager CR (with its
config-reloader containers, as the operator builds them), is held to the level its namespace enforces
(`pod-security.kubernetes.io/enforce`). The controls, fields and allowed values are those of the
baseline and restricted tables of the standard (kubernetes.io/docs/concepts/security/pod-security-standards).
"""
from __future__ import annotations

from stackgen.components.elk import eck_model
from stackgen.manifests import Manifests, ref

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                         "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
                      "secret"}
ALLOWED_PROFILES = {None, "RuntimeDefault", "Localhost"}
# The prometheus-operator (pkg/operator/config_reloader.go) gives its config-reloader and
# init-config-reloader containers, and the prometheus/alertmanager containers, exactly this context.
OPERATOR_CONTAINER_CONTEXT = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                              "capabilities": {"drop": ["ALL"]}}
OPERATOR_VOLUMES = [{"name": "config", "secret": {}}, {"name": "tls-assets", "projected": {}},
                    {"name": "config-out", "emptyDir": {}}, {"name": "web-config", "secret": {}},
                    {"name": "storage", "persistentVolumeClaim": {}}]


def operator_pod_spec(cr: dict) -> dict:
    """The pod spec the operator renders for a CR: our pod context and volumes, its containers."""
    spec = cr["spec"]
    main = {"name": cr["kind"].lower(), "securityContext": OPERATOR_CONTAINER_CONTEXT}
    reloader = {"name": "config-reloader", "securityContext": OPERATOR_CONTAINER_CONTEXT}
    init = {"name": "init-config-reloader", "securityContext": OPERATOR_CONTAINER_CONTEXT}
    patched = {c["name"]: c for c in spec.get("containers", [])}
    containers = [{**c, **patched.get(c["name"], {})} for c in (main, reloader)]
    return {"securityContext": spec.get("securityContext", {}), "hostNetwork": spec.get("hostNetwork"),
            "containers": containers, "initContainers": [init, *spec.get("initContainers", [])],
            "volumes": OPERATOR_VOLUMES + spec.get("volumes", [])}


def _containers(spec: dict) -> list[dict]:
    return [*spec.get("initContainers", []), *spec.get("containers", []), *spec.get("ephemeralContainers", [])]


def _probe_hosts(container: dict) -> list[str]:
    probes = [container.get(p) or {} for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    hooks = [(container.get("lifecycle") or {}).get(h) or {} for h in ("postStart", "preStop")]
    return [action.get("host") for handler in probes + hooks for action in
            (handler.get("httpGet") or {}, handler.get("tcpSocket") or {}) if action.get("host")]


def baseline_violations(spec: dict, annotations: dict) -> list[str]:
    found = []
    pod = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            found.append(f"host namespaces: {field}")
    found += [f"hostPath volume {v['name']}" for v in spec.get("volumes", []) if "hostPath" in v]
    found += [f"sysctl {s['name']} is not in the safe set" for s in pod.get("sysctls", []) if s["name"] not in SAFE_SYSCTLS]
    if (pod.get("seccompProfile") or {}).get("type") == "Unconfined":
        found.append("seccomp Unconfined")
    if (pod.get("appArmorProfile") or {}).get("type") not in ALLOWED_PROFILES:
        found.append("AppArmor profile overridden")
    found += _selinux(pod, "pod")
    found += [f"AppArmor annotation {key}" for key, value in annotations.items()
              if key.startswith("container.apparmor.security.beta.kubernetes.io/")
              and not (value == "runtime/default" or value.startswith("localhost/"))]
    if (pod.get("windowsOptions") or {}).get("hostProcess"):
        found.append("Windows HostProcess")
    for container in _containers(spec):
        context, name = container.get("securityContext") or {}, container["name"]
        if context.get("privileged"):
            found.append(f"container {name}: privileged")
        if (context.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"container {name}: Windows HostProcess")
        extra = set((context.get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES
        if extra:
            found.append(f"container {name}: adds capabilities {sorted(extra)}")
        found += [f"container {name}: hostPort {p['hostPort']}" for p in container.get("ports", []) if p.get("hostPort")]
        found += [f"container {name}: probe or hook host {host!r}" for host in _probe_hosts(container)]
        if context.get("procMount", "Default") != "Default":
            found.append(f"container {name}: procMount {context['procMount']}")
        if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
            found.append(f"container {name}: seccomp Unconfined")
        if (context.get("appArmorProfile") or {}).get("type") not in ALLOWED_PROFILES:
            found.append(f"container {name}: AppArmor profile overridden")
        found += _selinux(context, f"container {name}")
    return found


def _selinux(context: dict, where: str) -> list[str]:
    options = context.get("seLinuxOptions") or {}
    found = [f"{where}: SELinux type {options['type']!r}"] if options.get("type", "") not in SELINUX_TYPES else []
    return found + [f"{where}: SELinux {key} set" for key in ("user", "role") if options.get(key)]


def restricted_violations(spec: dict, annotations: dict) -> list[str]:
    found = baseline_violations(spec, annotations)
    pod = spec.get("securityContext") or {}
    found += [f"volume {v['name']} is not of an allowed type" for v in spec.get("volumes", [])
              if not RESTRICTED_VOLUMES & {key for key, value in v.items() if value is not None}]
    if pod.get("runAsUser") == 0:
        found.append("pod runAsUser 0")
    for container in _containers(spec):
        context, name = container.get("securityContext") or {}, container["name"]
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name}: allowPrivilegeEscalation must be false")
        if context.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
            found.append(f"container {name}: runAsNonRoot must be true")
        if context.get("runAsUser") == 0:
            found.append(f"container {name}: runAsUser 0")
        seccomp = (context.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"container {name}: seccomp profile must be RuntimeDefault or Localhost")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"container {name}: capabilities must drop ALL")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"container {name}: may add only NET_BIND_SERVICE")
    return found


LEVELS = {"baseline": baseline_violations, "restricted": restricted_violations}


def pod_specs(m: Manifests):
    """(object ref, namespace, pod spec, pod annotations) of every pod the overlay makes exist."""
    for obj in m.of_kind("Deployment", "StatefulSet", "DaemonSet", "Job"):
        template = obj["spec"]["template"]
        yield ref(obj), obj["metadata"]["namespace"], template["spec"], template["metadata"].get("annotations") or {}
    for cr in m.of_kind("Elasticsearch", "Kibana"):  # what ECK runs from the podTemplate (eck_model.py)
        for role, _, _, spec in eck_model.pods(cr):
            yield f"{ref(cr)}/{role}", cr["metadata"]["namespace"], spec, {}
    for cr in m.of_kind("Prometheus", "Alertmanager"):
        annotations = (cr["spec"].get("podMetadata") or {}).get("annotations") or {}
        yield ref(cr), cr["metadata"]["namespace"], operator_pod_spec(cr), annotations


def check_pod_security_admission(m: Manifests) -> list[str]:
    problems = []
    for where, namespace, spec, pod_annotations in pod_specs(m):
        level = m.namespace_labels(namespace).get(ENFORCE_LABEL, "privileged")
        rule = LEVELS.get(level)
        if rule:
            problems += [f"{where}: namespace {namespace} enforces {level}: {v}" for v in rule(spec, pod_annotations)]
    return problems
