"""How OpenEMR is used, by whom (as far as its logs tell) and the audit trail: counts from its Apache
access log in Loki (LogQL metric queries), cross-checked with OTeBPF's request metrics.

OpenEMR's URL paths (openemr/openemr): the login form posts to
/interface/main/main_screen.php?auth=login; a failed login is sent on to
/interface/login_screen.php?error=1; the patient chart is
/interface/patient_file/summary/demographics.php; appointments are saved by
/interface/main/calendar/add_edit_event.php; encounter forms live under /interface/forms/<form>/;
the REST and FHIR APIs under /apis/<site>/api and /apis/<site>/fhir, their tokens from /oauth2/<site>/token.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.dashboards.openemr_queries import (
    API,
    API_TOKEN,
    APP,
    APPOINTMENT_SAVE,
    AUTH_FAILURES,
    CALENDAR_VIEW,
    CHART_OPEN,
    HTTP_SERVER,
    HUMAN,
    LOGIN_FAILED,
    LOGIN_POST,
    LOGOUT,
    PATIENT_DATA,
    access_log,
    board,
    count,
    count_by,
    matches,
)
from stackgen.dashboards.panels import CLUSTER, Board, Row, logql, logs, prom, stat, table, text, timeseries

if TYPE_CHECKING:
    from stackgen.config import StackConfig

USAGE, USERS, AUDIT = "openemr-usage", "openemr-user-activity", "openemr-audit"
POST, GET = 'method="POST"', 'method="GET"'


def _events(stack: StackConfig, *filters: str) -> str:
    return access_log(stack, HUMAN, *filters)


def usage(stack: StackConfig) -> Board:
    logins, failed = _events(stack, POST, matches("uri", LOGIN_POST)), _events(stack, matches("uri", LOGIN_FAILED))
    charts = _events(stack, GET, matches("uri", CHART_OPEN))
    appointments = _events(stack, POST, matches("uri", APPOINTMENT_SAVE))
    forms = _events(stack, r'| regexp `"[A-Z]+ /interface/forms/(?P<form>[a-z_0-9]+)/`')
    areas = _events(stack, r'| regexp `"[A-Z]+ /interface/(?P<area>[a-z_]+)/`')
    return board(stack, USAGE, "OpenEMR / Usage", "Clinical and business activity from OpenEMR's access log: "
                  "logins, patient charts opened, appointments, encounter forms and API use.", [
        Row("In the range"),
        stat("Login attempts", "Submissions of the login form in the selected range.",
             logql(count(logins, "$__range"), instant=True)),
        stat("Failed logins", "Logins OpenEMR refused (sent on to login_screen.php?error=1) in the range.",
             logql(count(failed, "$__range"), instant=True)),
        stat("Patient charts opened", "Openings of a patient's dashboard (demographics.php) in the range.",
             logql(count(charts, "$__range"), instant=True)),
        stat("Appointments saved", "Appointments created or changed in the calendar in the range.",
             logql(count(appointments, "$__range"), instant=True)),
        Row("Over time"),
        timeseries("Logins", "Login attempts and failed logins per interval.",
                   logql(count(logins), "attempts"), logql(count(failed), "failed")),
        timeseries("Patient charts opened", "Patient dashboards opened per interval, from the access log and, as "
                   "a cross-check, from OTeBPF's request metrics (per minute).",
                   logql(count(charts), "access log"),
                   prom(f'sum(rate({HTTP_SERVER}_count{{{APP}, http_route="/interface/patient_file/summary/'
                        'demographics.php"}[$__rate_interval])) * 60', "OTeBPF per minute")),
        timeseries("Appointments", "Appointments saved and calendar views per interval.",
                   logql(count(appointments), "saved"),
                   logql(count(_events(stack, GET, matches("uri", CALENDAR_VIEW))), "calendar views")),
        timeseries("Encounter forms by form", "Encounter form pages (new, save, view) per interval by form "
                   "(vitals, SOAP, ...): the clinical features in use.", logql(count_by(forms, "form"), "{{form}}")),
        timeseries("Page views by area", "Requests per interval by OpenEMR area (patient_file, main, reports, "
                   "billing, usergroup for administration, ...).", logql(count_by(areas, "area"), "{{area}}")),
        timeseries("API requests", "REST/FHIR API and OAuth2 requests per interval by method and status.",
                   logql(count_by(_events(stack, matches("uri", API)), "method, status"), "{{method}} {{status}}")),
    ], (USERS, AUDIT, "openemr-api"))


def user_activity(stack: StackConfig) -> Board:
    everything = _events(stack)
    return board(stack, USERS, "OpenEMR / User activity", "Who uses OpenEMR, as far as its access log tells: "
                  "client addresses, logins and logouts, staff, portal and API use, user agents.", [
        text("What the access log can tell", "OpenEMR authenticates users in PHP sessions, so Apache's access "
             "log has no user name (`%u` is `-`) and no role. The per-user trail is OpenEMR's own audit log "
             "(the `log` table, **Administration → Logs**), optionally sent to an ATNA audit server. Behind a load "
             "balancer the client address is the balancer's unless Apache's `mod_remoteip` takes it from "
             "`X-Forwarded-For`.", height=4),
        stat("Client addresses", "Distinct client addresses that sent requests in the range (probes excluded).",
             logql(f"count(sum by (client) (count_over_time({everything} [$__range])))", instant=True), width=8),
        stat("Logins", "Login form submissions in the range.",
             logql(count(_events(stack, POST, matches("uri", LOGIN_POST)), "$__range"), instant=True), width=8),
        stat("Logouts", "Logouts in the range.",
             logql(count(_events(stack, matches("uri", LOGOUT)), "$__range"), instant=True), width=8),
        timeseries("Active client addresses", "Distinct client addresses per interval.",
                   logql(f"count(sum by (client) (count_over_time({everything} [$__interval])))", "addresses")),
        timeseries("Staff, portal and API", "Requests per interval to the staff interface, the patient portal and "
                   "the APIs.",
                   logql(count(_events(stack, matches("uri", "/interface/.*"))), "staff"),
                   logql(count(_events(stack, matches("uri", "/portal/.*"))), "portal"),
                   logql(count(_events(stack, matches("uri", API))), "API")),
        table("Busiest client addresses", "The 20 client addresses with the most requests in the range.",
              logql(f"topk(20, sum by (client) (count_over_time({everything} [$__range])))", instant=True)),
        table("User agents", "The 10 most frequent user agents in the range (browsers, API clients).",
              logql(f"topk(10, sum by (agent) (count_over_time({everything} [$__range])))", instant=True)),
    ], (USAGE, AUDIT))


def audit(stack: StackConfig) -> Board:
    patient = _events(stack, matches("uri", PATIENT_DATA))
    failures = _events(stack, AUTH_FAILURES)
    return board(stack, AUDIT, "OpenEMR / Audit and compliance", "The access trail to patient data, "
                  "authentication failures and the retention each signal has in force.", [
        text("Retention in force", _retention(stack), height=6),
        *_enforcement(stack),
        Row("Patient data"),
        timeseries("Patient-data requests", "Requests per interval to the chart, encounter forms, documents, the "
                   "portal and the patient/FHIR APIs, by method.",
                   logql(count_by(patient, "method"), "{{method}}")),
        table("Clients reading patient data", "Client addresses with the most patient-data requests in the range.",
              logql(f"topk(20, sum by (client, method) (count_over_time({patient} [$__range])))", instant=True)),
        logs("Patient-data access trail", "Every request to patient data: time, client address, method, URL "
             "(with the patient id) and status. Who the user was is in OpenEMR's own audit log.", logql(patient)),
        Row("Authentication"),
        timeseries("Authentication failures", "Failed logins, API requests refused (401/403) and token requests "
                   "refused per interval.",
                   logql(count(_events(stack, matches("uri", LOGIN_FAILED))), "failed logins"),
                   logql(count(_events(stack, 'status=~"401|403"')), "refused 401/403"),
                   logql(count(_events(stack, matches("uri", API_TOKEN), 'status=~"4.."')), "token refused")),
        table("Clients with failed logins", "Client addresses with the most failed logins in the range "
              "(guessing passwords shows here).",
              logql(f"topk(20, sum by (client) (count_over_time({_events(stack, matches('uri', LOGIN_FAILED))} "
                    "[$__range])))", instant=True)),
        logs("Authentication failures", "Failed logins and refused requests, newest first.", logql(failures)),
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
    loki_note = "deleted by the compactor (`retention_enabled`)"
    rows = [("Metrics, short term (Prometheus)", f"{stack.prometheus.retention} or {stack.prometheus.retention_size}, "
             "whichever is reached first"),
            ("Metrics, long term (Mimir)", f"{stack.mimir.retention} (compactor block retention)"),
            ("Logs (Loki)", f"{stack.loki.retention}, {loki_note}"),
            ("Traces (Tempo)", f"{stack.tempo.retention} (compactor block retention)")]
    table_rows = "\n".join(f"| {signal} | {kept} |" for signal, kept in rows)
    return ("| Signal | Kept for |\n|---|---|\n" + table_rows +
            "\n\nFrom this overlay's configuration; object storage holds the same data under the buckets' own "
            "lifecycle rules. OpenEMR's audit log (the `log` table) is kept in its database, under its own rules.")


def boards(stack: StackConfig) -> list[Board]:
    return [usage(stack), user_activity(stack), audit(stack)]
