"""The signals OpenEMR's dashboards read, written once: OTeBPF's HTTP and database-client series, Tempo's
span metrics, service graph and traces, and OpenEMR's Apache/PHP logs in Loki; and the board they share
(OpenEMR folder, its variables).

OTeBPF (OBI v1.0.0) labels its application metrics with the instrumented pod's Kubernetes attributes
(`k8s_namespace_name`, `k8s_deployment_name`, `k8s_pod_name`, ...); `namespace`/`pod` on those series
are OTeBPF's own pod (the PodMonitor's target). Routes are OBI's heuristic `http_route`, query strings
dropped.

Logs: OpenEMR's log files reach Loki only through the sidecar (`shipped`); both shippers write JSON
lines with the original text in `log` (Fluent Bit's Loki output, `line_format: json`), so every query
first takes `log` back as the line. Line filters come after that,
on the text OpenEMR wrote, never on the JSON escaping of it. An access line is Apache's combined format
(`%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"`): no duration, no request id, and `%u` is "-"
because OpenEMR authenticates in PHP sessions, not with HTTP auth.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from stackgen.dashboards.panels import CLUSTER, OPENEMR, Board, Variable, namespace_var, text

if TYPE_CHECKING:
    from stackgen.config import StackConfig

RATE = "[$__rate_interval]"
HTTP_SERVER = "http_server_request_duration_seconds"
HTTP_CLIENT = "http_client_request_duration_seconds"
DB_CLIENT = "db_client_operation_duration_seconds"
# What OTeBPF sees of OpenEMR: its HTTP server spans and its clients' calls (MySQL, Redis, HTTP APIs).
# OBI >= 0.13 no longer puts service_name/service_namespace on metric series: select by k8s_* attributes.
APP = f'{CLUSTER}, k8s_namespace_name="$namespace", k8s_deployment_name="$deployment"'
SERVER_ERRORS = 'http_response_status_code=~"5.."'
CLIENT_ERRORS = 'http_response_status_code=~"4.."'
MYSQL = 'db_system_name="mysql"'
# OTeBPF names the system by its protocol: MySQL's wire protocol (Aurora MySQL too), Redis' (Valkey too),
# Memcached's.
CACHES = 'db_system_name=~"redis|memcached"'
# OpenEMR's pods in kube-state-metrics and cAdvisor.
PODS = f'{CLUSTER}, namespace="$namespace", pod=~"$deployment-.*"'
CONTAINER = f'{PODS}, container="$container"'


def variables(stack: StackConfig) -> list[Variable]:
    app = stack.openemr
    return [
        namespace_var(stack.app_namespace),
        Variable("deployment", "Deployment",
                 f'label_values({HTTP_SERVER}_count{{{CLUSTER}, k8s_namespace_name="$namespace"}}, k8s_deployment_name)',
                 app.deployment),
        Variable("container", "Container",
                 f'label_values(kube_pod_container_info{{{CLUSTER}, namespace="$namespace"}}, container)', app.container),
    ]


def board(stack: StackConfig, uid: str, title: str, description: str, panels: list, links=(), **options) -> Board:
    return Board(uid, title, OPENEMR, description, panels, variables(stack), list(links), tags=("openemr",),
                 **options)


def rate(metric: str, selector: str = APP, by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{{{selector}}}{RATE}))"


def quantile(q: float, metric: str, selector: str = APP, by: str = "") -> str:
    labels = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) (rate({metric}_bucket{{{selector}}}{RATE})))"


def with_(selector: str, *matchers: str) -> str:
    return ", ".join((selector, *matchers))


# OpenEMR's routes as OTeBPF names them (the URL path, query string dropped).
LOGIN_ROUTE = "/interface/main/main_screen.php"
# Where OpenEMR sends every browser it will no longer serve (library/auth.inc.php authLoginScreen()):
# a refused login, a logout, a timed-out or invalidated session alike. OTeBPF's route has no query
# string, so by route these cannot be told apart (LOGIN_FAILED can, from the access log).
LOGIN_SCREEN_ROUTE = "/interface/login_screen.php"
LOGOUT_ROUTE = "/interface/logout.php"
CHART_ROUTE = "/interface/patient_file/summary/demographics.php"
APPOINTMENT_ROUTE = "/interface/main/calendar/add_edit_event.php"
CALENDAR_ROUTE = "/interface/main/calendar/index.php"
FORM_ROUTES = "/interface/forms/.*"
STAFF_ROUTES = "/interface/.*"
PORTAL_ROUTES = "/portal/.*"
API_ROUTES = "/(apis|oauth2)/.*"
PATIENT_ROUTES = "/(interface/patient_file/|interface/forms/|portal/|apis/[^/]+/(fhir|api)/[Pp]atient).*"


def _route(route: str, method: str, matchers: tuple[str, ...]) -> str:
    return with_(APP, f'http_route=~"{route}"', *([f'http_request_method="{method}"'] if method else []), *matchers)


def per_minute(route: str, method: str = "", *matchers: str, by: str = "") -> str:
    """OpenEMR's requests per minute to `route` (a regex)."""
    return f"{rate(HTTP_SERVER + '_count', _route(route, method, matchers), by)} * 60"


