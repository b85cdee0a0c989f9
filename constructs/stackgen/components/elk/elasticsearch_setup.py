"""What the free (basic) licence cannot declare through ECK, applied by an idempotent Job through the
Elasticsearch API: ILM (rollover, delete after `elasticsearch.retention`), the index template of the
`kubernetes-logs` data stream (settings and the mapping of the fields Fluent Bit sends), the S3
snapshot repository, the snapshot lifecycle policy, and least-privilege roles and users for Fluent Bit
and the exporter. Request bodies use the field names of the pinned version's parsers (tests check them
against tests/fixtures/eck/elasticsearch-api-fields.yaml); the program is es_setup_script.py.

The Job mounts ECK's `elastic` Secret and CA (its pod waits until ECK has made them), waits for the
cluster, applies the plan and writes each user's Secret through the Kubernetes API: Fluent Bit's in the
agents' namespace, with the CA it verifies Elasticsearch with. Flux recreates the Job when the plan
changes (force), since a Job's pod template cannot be updated in place, and an hour after it finished
(the Job deletes itself then, and Flux's next reconcile applies it again): a Job that failed because
Elasticsearch came up late runs again, and an ILM policy or saved search changed by hand is put back.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import cdk8s
import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen import versions
from stackgen.components.elk import eck_model, elasticsearch
from stackgen.context import Context
from stackgen.lib.meta import Identity
from stackgen.lib.netpol import Peer, Policy, cidrs, component_policy, rule
from stackgen.lib.rbac import role
from stackgen.lib.workload import ContainerSpec, PodSpec, Port, checksum, justified, service_account
from stackgen.settings import Resources

if TYPE_CHECKING:
    from stackgen.config import StackConfig

NAME = "elasticsearch-setup"
DATA_STREAM = "kubernetes-logs"
REPOSITORY = "s3-snapshots"
SLM_POLICY = "nightly-snapshots"
SHIPPER_USER, SHIPPER_ROLE = "fluent-bit", "log-shipper"
EXPORTER_USER, EXPORTER_ROLE = "elasticsearch-exporter", "metrics-reader"
GRAFANA_USER, GRAFANA_ROLE = "grafana", "log-reader"
# Written by this Job into the agents' namespace: Fluent Bit's user and the cluster's CA.
SHIPPER_SECRET = "elasticsearch-fluent-bit"
SCRIPT = Path(__file__).with_name("es_setup_script.py")
SCRIPT_DIR, PLAN_DIR = "/opt/setup", "/etc/setup"
KUBE_API = Port("https", 443)
RESOURCES = Resources(cpu_request="10m", memory_request="32Mi", cpu_limit="200m", memory_limit="128Mi")

KEYWORD, TEXT = {"type": "keyword"}, {"type": "text"}
# What the pipeline indexes (es_shipping.py): the raw line, the file-name fields, the kubernetes filter's
# metadata, and the Apache access, Apache error and PHP error fields the parsers extract.
MAPPING = {
    "@timestamp": {"type": "date"},
    "log": TEXT, "stream": KEYWORD,
    "k8s_namespace": KEYWORD, "k8s_pod": KEYWORD, "k8s_container": KEYWORD, "k8s_container_id": KEYWORD,
    "kubernetes": {"properties": {
        "namespace_name": KEYWORD, "pod_name": KEYWORD, "container_name": KEYWORD, "container_image": KEYWORD,
        "host": KEYWORD, "pod_id": KEYWORD, "docker_id": KEYWORD,
        "labels": {"type": "object", "dynamic": True}}},
    "client_ip": {"type": "ip"}, "remote_user": KEYWORD, "method": KEYWORD, "path": KEYWORD,
    "http_version": KEYWORD, "status": {"type": "short"}, "bytes": {"type": "long"}, "referer": KEYWORD,
    "user_agent": KEYWORD,
    "apache_module": KEYWORD, "apache_level": KEYWORD, "apache_pid": {"type": "long"}, "apache_client": KEYWORD,
    "apache_message": TEXT,
    "php_level": KEYWORD, "php_message": TEXT, "php_file": KEYWORD, "php_line": {"type": "integer"},
}


def ilm_policy(stack: StackConfig) -> dict:
    es = stack.elasticsearch
    # Deletion counts from rollover, so a document lives at most retention + rollover_age.
    return {"policy": {"phases": {
        "hot": {"min_age": "0ms", "actions": {"rollover": {"max_age": es.rollover_age,
                                                           "max_primary_shard_size": "25gb"}}},
        "delete": {"min_age": es.retention, "actions": {"delete": {}}}}}}


def index_template(stack: StackConfig) -> dict:
    return {
        "index_patterns": [f"{DATA_STREAM}*"],
        "data_stream": {},
        "priority": 500,
        "template": {
            "settings": {"index.lifecycle.name": DATA_STREAM, "index.number_of_shards": 1,
                         "index.number_of_replicas": stack.elasticsearch.index_replicas},
            # Other fields are kept in _source and mapped as they come; the searches use only these.
            "mappings": {"dynamic": True, "properties": MAPPING},
        },
        "_meta": {"description": "Container logs shipped by Fluent Bit (stackgen)"},
    }


def snapshot_repository(stack: StackConfig) -> dict:
    return {"type": "s3", "settings": {"bucket": stack.elasticsearch.snapshot_bucket,
                                       "base_path": f"{stack.cluster_name}/{stack.namespace}",
                                       "server_side_encryption": True}}


def slm_policy(stack: StackConfig) -> dict:
    es = stack.elasticsearch
    return {"schedule": es.snapshot_schedule, "name": "<nightly-{now/d}>", "repository": REPOSITORY,
            "config": {"indices": [f"{DATA_STREAM}*"], "include_global_state": False},
            "retention": {"expire_after": es.snapshot_retention, "min_count": 3, "max_count": 100}}


def roles() -> dict[str, dict]:
    return {
        # Appending to the data stream only: no read, no delete, no mapping changes.
        SHIPPER_ROLE: {"indices": [{"names": [f"{DATA_STREAM}*"], "privileges": ["create_doc", "auto_configure"]}]},
        GRAFANA_ROLE: {"indices": [{"names": [f"{DATA_STREAM}*"], "privileges": ["read", "view_index_metadata"]}]},
        EXPORTER_ROLE: {"cluster": ["monitor", "monitor_snapshot"],
                        "indices": [{"names": ["*"], "privileges": ["monitor"]}]},
    }


def requests(stack: StackConfig) -> list[dict]:
    """In order: the policy the template names exists before the template, the repository before SLM."""
    return [
        {"method": "PUT", "path": f"/_ilm/policy/{DATA_STREAM}", "body": ilm_policy(stack)},
        {"method": "PUT", "path": f"/_index_template/{DATA_STREAM}", "body": index_template(stack)},
        {"method": "PUT", "path": f"/_snapshot/{REPOSITORY}", "body": snapshot_repository(stack)},
        {"method": "PUT", "path": f"/_slm/policy/{SLM_POLICY}", "body": slm_policy(stack)},
        *({"method": "PUT", "path": f"/_security/role/{name}", "body": body} for name, body in roles().items()),
    ]


def plan(stack: StackConfig, labels: dict[str, str]) -> dict:
    return {
        "url": elasticsearch.http_url(stack), "labels": labels, "requests": requests(stack),
        "users": [
            {"username": SHIPPER_USER, "roles": [SHIPPER_ROLE], "with_ca": True,
             "secret": {"namespace": stack.agents_namespace, "name": SHIPPER_SECRET}},
            {"username": EXPORTER_USER, "roles": [EXPORTER_ROLE],
             "secret": {"namespace": stack.namespace, "name": elasticsearch.EXPORTER_USER_SECRET}},
            {"username": GRAFANA_USER, "roles": [GRAFANA_ROLE], "with_ca": True,
             "secret": {"namespace": stack.namespace, "name": elasticsearch.GRAFANA_SECRET}},
        ],
    }


def written_secrets(stack: StackConfig) -> str:
    return ";".join([f"{stack.agents_namespace}/{SHIPPER_SECRET}=username,password,ca.crt",
                     f"{stack.namespace}/{elasticsearch.EXPORTER_USER_SECRET}=username,password",
                     f"{stack.namespace}/{elasticsearch.GRAFANA_SECRET}=username,password,ca.crt"])


def secret_writer_role(scope: Construct, identity: Identity, namespace: str, *secrets: str) -> None:
    """Create Secrets in `namespace`, read and update only the named ones (create cannot name its object)."""
    role(scope, identity, [
        k.PolicyRule(api_groups=[""], resources=["secrets"], verbs=["create"]),
        k.PolicyRule(api_groups=[""], resources=["secrets"], resource_names=list(secrets), verbs=["get", "update"])],
        namespace)


# After a success or a failure: the setup is idempotent, and nothing else would retry a failed one.
RERUN_AFTER_SECONDS = 3600


def setup_job(scope: Construct, identity: Identity, *, args: list[str], config_map: str, config_files: str,
              ca_secret: str, annotations: dict[str, str] | None = None, api_access: str = "") -> k.KubeJob:
    """A run-to-completion pod of the restricted profile: the program, its input, ECK's `elastic`
    password and the CA of the service it calls, all read-only."""
    container = ContainerSpec(
        name="setup", image=versions.SETUP_PYTHON.ref, resources=RESOURCES, ports=[], readiness=None, liveness=None,
        no_liveness="a run-to-completion Job: it exits when done, and the kubelet restarts it on failure",
        command=["python", "-u", f"{SCRIPT_DIR}/setup.py", *args],
        env=[k.EnvVar(name="PYTHONDONTWRITEBYTECODE", value="1")], uid=65534,
        mounts=[k.VolumeMount(name=name, mount_path=path, read_only=True) for name, path in (
            ("program", SCRIPT_DIR), ("input", PLAN_DIR), ("elastic-user", "/etc/elastic-user"),
            ("ca", "/etc/stack-ca"))])
    pod = PodSpec(identity, [container], uid=65534, api_access=api_access, annotations={
        "checksum/input": checksum(config_files)}, volumes=[
        k.Volume(name="program", config_map=k.ConfigMapVolumeSource(
            name=NAME, items=[k.KeyToPath(key="setup.py", path="setup.py")])),
        k.Volume(name="input", config_map=k.ConfigMapVolumeSource(name=config_map)),
        k.Volume(name="elastic-user", secret=k.SecretVolumeSource(
            secret_name=eck_model.elastic_user_secret(elasticsearch.NAME),
            items=[k.KeyToPath(key="elastic", path="elastic")])),
        k.Volume(name="ca", secret=k.SecretVolumeSource(
            secret_name=ca_secret, items=[k.KeyToPath(key="ca.crt", path="ca.crt")]))])
    job = k.KubeJob(scope, "job", metadata=identity.meta(annotations={
        # A Job's pod template is immutable: Flux replaces the Job when the plan changes.
        "kustomize.toolkit.fluxcd.io/force": "enabled", **justified(pod), **(annotations or {})}),
        spec=k.JobSpec(backoff_limit=4, active_deadline_seconds=3600, ttl_seconds_after_finished=RERUN_AFTER_SECONDS,
                       template=pod.template()))
    job.add_json_patch(cdk8s.JsonPatch.add("/spec/template/spec/restartPolicy", "OnFailure"))
    return job


class ElasticsearchSetup(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, NAME)
        stack = ctx.config
        if not elasticsearch.enabled(stack):
            return
        identity = ctx.identity(NAME, "setup", versions.ELASTICSEARCH)
        text = json.dumps(plan(stack, identity.labels), indent=2, sort_keys=True)
        k.KubeConfigMap(self, "config", metadata=identity.meta(),
                        data={"setup.py": SCRIPT.read_text(), "plan.json": text})
        service_account(self, identity)
        secret_writer_role(self, identity, stack.namespace, elasticsearch.EXPORTER_USER_SECRET,
                           elasticsearch.GRAFANA_SECRET)
        secret_writer_role(self, identity, stack.agents_namespace, SHIPPER_SECRET)
        setup_job(self, identity, args=["elasticsearch", f"{PLAN_DIR}/plan.json"], config_map=NAME,
                  config_files=text + SCRIPT.read_text(), ca_secret=eck_model.ca_secret(elasticsearch.NAME),
                  annotations={eck_model.WRITES_SECRETS_ANNOTATION: written_secrets(stack)},
                  api_access="writes the Secrets of the users it creates (Fluent Bit's, the exporter's)")
        component_policy(self, identity, Policy(egress=[
            rule([elasticsearch.pods(ctx)], [elasticsearch.HTTPS]),
            rule(cidrs(stack.network.kube_api_cidrs), [KUBE_API])]), policy_types=("Ingress", "Egress"))


def job_peers(ctx: Context) -> list[Peer]:
    return [ctx.pods_of(NAME)]
