"""OpenEMR's alert status and service level objectives: what fires now (Prometheus' ALERTS, Alertmanager's
view of them) and how much error budget the SLOs of components/rules/slo.py have left, read from their
recording rules (openemr:slo_errors:ratio_rate<window>, openemr:slo_slow:ratio_rate<window>).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.components.rules import slo
from stackgen.dashboards.openemr_queries import APP, board
from stackgen.dashboards.panels import CLUSTER, Board, Row, prom, stat, table, text, timeseries

if TYPE_CHECKING:
    from stackgen.config import StackConfig

ALERTS, SLO = "openemr-alerts", "openemr-slo"
FIRING = f'{CLUSTER}, alertstate="firing"'
BURN_WINDOWS = ("5m", "1h", "6h", "1d", "3d")


def alerts(stack: StackConfig) -> Board:
    severities = ("critical", "warning", "info")
    return board(stack, ALERTS, "OpenEMR / Alert status", "Alerts firing now and over time, by severity, from "
                 "Prometheus' ALERTS series, and what Alertmanager holds and sends.", [
        Row("Firing now"),
        *(stat(f"Firing {severity}", f"Alerts of severity {severity} firing now (Watchdog, always firing at info, "
                                     "proves the pipeline works).",
               prom(f'count(ALERTS{{{FIRING}, severity="{severity}"}}) or vector(0)'), width=6)
          for severity in severities),
        stat("Pending", "Alerts whose condition holds but not yet for their `for` duration.",
             prom(f'count(ALERTS{{{CLUSTER}, alertstate="pending"}}) or vector(0)'), width=6),
        table("Firing alerts", "Every alert firing now, with its labels.", prom(f"ALERTS{{{FIRING}}}", instant=True)),
        Row("Over time"),
        timeseries("Firing by severity", "Number of firing alerts by severity over the range.",
                   prom(f"count by (severity) (ALERTS{{{FIRING}}})", "{{severity}}"), stack=True),
        timeseries("OpenEMR alerts", "OpenEMR's own alerts (firing or pending) over the range.",
                   prom(f'count by (alertname, alertstate) (ALERTS{{{CLUSTER}, alertname=~"OpenEMR.*"}})',
                        "{{alertname}} {{alertstate}}")),
        Row("Alertmanager"),
        timeseries("Alerts in Alertmanager", "Alerts Alertmanager holds: active ones are routed to receivers, "
                   "suppressed ones are silenced or inhibited.",
                   prom(f"sum by (state) (alertmanager_alerts{{{CLUSTER}}})", "{{state}}")),
        timeseries("Failed notifications", "Notifications per second Alertmanager failed to deliver, by "
                   "integration (Slack, email, PagerDuty).",
                   prom(f"sum by (integration) (rate(alertmanager_notifications_failed_total{{{CLUSTER}}}"
                        "[$__rate_interval]))", "{{integration}}"), unit="ops"),
        text("Silences and alert groups", "Alertmanager's alert groups and silences are in Grafana under "
             "**Alerting → Alert groups** and **Alerting → Silences**: choose the **Alertmanager** datasource in "
             "the picker at the top. Silence there during maintenance; every silence is kept in Alertmanager's "
             "state and visible to the whole team.", height=5),
    ], [SLO, "openemr-api"])


def _burn_rates(series: str, budget: float) -> list:
    return [prom(f"openemr:slo_{series}:ratio_rate{window}{{{APP}}} / {budget:g}", window) for window in BURN_WINDOWS]


def _remaining(series: str, budget: float, window: str) -> str:
    return f"1 - avg_over_time(openemr:slo_{series}:ratio_rate1h{{{APP}}}[{window}]) / {budget:g}"


def slos(stack: StackConfig) -> Board:
    objective = stack.alerting.slo
    window = objective.window
    error_budget, slow_budget = round(1 - objective.availability, 6), round(1 - objective.latency_objective, 6)
    page = ", ".join(f"{slo.burn_factor(window, long, share):g} ({long}/{short})"
                     for severity, pairs in slo.SCHEME if severity == "critical" for long, short, share in pairs)
    ticket = ", ".join(f"{slo.burn_factor(window, long, share):g} ({long}/{short})"
                       for severity, pairs in slo.SCHEME if severity == "warning" for long, short, share in pairs)
    remaining = ("Share of the error budget left over the last {window}: 1 minus the mean of the hourly {what} "
                 "ratios divided by the budget ({budget:.2%}). On Prometheus it covers only its retention; choose "
                 "Mimir for the whole window.")
    return board(stack, SLO, "OpenEMR / SLO and error budget", "OpenEMR's availability and latency objectives: "
                 "the SLIs, the burn rates the alerts watch and the error budget left.", [
        text("Objectives", f"**Availability**: {objective.availability:.2%} of requests answered without a 5xx over "
             f"{window}. **Latency**: {objective.latency_objective:.0%} of requests answered within "
             f"{objective.latency_seconds:g}s over {window}.\n\nA burn rate of 1 spends the budget exactly in the "
             f"window. Pages fire when both windows of a pair burn faster than {page}; tickets above {ticket}.",
             height=4),
        Row("Availability"),
        stat("Availability (1d)", "Share of requests answered without a 5xx over the last day.",
             prom(f"1 - openemr:slo_errors:ratio_rate1d{{{APP}}}"), unit="percentunit"),
        stat("Error budget left", remaining.format(window=window, what="5xx", budget=error_budget),
             prom(_remaining("errors", error_budget, window)), unit="percentunit"),
        timeseries("Availability burn rate", "How fast each alert window spends the availability budget (1 = "
                   "exactly over the SLO window).", *_burn_rates("errors", error_budget)),
        Row("Latency"),
        stat("Within objective (1d)", f"Share of requests answered within {objective.latency_seconds:g}s over "
             "the last day.", prom(f"1 - openemr:slo_slow:ratio_rate1d{{{APP}}}"), unit="percentunit"),
        stat("Latency budget left", remaining.format(window=window, what="slow-request", budget=slow_budget),
             prom(_remaining("slow", slow_budget, window)), unit="percentunit"),
        timeseries("Latency burn rate", "How fast each alert window spends the latency budget.",
                   *_burn_rates("slow", slow_budget)),
        Row("Budget over time"),
        timeseries("Error budget left", "Both budgets' remaining share over the range.",
                   prom(_remaining("errors", error_budget, window), "availability"),
                   prom(_remaining("slow", slow_budget, window), "latency"), unit="percentunit"),
        stat("Burn-rate alerts firing", "OpenEMR's budget-burn alerts firing now (page or ticket).",
             prom(f'count(ALERTS{{{FIRING}, alertname=~"OpenEMR.*BudgetBurn.*"}}) or vector(0)'), width=12, height=8),
    ], [ALERTS, "openemr-api"], time_from="now-7d")


def boards(stack: StackConfig) -> list[Board]:
    return [alerts(stack), slos(stack)]
