"""The clinical document's 15 Kibana saved searches, rewritten for what OpenEMR's logs hold.

OpenEMR logs Apache access lines (combined format: no duration, no request id, no user for its
session logins), Apache error lines and PHP errors; Fluent Bit adds the Kubernetes metadata
(es_shipping.py parses them into the fields of elasticsearch_setup.MAPPING). Each search keeps the
document's intent where these fields can answer it and says in `description` what it answers instead
where they cannot (README: "Saved searches"). Queries are Lucene (`language: lucene`), so that the
tests parse them and check every field against the index template's mapping.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackgen.components.elk.elasticsearch_setup import DATA_STREAM

if TYPE_CHECKING:
    from stackgen.config import StackConfig

DATA_VIEW_ID = "kubernetes-logs"
ACCESS = ["k8s_pod", "client_ip", "method", "path", "status", "bytes"]
# Where a refused login, and only that, sends the browser: authLoginScreen() (openemr/openemr
# library/auth.inc.php) appends $incoming_site_id, which only authCloseSession() (logout, timeout) fills.
# `path` is a keyword holding the query string too, so the quoted value matches it exactly.
LOGIN_FAILED_PATH = "/interface/login_screen.php?error=1&site="
ERRORS = ["k8s_pod", "php_level", "php_message", "php_file", "php_line", "apache_module", "apache_message"]


@dataclass(frozen=True)
class SavedSearch:
    id: str
    title: str
    query: str  # Lucene; `{app}` is the OpenEMR namespace
    columns: list[str]
    description: str
    answers_original: bool = True


SEARCHES = [
    SavedSearch("openemr-5xx", "High severity errors (5xx)", "k8s_namespace:{app} AND status:[500 TO 599]", ACCESS,
                "Requests OpenEMR answered with a server error."),
    SavedSearch("openemr-slow-requests", "Slow requests (PHP time limits)",
                'k8s_namespace:{app} AND (php_message:"Maximum execution time" OR apache_message:timeout)', ERRORS,
                "Apache's combined log has no duration: this finds requests PHP or Apache cut off for time. "
                "Latency above 2s is in OTeBPF's http_server_request_duration_seconds (Grafana).", False),
    SavedSearch("openemr-user-activity", "User activity trail (by client)",
                'k8s_namespace:{app} AND method:(GET OR POST) AND NOT path:\\/interface\\/login\\/*', ACCESS,
                "Requests by client address; OpenEMR logs in through its session, so the access log has no "
                "user name. The per-user audit trail is OpenEMR's own audit log (Administration > Logs).", False),
    SavedSearch("openemr-auth-failures", "Authentication failures",
                f'k8s_namespace:{{app}} AND (status:[401 TO 403] OR path:"{LOGIN_FAILED_PATH}")', ACCESS,
                "Refused requests (401-403) and refused logins: the redirect to login_screen.php?error=1&site= "
                "with no site (a logout or a timed-out session carries its site and is not counted)."),
    SavedSearch("openemr-database-errors", "Database errors",
                'k8s_namespace:{app} AND (php_message:SQLSTATE OR php_message:mysqli OR '
                'log:"SQL Statement failed")', ERRORS,
                "PHP errors from the database layer (ADOdb/mysqli) and OpenEMR's failed-statement messages."),
    SavedSearch("openemr-api-requests", "API requests (REST and FHIR)",
                'k8s_namespace:{app} AND path:\\/apis\\/*', ACCESS,
                "The document's RAG retrieval has no OpenEMR counterpart: this watches OpenEMR's REST/FHIR API "
                "instead.", False),
    SavedSearch("openemr-form-submissions", "Clinical form submissions",
                'k8s_namespace:{app} AND method:POST AND path:\\/interface\\/forms\\/*', ACCESS,
                "Tool invocations have no OpenEMR counterpart: encounter form submissions instead.", False),
    SavedSearch("openemr-fatal-errors", "Fatal PHP errors",
                'k8s_namespace:{app} AND php_level:("Fatal error" OR "Parse error" OR "Uncaught Exception")', ERRORS,
                "Emergency detections have no OpenEMR counterpart: fatal PHP errors, the pages that failed.", False),
    SavedSearch("openemr-large-responses", "Response size analysis (> 1 MiB)",
                "k8s_namespace:{app} AND bytes:[1048576 TO *]", ACCESS, "Responses larger than 1 MiB."),
    SavedSearch("openemr-phi-access", "PHI access audit",
                'k8s_namespace:{app} AND (path:\\/interface\\/patient_file\\/* OR path:\\/apis\\/default\\/fhir\\/* '
                'OR path:\\/portal\\/*)', ACCESS,
                "Requests to patient charts, the FHIR API and the patient portal, by client address; who (which "
                "user) is in OpenEMR's audit log, not in the access log.", False),
    SavedSearch("openemr-request-chain", "Request chain (one pod, in order)",
                "k8s_namespace:{app} AND k8s_pod:*", ["k8s_pod", "k8s_container", "log"],
                "OpenEMR logs no request id: every line of its pods in time order; a request's path through "
                "the stack is its trace in Tempo (OTeBPF).", False),
    SavedSearch("openemr-portal", "Patient portal activity", "k8s_namespace:{app} AND path:\\/portal\\/*", ACCESS,
                "Subscription events have no OpenEMR counterpart: patient portal requests instead.", False),
    SavedSearch("openemr-outbound-failures", "Third-party failures",
                'k8s_namespace:{app} AND (php_message:curl OR php_message:SMTP OR apache_module:proxy*)', ERRORS,
                "Failed calls to other services (cURL, mail, proxied backends) as PHP and Apache report them."),
    SavedSearch("openemr-clients", "Client addresses", "k8s_namespace:{app} AND client_ip:*", ACCESS,
                "Client addresses as Apache sees them: behind a load balancer these are its addresses, and the "
                "pipeline has no GeoIP step, so no geography.", False),
    SavedSearch("openemr-endpoint-health", "Endpoint health summary",
                "k8s_namespace:{app} AND status:*", ["path", "status", "method", "bytes"],
                "Every request with its path and status; the per-path aggregation is a Lens chart on this "
                "search (a saved search does not aggregate).", False),
]


def search_source(query: str) -> str:
    return json.dumps({"query": {"query": query, "language": "lucene"}, "filter": [],
                       "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}, sort_keys=True)


def saved_objects(stack: StackConfig) -> list[dict]:
    data_view = {"type": "index-pattern", "id": DATA_VIEW_ID, "attributes": {
        "title": f"{DATA_STREAM}*", "name": "Kubernetes logs", "timeFieldName": "@timestamp"}}
    return [data_view, *({
        "type": "search", "id": s.id,
        "attributes": {"title": s.title, "description": s.description, "columns": s.columns,
                       "sort": [["@timestamp", "desc"]],
                       "kibanaSavedObjectMeta": {"searchSourceJSON": search_source(s.query.format(app=stack.app_namespace))}},
        "references": [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern",
                        "id": DATA_VIEW_ID}],
    } for s in SEARCHES)]


def ndjson(stack: StackConfig) -> str:
    return "".join(json.dumps(obj, sort_keys=True) + "\n" for obj in saved_objects(stack))
