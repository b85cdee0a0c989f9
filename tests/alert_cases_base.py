"""Helpers and shared labels for the promtool cases (alert_cases*.py): a case is the input series that
make an alert fire (with the labels expected on the alert, severity aside) and series that keep it
quiet."""
APP = 'namespace="openemr"'
HTTP = 'http_server_request_duration_seconds_count{k8s_namespace_name="openemr",k8s_deployment_name="openemr",http_response_status_code="%s"}'
BUCKET = 'http_server_request_duration_seconds_bucket{k8s_namespace_name="openemr",k8s_deployment_name="openemr",le="%s"}'
OPENEMR = {"k8s_namespace_name": "openemr", "k8s_deployment_name": "openemr"}
POD = {"namespace": "openemr", "pod": "openemr-1", "container": "openemr"}
POD_SEL = 'namespace="openemr",pod="openemr-1",container="openemr"'
SHOP = 'namespace="shop"'


def case(fire, quiet, at, labels, interval="1m", quiet_at=None, alerts=None):
    """fire/quiet: {series: values}; at: eval time; labels: of the one expected alert (or `alerts`)."""
    return {"fire": fire, "quiet": quiet, "at": at, "quiet_at": quiet_at or at,
            "alerts": alerts if alerts is not None else [labels], "interval": interval}


def gauge(series, fire, quiet, at, labels, **kwargs):
    """One series: `fire` values make the alert fire, `quiet` values keep it quiet."""
    return case({series: fire}, {series: quiet}, at, labels, **kwargs)


def rising(per_step, steps=40):
    return f"0+{per_step}x{steps}"


def ratio_case(metric, labels_sel, labels):
    """5xx ratio alerts over request-duration counters: 10% fire, 1% stay quiet."""
    bad, good = f'{metric}{{{labels_sel},status_code="500",route="r"}}', f'{metric}{{{labels_sel},status_code="200",route="r"}}'
    return case({bad: rising(10), good: rising(90)}, {bad: rising(1), good: rising(99)}, "25m", labels)


def counter_case(metric, selector, labels, at="25m"):
    series = f"{metric}{{{selector}}}"
    return case({series: rising(10)}, {series: "5x40"}, at, labels)


def stale_timestamp_case(metric, selector, labels):
    """A last-success timestamp that stops moving for more than a day."""
    series = f"{metric}{{{selector}}}"
    return case({series: "0x1600"}, {series: "0+60x1600"}, "26h", labels)


MON = 'namespace="monitoring"'
AGENTS = 'namespace="monitoring-agents"'
