"""How OpenEMR is used, by whom (as far as its traffic tells) and the audit trail: counts by route from
OTeBPF's request metrics, and, where OpenEMR's log files are shipped, from its Apache access log in Loki
(client addresses, user agents, full URLs).

OpenEMR's URL paths (openemr/openemr): the login form posts to
/interface/main/main_screen.php?auth=login; a refused login, a logout and a timed-out session are all
sent on to /interface/login_screen.php?error=1&site=<site>, the site empty only after a refused login
(library/auth.inc.php authLoginScreen()); the patient chart is
/interface/patient_file/summary/demographics.php; appointments are saved by
/interface/main/calendar/add_edit_event.php; encounter forms live under /interface/forms/<form>/;
the REST and FHIR APIs under /apis/<site>/api and /apis/<site>/fhir, their tokens from /oauth2/<site>/token.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.dashboards.openemr_queries import (
    API_ROUTES,
    APPOINTMENT_ROUTE,
    AUTH_FAILURES,
    CALENDAR_ROUTE,
    CHART_ROUTE,
    FORM_ROUTES,
    HUMAN,
    LOGIN_FAILED,
    LOGIN_ROUTE,
    LOGIN_SCREEN_ROUTE,
    LOGOUT_ROUTE,
    PATIENT_DATA,
    PATIENT_ROUTES,
    PORTAL_ROUTES,
    STAFF_ROUTES,
    access_log,
    board,
    count_by,
    from_logs,
    in_range,
    matches,
    per_minute,
)
from stackgen.dashboards.panels import CLUSTER, Board, Row, logql, logs, prom, stat, table, text, timeseries

if TYPE_CHECKING:
    from stackgen.config import StackConfig

USAGE, USERS, AUDIT = "openemr-usage", "openemr-user-activity", "openemr-audit"
SAME_ROUTE = ("OpenEMR sends all three to login_screen.php (library/auth.inc.php authLoginScreen()), and OTeBPF's "
              "route drops the query string (site=) that tells them apart.")
PER_MINUTE = "cpm"


def _events(stack: StackConfig, *filters: str) -> str:
    return access_log(stack, HUMAN, *filters)


def _top(query: str, by: str, k: int = 20) -> str:
    return f"topk({k}, sum by ({by}) (count_over_time({query} [$__range])))"


def usage(stack: StackConfig) -> Board:
    return board(stack, USAGE, "OpenEMR / Usage", "Clinical and business activity: logins, patient charts "
                 "opened, appointments, encounter forms and API use, by route from OTeBPF's request metrics and "
                 "from the access log.", [
        Row("In the range"),
        stat("Login attempts", "Submissions of the login form in the selected range.",
             prom(in_range(LOGIN_ROUTE, "POST"), instant=True)),
        stat("Returns to the login screen", f"Refused logins, logouts and timed-out sessions in the range: "
             f"{SAME_ROUTE} Refused logins alone: OpenEMR / Audit, from the access log.",
             prom(in_range(LOGIN_SCREEN_ROUTE), instant=True)),
        stat("Patient charts opened", "Openings of a patient's dashboard (demographics.php) in the range.",
             prom(in_range(CHART_ROUTE, "GET"), instant=True)),
        stat("Appointments saved", "Appointments created or changed in the calendar in the range.",
             prom(in_range(APPOINTMENT_ROUTE, "POST"), instant=True)),
        Row("Over time"),
        timeseries("Logins", f"Login attempts and returns to the login screen (refused logins, logouts, timed-out "
                   f"sessions) per minute. {SAME_ROUTE}", prom(per_minute(LOGIN_ROUTE, "POST"), "attempts"),
                   prom(per_minute(LOGIN_SCREEN_ROUTE), "to the login screen"), unit=PER_MINUTE),
        timeseries("Patient charts opened", "Patient dashboards opened per minute.",
                   prom(per_minute(CHART_ROUTE, "GET"), "charts"), unit=PER_MINUTE),
        timeseries("Appointments", "Appointments saved and calendar views per minute.",
                   prom(per_minute(APPOINTMENT_ROUTE, "POST"), "saved"),
                   prom(per_minute(CALENDAR_ROUTE, "GET"), "calendar views"), unit=PER_MINUTE),
        timeseries("Encounter forms", "Encounter form pages (new, save, view) per minute by route: the clinical "
                   "features in use (vitals, SOAP, ...).", prom(per_minute(FORM_ROUTES, by="http_route"),
                                                               "{{http_route}}"), unit=PER_MINUTE),
        timeseries("API requests", "REST/FHIR API and OAuth2 requests per minute by route and status.",
                   prom(per_minute(API_ROUTES, by="http_route, http_response_status_code"),
                        "{{http_route}} {{http_response_status_code}}"), unit=PER_MINUTE),
        Row("From the access log"),
        *from_logs(stack, "Page views by area and encounter forms by form", [
            timeseries("Page views by area", "Requests to the staff interface (/interface/<area>/...) per interval "
                       "by area (patient_file, main, reports, billing, usergroup for administration, ...).",
                       logql(count_by(_events(stack, r'| regexp `"[A-Z]+ /interface/(?P<area>[a-z_]+)/`'), "area"),
                             "{{area}}")),
            timeseries("Encounter forms by form", "Encounter form pages (/interface/forms/<form>/...) per interval "
                       "by form name.",
                       logql(count_by(_events(stack, r'| regexp `"[A-Z]+ /interface/forms/(?P<form>[a-z_0-9]+)/`'),
                                      "form"), "{{form}}"))]),
    ], (USERS, AUDIT, "openemr-api"))


def user_activity(stack: StackConfig) -> Board:
    everything = _events(stack)
    return board(stack, USERS, "OpenEMR / User activity", "Who uses OpenEMR, as far as its traffic tells: "
                 "logins and logouts, staff, portal and API use, and with the access log client addresses and "
                 "user agents.", [
        text("What the traffic can tell", "OpenEMR authenticates users in PHP sessions: neither its requests "
             "nor Apache's access log name the user (`%u` is `-`) or their role. The per-user trail is OpenEMR's "
             "own audit log (the `log` table, **Administration → Logs**), optionally sent to an ATNA audit "
             "server. Behind a load balancer the client address is the balancer's unless Apache's "
             "`mod_remoteip` takes it from `X-Forwarded-For`.", height=4),
        stat("Logins", "Login form submissions in the range.", prom(in_range(LOGIN_ROUTE, "POST"), instant=True),
             width=12),
        stat("Logouts", "Logouts in the range.", prom(in_range(LOGOUT_ROUTE), instant=True), width=12),
        timeseries("Staff, portal and API", "Requests per minute to the staff interface, the patient portal and "
                   "the APIs.", prom(per_minute(STAFF_ROUTES), "staff"), prom(per_minute(PORTAL_ROUTES), "portal"),
                   prom(per_minute(API_ROUTES), "API"), unit=PER_MINUTE),
        timeseries("Logins and logouts", "Login attempts and logouts per minute.",
                   prom(per_minute(LOGIN_ROUTE, "POST"), "logins"), prom(per_minute(LOGOUT_ROUTE), "logouts"),
                   unit=PER_MINUTE),
        Row("Clients"),
        *from_logs(stack, "Client addresses and user agents", [
            stat("Client addresses", "Distinct client addresses that sent requests in the range (probes "
                 "excluded).", logql(f"count(sum by (client) (count_over_time({everything} [$__range])))",
                                     instant=True), width=8),
            timeseries("Active client addresses", "Distinct client addresses per interval.",
                       logql(f"count(sum by (client) (count_over_time({everything} [$__interval])))", "addresses"),
                       width=16),
            table("Busiest client addresses", "The 20 client addresses with the most requests in the range.",
                  logql(_top(everything, "client"), instant=True), width=12),
            table("User agents", "The 10 most frequent user agents in the range (browsers, API clients).",
                  logql(_top(everything, "agent", 10), instant=True), width=12)]),
    ], (USAGE, AUDIT))


def audit(stack: StackConfig) -> Board:
    patient = _events(stack, matches("uri", PATIENT_DATA))
    failed_logins = _events(stack, matches("uri", LOGIN_FAILED))
    return board(stack, AUDIT, "OpenEMR / Audit and compliance", "The access trail to patient data, "
                 "authentication failures and the retention each signal has in force.", [
        text("Retention in force", _retention(stack), height=6),
        *_enforcement(stack),
        Row("Patient data"),
        timeseries("Patient-data requests", "Requests per minute to the chart, encounter forms, the portal and "
                   "the patient/FHIR APIs, by route and method.",
                   prom(per_minute(PATIENT_ROUTES, by="http_route, http_request_method"),
                        "{{http_request_method}} {{http_route}}"), unit=PER_MINUTE, width=24),
        *from_logs(stack, "The patient-data access trail", [
            table("Clients reading patient data", "Client addresses with the most patient-data requests in the "
                  "range.", logql(_top(patient, "client, method"), instant=True)),
            logs("Patient-data access trail", "Every request to patient data: time, client address, method, URL "
                 "(with the patient id) and status. Who the user was is in OpenEMR's own audit log.",
                 logql(patient))]),
        Row("Authentication"),
        timeseries("Refused requests (401/403)", "Requests refused for their credentials per minute, by route. A "
                   "refused login is answered 200 with a redirect to the login screen, like a logout: "
                   "it is counted from the access log (Failed logins).",
                   prom(per_minute(".*", "", 'http_response_status_code=~"401|403"', by="http_route"),
                        "{{http_route}}"), unit=PER_MINUTE, width=24),
        *from_logs(stack, "Failed logins and their sources", [
            timeseries("Failed logins", "Logins OpenEMR refused, per interval: the access log's redirects to "
                       "login_screen.php?error=1&site= with no site (a logout or a timeout carries its site).",
                       logql(f"sum(count_over_time({failed_logins} [$__interval]))", "failed logins")),
            table("Clients with failed logins", "Client addresses with the most failed logins in the range "
                  "(guessing passwords shows here).", logql(_top(failed_logins, "client"), instant=True), width=12),
            logs("Authentication failures", "Failed logins and refused requests, newest first.",
                 logql(_events(stack, AUTH_FAILURES)))]),
    ], (USAGE, USERS, "openemr-log-searches"))


def _enforcement(stack: StackConfig) -> list:
    """Proof that the retention is applied, not only configured: the components' own records of it."""
    where = f'{CLUSTER}, namespace="{stack.namespace}"'
    return [
        stat("Loki retention last applied", f"Time since Loki's compactor last deleted logs older than "
             f"{stack.loki.retention}; more than a few hours means retention is not being enforced.",
             prom(f"time() - max(loki_compactor_apply_retention_last_successful_run_timestamp_seconds{{{where}}})"),
             unit="s"),
        stat("Mimir compactor last run", f"Time since Mimir's compactor last ran: it deletes blocks older than "
             f"{stack.mimir.retention}.",
             prom(f"time() - max(cortex_compactor_last_successful_run_timestamp_seconds{{{where}}})"), unit="s"),
        stat("Trace blocks deleted (24h)", f"Blocks Tempo's compactor deleted in the last day for being older than "
             f"{stack.tempo.retention}.", prom(f"sum(increase(tempodb_retention_deleted_total{{{where}}}[24h]))")),
        stat("Prometheus size limit", "The size at which Prometheus deletes its oldest blocks, whatever their age.",
             prom(f"max(prometheus_tsdb_retention_limit_bytes{{{where}}})"), unit="bytes"),
    ]


def _retention(stack: StackConfig) -> str:
    rows = [("Metrics, short term (Prometheus)", f"{stack.prometheus.retention} or {stack.prometheus.retention_size}, "
             "whichever is reached first"),
            ("Metrics, long term (Mimir)", f"{stack.mimir.retention} (compactor block retention)"),
            ("Logs (Loki)", f"{stack.loki.retention}, deleted by the compactor (`retention_enabled`)"),
            ("Traces (Tempo)", f"{stack.tempo.retention} (compactor block retention)")]
    table_rows = "\n".join(f"| {signal} | {kept} |" for signal, kept in rows)
    return ("| Signal | Kept for |\n|---|---|\n" + table_rows +
            "\n\nFrom this overlay's configuration; object storage holds the same data under the buckets' own "
            "lifecycle rules. OpenEMR's audit log (the `log` table) is kept in its database, under its own rules.")


def boards(stack: StackConfig) -> list[Board]:
    return [usage(stack), user_activity(stack), audit(stack)]
