"""Service level objectives for OpenEMR, from OTeBPF's HTTP metrics: error-budget burn rates and
multi-window, multi-burn-rate alerts (the Google SRE workbook's scheme).

Two objectives per overlay: availability (requests answered without a 5xx) and latency (requests
answered within `latency_seconds`), each over `window`. A burn rate of 1 spends the budget exactly in
the window. An alert needs both a long and a short window above the same factor: the long one proves
the budget is really being spent, the short one that it still is (so the alert ends soon after the
cause). Fast burns page (critical), slow burns open a ticket (warning):

| alert | long / short window | budget spent when it fires |
|---|---|---|
| page | 1h / 5m, and 6h / 30m | 2%, and 5% |
| ticket | 1d / 2h, and 3d / 6h | 10%, and 10% |

The factor for each pair is budget spent x window / long window (14.4 and 6 for a 30-day window).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from stackgen.lib.alerts import Alert, Record
from stackgen.settings import Model, PositiveDuration, duration_seconds

if TYPE_CHECKING:
    from stackgen.config import StackConfig

# OBI's request-duration histogram boundaries when none are configured (OpenTelemetry's semantic
# conventions; OBI docs, "metrics histograms"): a latency objective must sit on one of them.
OBI_DURATION_BUCKETS = (0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity, [(long, short, share of the budget spent)])
SCHEME = (("critical", (("1h", "5m", 0.02), ("6h", "30m", 0.05))),
          ("warning", (("1d", "2h", 0.10), ("3d", "6h", 0.10))))
BY = "k8s_namespace_name, k8s_deployment_name"


class SloConfig(Model):
    availability: float = Field(0.995, gt=0.5, lt=1, description="share of requests answered without a 5xx")
    latency_objective: float = Field(0.95, gt=0.5, lt=1, description="share of requests within latency_seconds")
    latency_seconds: float = 1.0
    window: PositiveDuration = "28d"

    @model_validator(mode="after")
    def _latency_on_a_bucket(self) -> "SloConfig":
        if self.latency_seconds not in OBI_DURATION_BUCKETS:
            raise ValueError(f"latency_seconds={self.latency_seconds:g} must be a boundary of OBI's request-duration "
                             f"histogram: {', '.join(f'{b:g}' for b in OBI_DURATION_BUCKETS if b)}")
        return self


def _ratio(bad: str, total: str, window: str) -> str:
    return f"sum by ({BY}) (rate({bad}[{window}])) / sum by ({BY}) (rate({total}[{window}]))"


def burn_factor(window: str, long: str, share: float) -> float:
    return round(share * duration_seconds(window) / duration_seconds(long), 2)


def rules(stack: StackConfig) -> list[Alert | Record]:
    slo, app = stack.alerting.slo, stack.app_namespace
    total = f'http_server_request_duration_seconds_count{{k8s_namespace_name="{app}"}}'
    errors = f'http_server_request_duration_seconds_count{{k8s_namespace_name="{app}",http_response_status_code=~"5.."}}'
    fast = f'http_server_request_duration_seconds_bucket{{k8s_namespace_name="{app}",le="{slo.latency_seconds:g}"}}'
    found = []
    for window in WINDOWS:
        found.append(Record(f"openemr:slo_errors:ratio_rate{window}", _ratio(errors, total, window)))
        found.append(Record(f"openemr:slo_slow:ratio_rate{window}", f"1 - ({_ratio(fast, total, window)})"))
    objectives = (("Errors", "errors", 1 - slo.availability, f"{slo.availability:.2%} of requests without a 5xx"),
                  ("Latency", "slow", 1 - slo.latency_objective,
                   f"{slo.latency_objective:.0%} of requests within {slo.latency_seconds:g}s"))
    for title, series, budget, objective in objectives:
        for severity, pairs in SCHEME:
            speed = "Fast" if severity == "critical" else "Slow"
            condition = " or ".join(
                f"(openemr:slo_{series}:ratio_rate{long} > {burn_factor(slo.window, long, share) * budget:.6g} and "
                f"openemr:slo_{series}:ratio_rate{short} > {burn_factor(slo.window, long, share) * budget:.6g})"
                for long, short, share in pairs)
            pace = ("so fast that the budget is gone within days (page)" if severity == "critical" else
                    "faster than the window allows (ticket)")
            found.append(Alert(
                f"OpenEMR{title}BudgetBurn{speed}", condition, severity,
                f"OpenEMR burns its {title.lower()} budget {speed.lower()} ({{{{ $labels.k8s_deployment_name }}}})",
                f"The objective is {objective} over {slo.window}; {{{{ $labels.k8s_deployment_name }}}} spends its "
                f"budget {pace}: {{{{ $value | humanizePercentage }}}} of its requests are {series} over the long "
                "window.", "2m" if severity == "critical" else "15m"))
    return found
