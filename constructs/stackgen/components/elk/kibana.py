"""Kibana on ECK, with the clinical document's saved searches (saved_searches.py) imported by an
idempotent Job through the saved objects API (`POST /api/saved_objects/_import?overwrite=true`).

ECK connects it to Elasticsearch (`elasticsearchRef`: its own kibana_system user and the cluster's CA)
and serves it over TLS with a self-signed certificate (`kibana-kb-http`, 5601). Reach it with
`kubectl port-forward service/kibana-kb-http 5601` and the `elastic` user of ECK's Secret.
"""
from __future__ import annotations

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen import versions
from stackgen.components.elk import eck_model, elasticsearch, elasticsearch_setup, saved_searches
from stackgen.context import Context
from stackgen.lib.netpol import Policy, component_policy, rule
from stackgen.lib.workload import Port, service_account
from stackgen.settings import Model, Resources, sized

NAME = "kibana"
IMPORT = "kibana-saved-searches"
HTTPS = Port("https", eck_model.KIBANA_PORT)
NDJSON_FILE = "saved-searches.ndjson"


class KibanaConfig(Model):
    resources: Resources = sized("100m", "768Mi", "1", "1Gi")


def url(namespace: str) -> str:
    return f"https://{eck_model.kibana_service(NAME)}.{namespace}.svc.cluster.local:{HTTPS.number}"


class Kibana(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, NAME)
        stack = ctx.config
        if not elasticsearch.enabled(stack):
            return
        identity = ctx.identity(NAME, "log-search", versions.KIBANA)
        service_account(self, identity)
        elasticsearch.api_object(self, eck_model.KIBANA_API_VERSION, "Kibana", identity, {
            "version": versions.KIBANA.tag, "image": versions.KIBANA.ref, "count": 1,
            "elasticsearchRef": {"name": elasticsearch.NAME},
            "config": {"telemetry.optIn": False},
            "podTemplate": {"metadata": {"labels": identity.labels}, "spec": {
                "serviceAccountName": NAME, "automountServiceAccountToken": False,
                "securityContext": elasticsearch.pod_security(1000), **elasticsearch.placement_spec(identity),
                "containers": [elasticsearch.restricted_container(eck_model.KIBANA_CONTAINER, stack.kibana.resources)]}},
        })
        importer, scope = ctx.identity(IMPORT, "setup", versions.KIBANA), Construct(self, "import")
        text = saved_searches.ndjson(stack)
        k.KubeConfigMap(scope, "saved-searches", metadata=importer.meta(), data={NDJSON_FILE: text})
        service_account(scope, importer)
        elasticsearch_setup.setup_job(
            scope, importer, args=["kibana", url(stack.namespace), f"{elasticsearch_setup.PLAN_DIR}/{NDJSON_FILE}"],
            config_map=IMPORT, config_files=text + elasticsearch_setup.SCRIPT.read_text(),
            ca_secret=eck_model.kibana_ca_secret(NAME))
        component_policy(scope, importer, Policy(egress=[rule([ctx.pods_of(NAME)], [HTTPS])]))
        component_policy(self, identity, Policy(
            ingress=[rule([ctx.pods_of(IMPORT)], [HTTPS])],
            egress=[rule([elasticsearch.pods(ctx)], [elasticsearch.HTTPS])]))