def in_range(route: str, method: str = "") -> str:
    """OpenEMR's requests to `route` (a regex) in the dashboard's time range."""
    return f"sum(increase({HTTP_SERVER}_count{{{_route(route, method, ())}}}[$__range]))"


# --- Tempo's metrics-generator, remote-written to Mimir --------------------------------------------------

def tempo_selector(stack: StackConfig) -> str:
    """Tempo labels what it writes with this stack's cluster (its registry's external labels). The
    cluster variable is empty while the Prometheus datasource is selected (it has no cluster label), so
    these Mimir queries fall back to this stack's own cluster then."""
    return f'cluster=~"$cluster|{stack.cluster_name}"'


def span_selector(stack: StackConfig) -> str:
    return f'{tempo_selector(stack)}, service="$deployment"'


def own_spans(*conditions: str) -> str:
    """TraceQL for OpenEMR's spans (OTeBPF's resource attributes) meeting `conditions`."""
    return "{ " + " && ".join(['resource.service.name = "$deployment"', 'resource.k8s.namespace.name = "$namespace"',
                               *conditions]) + " }"


# --- OpenEMR's logs in Loki ----------------------------------------------------------------------------

ACCESS_PATTERN = '<client> <_> <user> [<_>] "<method> <uri> <protocol>" <status> <size> "<referer>" "<agent>"'
# An entry of Apache's error log ([time] [module:level] ...) or of PHP's error_log ([dd-Mon-yyyy ...]);
# stack traces arrive joined to their first line (Fluent Bit's multiline parsers).
ERROR_START = r"^\[(\d{2}-[A-Za-z]{3}-\d{4} |[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} )"
APACHE_LEVEL = r"^\[[^\]]+\] \[(?P<module>[a-z_0-9]*):(?P<level>[a-z0-9]+)\] "
PHP_LEVEL = (r"PHP (?P<php_level>Fatal error|Parse error|Warning|Notice|Deprecated|Catchable fatal error"
             r"|Recoverable fatal error):")
# OpenEMR's own SQL failure messages (library/sql.inc.php: HelpfulDie, privStatement) and PHP's MySQL
# drivers' (PDO's SQLSTATE[...] messages, mysqli's exceptions and warnings).
DB_ERROR = r"SQL Error with statement|Statement failed:|SQLSTATE\[|mysqli_sql_exception|mysqli_real_connect\(\)"
# A network call that failed, in the words of cURL (Guzzle), PHP's stream wrappers (file_get_contents of
# a URL: "HTTP request failed!", getaddrinfo) and Apache's mod_proxy ((111)Connection refused). A local
# file that is missing ("Failed to open stream: No such file") is none.
NETWORK_FAILURE = (r"(?i)(curl error|could not resolve host|getaddrinfo|http request failed|connection refused"
                   r"|connection timed out|operation timed out)")
