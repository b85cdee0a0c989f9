"""Fluent Bit's TLS settings, written once for its outputs (Loki, Elasticsearch, the sidecar's forward) and for
the node agents' forward listener. Keys and values of Fluent Bit 4.2.0 (catalog/fluent-bit-4.2.0.yaml, common
input and output keys; src/tls/flb_tls.c tls_configmap, applied in src/flb_output.c and src/flb_input.c):

- `tls.verify` defaults on, but `tls.verify_hostname` defaults off: both are set. With no `tls.vhost` the name
  sent (SNI) and verified is the plugin's `host` (src/tls/flb_tls.c flb_tls_session_create takes the upstream's
  tcp_host; src/tls/openssl.c tls_net_handshake -> setup_hostname_validation), which the server's
  certificate carries, so no vhost is needed.
- `tls.min_version` takes `TLSv1.2` / `TLSv1.3` (src/tls/openssl.c parse_proto_version); unset, the floor is
  TLS 1.1 (tls_set_minmax_proto). Every server Fluent Bit dials here (Loki, Elasticsearch, Fluent Bit) speaks 1.3.
- Files are read once, when the plugin starts (src/tls/openssl.c tls_context_create): a renewed certificate
  takes effect when the pod restarts (lib/tls.NODE_LIFETIME says why that is soon enough).
"""
from __future__ import annotations

from stackgen.lib.tls import CA_FILE, CERT_FILE, KEY_FILE

MIN_VERSION = "TLSv1.3"


def client(ca_file: str = CA_FILE) -> dict:
    """An output that verifies the server's chain against `ca_file` and its name against `host`."""
    return {"tls": "on", "tls.verify": "on", "tls.verify_hostname": "on", "tls.ca_file": ca_file,
            "tls.min_version": MIN_VERSION}


def server() -> dict:
    """An input that serves the pod's own certificate. Server side, `tls.verify` asks a client for a certificate
    and verifies one that is presented against the CA; a client without one is still served (SSL_VERIFY_PEER
    without FAIL_IF_NO_PEER_CERT, src/tls/openssl.c tls_context_create)."""
    return {"tls": "on", "tls.verify": "on", "tls.ca_file": CA_FILE, "tls.crt_file": CERT_FILE,
            "tls.key_file": KEY_FILE, "tls.min_version": MIN_VERSION}
