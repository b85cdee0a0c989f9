"""The stack's certificate authority: the issuer every component's certificate comes from (lib/tls.py).

With `tls.cluster_issuer` empty: a self-signed ClusterIssuer signs one root CA Certificate, kept in
cert-manager's cluster resource namespace (`tls.ca_namespace`), and a CA ClusterIssuer signs every
component's certificate with it. A ClusterIssuer, not one Issuer a namespace, because the stack's
namespace, the agents' and the application's (the OpenEMR sidecar) must trust one CA. cert-manager puts
the issuing CA into each certificate's Secret as `ca.crt`, which is what every client verifies with.

With `tls.cluster_issuer` set, the user's ClusterIssuer signs them and nothing is rendered here; an
issuer whose Secrets carry no `ca.crt` (ACME) cannot serve in-cluster TLS (cert-manager's "ca.crt"
documentation), so use a CA, Vault or AWS Private CA issuer.

Applied in the operators stage: the platform stage's HelmRelease has cert-manager's webhook serving
before these are admitted, and the stack's Certificates come after.

Also here: Prometheus scrapes the cert-manager the platform stage installs (its chart's metrics Service,
deploy/charts/cert-manager/templates/service.yaml: `cert-manager`, port `tcp-prometheus-servicemonitor`
9402, plain HTTP: certificate names and expiry times, no telemetry of the application), for the
certificates alerts (rules/certificates.py).
"""
from __future__ import annotations

from constructs import Construct
from stackgen import versions
from stackgen.components.platform import cert_manager
from stackgen.components.rules.certificates import JOB, managed
from stackgen.context import Context, ScrapeTarget
from stackgen.lib.meta import Identity
from stackgen.lib.monitors import Endpoint, service_monitor
from stackgen.lib.netpol import pods
from stackgen.lib.plain import custom_resource
from stackgen.lib.tls import CERTIFICATE_API, issuer_name
from stackgen.lib.workload import Port

METRICS = Port("tcp-prometheus-servicemonitor", 9402)
# The chart's controller pods and metrics Service (release name `cert-manager`).
CONTROLLER = {"app.kubernetes.io/name": JOB, "app.kubernetes.io/instance": cert_manager.CHART.name,
              "app.kubernetes.io/component": "controller"}


class CertificateAuthority(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "certificate-authority")
        stack = ctx.config
        identity = ctx.identity("certificate-authority", "tls", versions.CERT_MANAGER)
        if managed(stack):
            self._scrape_cert_manager(ctx, identity)
        if not stack.tls.cluster_issuer:
            self._root_and_issuer(ctx, identity)

    def _scrape_cert_manager(self, ctx: Context, identity: Identity) -> None:
        # honorLabels: the certificate's own `namespace` label, not the controller's.
        service_monitor(self, Identity(JOB, identity.component, identity.version, identity.instance, identity.namespace),
                        [Endpoint(METRICS.name, honor_labels=True)], selector=CONTROLLER,
                        in_namespace=cert_manager.NAMESPACE)
        ctx.scrape_targets.append(ScrapeTarget(pods(CONTROLLER, cert_manager.NAMESPACE), (METRICS,)))

    def _root_and_issuer(self, ctx: Context, identity: Identity) -> None:
        stack = ctx.config
        root, ca = f"{stack.namespace}-selfsigned", issuer_name(stack)
        custom_resource(self, "root-issuer", CERTIFICATE_API, "ClusterIssuer",
                        {"name": root, "labels": identity.labels}, {"selfSigned": {}})
        custom_resource(self, "root-certificate", CERTIFICATE_API, "Certificate", {
            "name": ca, "namespace": stack.tls.ca_namespace, "labels": identity.labels}, {
            "isCA": True, "commonName": f"{stack.namespace} {stack.instance} CA", "secretName": ca,
            "duration": stack.tls.ca_duration,
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": root}})
        custom_resource(self, "ca-issuer", CERTIFICATE_API, "ClusterIssuer",
                        {"name": ca, "labels": identity.labels}, {"ca": {"secretName": ca}})