# The same words from OpenEMR's own backing services are no third party: its database through PDO,
# Doctrine DBAL or mysqli (a failover reads "SQLSTATE[HY000] [2002] Connection refused") and its Redis
# session store (phpredis' RedisException; "Failed to read session data: redis").
OWN_BACKENDS = r"SQLSTATE\[|mysqli|PDO|Doctrine\\DBAL|[Rr]edis"
THIRD_PARTY = (f"|~ `{NETWORK_FAILURE}`", f"!~ `{OWN_BACKENDS}`")
# Where OpenEMR shows or changes a patient's record: the chart (patient_file), encounter forms,
# documents, the patient portal and the patient/FHIR APIs.
PATIENT_DATA = r"/(interface/patient_file/|interface/forms/|controller\.php\?document|portal/|apis/[^/]+/(fhir|api)/[Pp]atient).*"
# A refused login, and only that: authLoginScreen() (library/auth.inc.php) sends the browser to
# `login_screen.php?error=1&site=` followed by $incoming_site_id, which only authCloseSession() fills, with
# the session's site: it is empty after a refused login and the site after a logout (interface/logout.php
# sets auth=logout), a timeout or an invalidated session. login_screen is $rootdir/login_screen.php
# (interface/globals.php). `=~` is anchored: nothing may follow `site=`.
LOGIN_FAILED = r"/interface/login_screen\.php\?error=1&site="
# The kubelet's probes: traffic, not users.
PROBE_AGENT = r"kube-probe/.*"
HUMAN = f"agent!~`{PROBE_AGENT}`"


def matches(label: str, regex: str) -> str:
    return f"{label}=~`{regex}`"


def _stream(stack: StackConfig, file_matcher: str = "") -> str:
    """OpenEMR's stream (the sidecar and the DaemonSet label it the same), `log` made the line again and
    dropped as a label (it would make every line a series of its own)."""
    selector = ", ".join(m for m in ('namespace="$namespace"', f'container="{stack.openemr.container}"', file_matcher) if m)
    return f'{{{selector}}} | json log="log" | line_format "{{{{.log}}}}" | drop log'


def app_logs(stack: StackConfig) -> str:
    """Everything OpenEMR's container sends: its own output (the DaemonSet) and, shipped, its log files."""
    return _stream(stack)


# A refused login (sent on to the error page) or a request refused for its credentials.
AUTH_FAILURES = f'{matches("uri", LOGIN_FAILED)} or status=~"401|403"'


def access_log(stack: StackConfig, *filters: str) -> str:
    """Apache's access log, parsed; `filters` are label filters on client, method, uri, status, size, agent
    (or whole stages, starting with '|')."""
    stream = _stream(stack, f'log_file="{stack.openemr.log_dir}/access.log"')
    return " ".join([stream, f"| pattern `{ACCESS_PATTERN}`", '| status=~"[1-5][0-9][0-9]"',
                     *(f if f.startswith("|") else f"| {f}" for f in filters)])


def error_log(stack: StackConfig, *stages: str) -> str:
    """Apache's error log and PHP's (PHP-FPM's error_log, pointed there by the sidecar), one entry a line."""
    directory = re.escape(stack.openemr.log_dir)
    stream = _stream(stack, f"log_file=~`{directory}/(error|php_errors)\\.log`")
    return " ".join([stream, f"|~ `{ERROR_START}`", *stages])


def shipped(stack: StackConfig) -> bool:
    """Whether OpenEMR's log files reach Loki. The OpenEMR image writes Apache's access and error logs to
    files (rotatelogs in APACHE_LOG_DIR, openemr-devops docker/openemr/7.0.4/openemr.conf) and runs PHP
    under PHP-FPM, whose errors go to Apache's error log: its container output carries none of them, so
    only the sidecar ships them."""
    return stack.fluent_bit.sidecar.enabled


def from_logs(stack: StackConfig, what: str, panels: list) -> list:
    """`panels` where OpenEMR's log files are shipped; else one panel saying how to get them."""
    if shipped(stack):
        return panels
    titles = ", ".join(f"*{p.title}*" for p in panels if hasattr(p, "kind") and p.kind != "text")
    return [text(f"{what}: OpenEMR's log files are not shipped",
                 f"{what} come from OpenEMR's Apache and PHP log files, which this overlay does not ship: the "
                 f"image writes them to files under `{stack.openemr.log_dir}`, not to its output. Set "
                 f"`fluent_bit.sidecar.enabled: true` and include `openemr-sidecar/` in OpenEMR's kustomization "
                 f"to get {titles}.", height=4)]


def count_by(query: str, by: str, window: str = "$__interval") -> str:
    """Lines per `by` labels. A line an earlier regexp or pattern gave no value for one of them is dropped:
    Loki would count it into a series with no name (an empty label is no label)."""
    named = " ".join(f'| {label.strip()}!=""' for label in by.split(","))
    return f"sum by ({by}) (count_over_time({query} {named} [{window}]))"
