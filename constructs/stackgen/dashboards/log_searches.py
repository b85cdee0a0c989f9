"""The clinical document's 15 saved Kibana searches, mapped to OpenEMR's logs in Loki: one panel per search,
its LogQL and what it is for. A search OpenEMR's logs cannot answer is still a panel, saying why, followed
by the signal that does answer it where one exists (traces, OTeBPF metrics).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackgen.dashboards.openemr_queries import (
    AUTH_FAILURES,
    DB_ERROR,
    HUMAN,
    PATIENT_DATA,
    THIRD_PARTY,
    access_log,
    board,
    error_log,
    matches,
    own_spans,
    shipped,
)
from stackgen.dashboards.panels import Board, Panel, Row, logql, logs, table, text, traceql, traces

if TYPE_CHECKING:
    from stackgen.config import StackConfig

UID = "openemr-log-searches"
# The request's path without its query string, from the request line.
PATH = '| regexp `"[A-Z]+ (?P<path>[^ ?]+)`'


@dataclass(frozen=True)
class Search:
    number: int
    name: str
    use: str  # what the search is for, and how OpenEMR's logs answer it
    query: str = ""  # LogQL; empty: the logs cannot answer it
    why_not: str = ""
    aggregate: bool = False  # a metric query shown as a table
    instead: Panel | None = None  # the signal that answers it when the logs cannot


def searches(stack: StackConfig) -> list[Search]:
    access = lambda *f: access_log(stack, *f)  # noqa: E731 (reads as the searches' vocabulary)
    return [
        Search(1, "High severity errors (5xx)", "Critical failure tracking: every request OpenEMR answered with "
               "a server error, with its URL, client and time.", access('status=~"5.."')),
        Search(2, "Slow requests (> 2 s)", "Performance bottleneck identification.",
               why_not="Apache's combined log format records no duration (`%D` is not in it), so no log line "
               "says how long a request took. OTeBPF measures every request: the traces below are those over 2 s.",
               instead=traces("Slow requests (traces over 2 s)", "OpenEMR requests that took longer than 2 s "
                              "(TraceQL on OTeBPF's server spans).",
                              traceql(own_spans("kind = server", "duration > 2s")))),
        Search(3, "User activity trail", "Complete audit of one user's actions.",
               why_not="OpenEMR authenticates in PHP sessions: the access log's user field (`%u`) is always `-` "
               "and no session id is logged. The per-user trail is OpenEMR's audit log (the `log` table, "
               "Administration → Logs); the closest the logs offer is the trail of one client address "
               "(search 14)."),
        Search(4, "Authentication failures", "Security monitoring: refused interactive logins (sent on to "
               "login_screen.php?error=1&site= with no site; a logout or a timed-out session returns there with "
               "its site and is not counted) and requests refused with 401 or 403 (API tokens, sessions).",
               access(HUMAN, AUTH_FAILURES)),
        Search(5, "Database query errors", "SQL issue diagnosis: OpenEMR's own report of a failed statement (the "
               "SQL, the driver's error, the PHP file), from its error log.", error_log(stack, f"|~ `{DB_ERROR}`")),
        Search(6, "RAG retrieval performance", "Knowledge base health.",
               why_not="OpenEMR has no retrieval-augmented generation or knowledge-base service; nothing in it "
               "calls /api/rag."),
        Search(7, "Tool invocations", "Clinical feature usage: OpenEMR's clinical tools are its encounter forms "
               "(vitals, SOAP, ...), so this lists requests to /interface/forms/.",
               access(HUMAN, matches("uri", "/interface/forms/.*"))),
        Search(8, "Emergency detections", "Critical incident tracking.",
               why_not="OpenEMR has no emergency detection (the clinical document's NLU feature); no log line "
               "marks one."),
        Search(9, "Response size analysis", "Network optimisation: responses over 1 MB (documents, reports, "
               "exports).", access("size > 1000000", '__error__=""')),
        Search(10, "PHI access audit", "HIPAA access logging: every request to patient data (the chart, encounter "
               "forms, documents, the portal, the patient/FHIR APIs) with client, method and URL; the user is in "
               "OpenEMR's audit log.", access(HUMAN, matches("uri", PATIENT_DATA))),
        Search(11, "Request chain analysis", "Distributed request tracing.",
               why_not="OpenEMR's logs carry no request or trace id, so log lines of one request cannot be "
               "chained. OTeBPF traces every request with its database and HTTP calls: the traces below.",
               instead=traces("Request chains (traces)", "OpenEMR's recent traces: a request and the calls it "
                              "made.", traceql(own_spans("kind = server")))),
        Search(12, "Subscription events", "Business operations tracking.",
               why_not="OpenEMR has no subscriptions or billing plans of its own; no path contains "
               "'subscription'."),
        Search(13, "Third-party failures", "Dependency health: failed calls from OpenEMR to other systems "
               "(cURL errors, unresolved hosts, refused or timed-out connections, proxied backends). Its database "
               "and session cache are not third parties: their failures are in search 5 and the database board.",
               error_log(stack, *THIRD_PARTY)),
        Search(14, "Client address distribution", "Geo-analysis in the document; Loki has no GeoIP, so this "
               "counts requests per client address (the load balancer's unless mod_remoteip is on).",
               f"topk(25, sum by (client) (count_over_time({access(HUMAN)} [$__range])))", aggregate=True),
        Search(15, "Endpoint health summary", "API health and SLA tracking: requests per path and status in the "
               "range (paths without their query string).",
               f"topk(50, sum by (path, status) (count_over_time({access(HUMAN, PATH)} [$__range])))", aggregate=True),
    ]


def _panels(stack: StackConfig, search: Search) -> list[Panel]:
    title = f"{search.number}. {search.name}"
    if not search.query:
        note = text(title, f"**Not answerable from OpenEMR's logs.** {search.use}\n\n{search.why_not}", height=4)
        return [note, search.instead] if search.instead else [note]
    if not shipped(stack):
        return [text(title, f"**Needs OpenEMR's log files, which this overlay does not ship** (set "
                            f"`fluent_bit.sidecar.enabled`). {search.use}\n\n```\n{search.query}\n```", height=6)]
    if search.aggregate:
        return [table(title, search.use, logql(search.query, instant=True))]
    return [logs(title, search.use, logql(search.query))]


def unanswerable(stack: StackConfig) -> list[Search]:
    return [search for search in searches(stack) if not search.query]


def boards(stack: StackConfig) -> list[Board]:
    found = searches(stack)
    panels: list = [Row("Answered from OpenEMR's logs")]
    panels += [p for s in found if s.query for p in _panels(stack, s)]
    panels.append(Row("Not answerable from OpenEMR's logs"))
    panels += [p for s in found if not s.query for p in _panels(stack, s)]
    return [board(stack, UID, "OpenEMR / Log searches", "The clinical document's 15 saved log searches, mapped "
                  "to OpenEMR's Apache and PHP logs in Loki; those the logs cannot answer say why.", panels,
                  ["openemr-errors", "openemr-audit"])]
