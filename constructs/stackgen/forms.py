"""The forms an address-like configuration value may take, as the program that reads it parses it.

A key that exists and a host that resolves are not enough: Tempo's querier exits at start when its
frontend address is a gRPC URI (`dns:///host:port`) instead of dskit's `host:port`. Each component
records, beside the code that renders it, the form of every address-like key it renders
(`ADDRESS_FORMS`: key path -> Form, `[]` for list items); `checks/forms.py` holds every rendered value
to its form, and refuses an address-like key that has no recorded form.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

HOST = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
PORT = r"[0-9]{1,5}"
# Keys whose value is an address in the configuration languages the stack renders.
ADDRESS_KEY = re.compile(r"(address|addresses|_members|url|endpoint|host|listen)$")


@dataclass(frozen=True)
class Form:
    description: str
    pattern: str
    parsed_by: str

    def problem(self, value: object) -> str | None:
        if isinstance(value, str) and re.fullmatch(self.pattern, value):
            return None
        return f"{value!r} must be {self.description} ({self.parsed_by})"


# dskit's grpcutil.parseTarget (Tempo's frontend worker): net.SplitHostPort, so a scheme such as
# `dns:///` fails ("invalid target address"); without a port it silently dials 443.
GRPC_HOST_PORT = Form("host:port with no scheme", rf"^{HOST}:{PORT}$",
                      "dskit grpcutil.parseTarget, via Tempo's frontend worker DNS watcher")
# dskit's dns.Provider (memberlist join_members): `dns+` needs a port; SRV lookups may omit it.
DNS_DISCOVERY = Form("dns+host:port, dnssrv+host[:port] or dnssrvnoa+host[:port]",
                     rf"^(dns\+{HOST}:{PORT}|dnssrv(noa)?\+{HOST}(:{PORT})?)$", "dskit dns.Provider")
# Go's url.Parse, then an HTTP client: without a scheme every request fails at run time.
HTTP_URL = Form("an absolute http(s)://host[:port][/path] URL", rf"^https?://{HOST}(:{PORT})?(/\S*)?$",
                "url.Parse and an HTTP client")
# The same, for a client of the stack's own servers: they all serve TLS (issue 23), so plain http:// is refused.
HTTPS_URL = Form("an absolute https://host[:port][/path] URL", rf"^https://{HOST}(:{PORT})?(/\S*)?$",
                 "url.Parse and an HTTP client, to a TLS server")
# Loki's compactor client keeps only scheme and host of compactor_address and sets the path itself.
HTTP_BASE_URL = Form("an http(s)://host[:port] URL without a path", rf"^https?://{HOST}(:{PORT})?$",
                     "Loki compactor client (url.Parse; the path is replaced)")
HTTPS_BASE_URL = Form("an https://host[:port] URL without a path", rf"^https://{HOST}(:{PORT})?$",
                      "Loki compactor client (url.Parse; the path is replaced), to a TLS server")
# minio-go (Tempo's S3 backend, and Mimir's through thanos objstore): a host, never a URL.
S3_ENDPOINT = Form("host[:port] with no scheme or path", rf"^{HOST}(:{PORT})?$", "minio-go endpoint")
# OpenTelemetry Collector receivers (Tempo's distributor): since Tempo 2.7 the default binds localhost.
LISTEN_ALL = Form("0.0.0.0:port", rf"^0\.0\.0\.0:{PORT}$", "OpenTelemetry Collector confignet")
LISTEN_HOST = Form("an address to listen on (0.0.0.0)", r"^0\.0\.0\.0$", "Fluent Bit http_listen")
# Fluent Bit's network outputs: a host name alone; the port is the `port` key, the path the `uri` key.
HOSTNAME = Form("a bare host name (port and path are separate keys)", rf"^{HOST}$", "Fluent Bit flb_output net host")
# Grafana's derived-field internal link: the matched value itself, `$$` escaping provisioning's `$`.
# A link inside Grafana to another provisioned dashboard: a path, so it works behind any root URL.
GRAFANA_DASHBOARD_LINK = Form("a Grafana path /d/<uid>[?query]", r"^/d/[a-z0-9-]{1,40}(\?\S*)?$",
                              "Grafana dashboard and data links (relative to its root URL)")
GRAFANA_VALUE_LINK = Form("Grafana's internal-link query $${__value.raw}", r"^\$\$\{__value\.raw\}$",
                          "Grafana derived fields")
