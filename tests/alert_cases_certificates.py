"""promtool cases for the certificates group (rules/certificates.py), with hospital's defaults:
tls.renew_before 720h, so a certificate is overdue below 552 hours left, and pages below 168."""
from alert_cases_base import case

CERT = {"namespace": "monitoring", "name": "loki-tls"}
SEL = 'namespace="monitoring",name="loki-tls"'
READY = 'certmanager_certificate_ready_status{%s,condition="%s"}'
EXPIRY = f"certmanager_certificate_expiration_timestamp_seconds{{{SEL}}}"
NEVER_ISSUED = {'certmanager_certificate_expiration_timestamp_seconds{namespace="monitoring",name="new-tls"}': "0x80"}
AT = 70 * 60  # seconds since the start of the test at its evaluation time (70m)


def expires_in(days: float) -> str:
    """A constant expiry `days` after the evaluation time (promtool's time() is seconds since its start)."""
    return f"{int(AT + days * 86400)}x80"


CERTIFICATE_CASES = {
    "CertificateNotReady": case({READY % (SEL, "False"): "1x30", READY % (SEL, "True"): "0x30"},
                                {READY % (SEL, "False"): "0x30", READY % (SEL, "True"): "1x30"}, "20m",
                                {**CERT, "condition": "False"}),
    # 10 days left: renewal was due at 30 and is 20 days late; 40 days left: not due yet.
    "CertificateRenewalOverdue": case({EXPIRY: expires_in(10)}, {EXPIRY: expires_in(40)}, "70m", CERT),
    # 3 days left pages; 10 days left does not (it is only overdue). Never issued (0) is not "expiring".
    "CertificateExpiringSoon": case({EXPIRY: expires_in(3), **NEVER_ISSUED}, {EXPIRY: expires_in(10), **NEVER_ISSUED},
                                    "70m", CERT),
    "CertManagerDown": case({'up{namespace="cert-manager",job="cert-manager"}': "0x30"},
                            {'up{namespace="cert-manager",job="cert-manager"}': "1x30"}, "20m", {}),
}
