"""Every check `validate` runs over one rendered overlay, beyond the schemas."""
from __future__ import annotations

from stackgen.checks.addresses import check_urls
from stackgen.checks.config_keys import check_backend_config_keys
from stackgen.checks.fluent_bit import check_fluent_bit_keys
from stackgen.checks.forms import check_address_forms
from stackgen.checks.listeners import check_listeners
from stackgen.checks.pod_security import check_pod_security_admission
from stackgen.checks.references import (
    check_autoscalers,
    check_disruption_budgets,
    check_labels,
    check_monitors_catalogued,
    check_monitors_selected,
    check_network_policies,
    check_port_names,
    check_service_monitor_ports,
    check_services,
)
from stackgen.checks.secrets import check_secret_producers
from stackgen.checks.security import check_pod_security
from stackgen.checks.tls import check_tls_clients
from stackgen.checks.tls_names import check_certificate_names
from stackgen.manifests import Manifests

ALL_CHECKS = [check_monitors_selected, check_service_monitor_ports, check_services, check_urls,
              check_autoscalers, check_disruption_budgets, check_network_policies, check_pod_security, check_labels,
              check_port_names, check_monitors_catalogued, check_address_forms, check_fluent_bit_keys,
              check_pod_security_admission, check_secret_producers, check_backend_config_keys,
              check_tls_clients, check_certificate_names, check_listeners]


def check_all(objects: list[dict]) -> list[str]:
    manifests = Manifests(objects)
    return [problem for check in ALL_CHECKS for problem in check(manifests)]
