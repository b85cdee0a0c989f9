"""The stack's TLS certificates, from cert-manager's controller metrics (v1.21.1; the ServiceMonitor is
components/certificate_authority.py's). Every listener of the stack stops accepting its clients when its
certificate expires, so a renewal that stalls has to be noticed while weeks remain: cert-manager renews
each certificate `tls.renew_before` ahead of expiry, and a week after that it is overdue."""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.lib.alerts import Alert
from stackgen.settings import duration_seconds

if TYPE_CHECKING:
    from stackgen.config import StackConfig

CERT = "Certificate {{ $labels.namespace }}/{{ $labels.name }}"
JOB = "cert-manager"  # the chart's metrics Service, which names the scrape job
OVERDUE_AFTER_HOURS = 7 * 24
PAGE_BEFORE_HOURS = 7 * 24


def managed(stack: StackConfig) -> bool:
    """Only the cert-manager the platform stage installs is scraped (an existing one: its owner's Prometheus)."""
    return stack.platform.cert_manager == "managed"


def groups(stack: StackConfig) -> dict[str, list]:
    if not managed(stack):
        return {}
    namespaces = "|".join(dict.fromkeys((stack.namespace, stack.agents_namespace, stack.app_namespace,
                                         stack.tls.ca_namespace)))
    ours = f'namespace=~"{namespaces}"'
    # 0 until the certificate is first issued (pkg/metrics/certificates.go): CertificateNotReady covers that.
    remaining = f"((certmanager_certificate_expiration_timestamp_seconds{{{ours}}} > 0) - time()) / 3600"
    overdue = duration_seconds(stack.tls.renew_before) / 3600 - OVERDUE_AFTER_HOURS
    return {"certificates": [
        Alert("CertificateNotReady", f'max by (namespace, name, condition) (certmanager_certificate_ready_status'
              f'{{{ours},condition!="True"}}) == 1', "warning", f"{CERT} is not ready",
              f"cert-manager cannot issue or renew {CERT} (Ready={{{{ $labels.condition }}}}: {{{{ $value }}}}): the "
              "pods that mount it keep the old certificate until it expires, then their clients refuse them.", "15m"),
        Alert("CertificateRenewalOverdue", f"{remaining} < $threshold", "warning",
              f"{CERT} was not renewed when due",
              f"{CERT} expires in {{{{ $value | humanize }}}} hours, less than $threshold: cert-manager should "
              f"have renewed it {OVERDUE_AFTER_HOURS // 24} days ago (tls.renew_before).", "1h", max(overdue, 1), "hours"),
        Alert("CertificateExpiringSoon", f"{remaining} < $threshold", "critical", f"{CERT} expires within days",
              f"{CERT} expires in {{{{ $value | humanize }}}} hours (threshold $threshold): every client of the "
              "component behind it will refuse the connection then.", "1h", PAGE_BEFORE_HOURS, "hours"),
        Alert("CertManagerDown", f'absent(up{{job="{JOB}"}} == 1)', "warning", "cert-manager is not running",
              "No cert-manager controller has answered a scrape for 15 minutes (absent={{ $value }}): no certificate of the stack is renewed until it is "
              "back (each is renewed weeks before expiry, so this is not yet an outage).", "15m"),
    ]}
