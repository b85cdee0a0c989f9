"""Custom resources as plain objects: typed bindings would load one more jsii assembly on every synth for a
few objects; the objects are validated against the vendored CRDs instead."""
from __future__ import annotations

import cdk8s

from constructs import Construct


def custom_resource(scope: Construct, id: str, api_version: str, kind: str, metadata: dict,
                    spec: dict | None = None) -> cdk8s.ApiObject:
    obj = cdk8s.ApiObject(scope, id, api_version=api_version, kind=kind, metadata=cdk8s.ApiObjectMetadata(**metadata))
    if spec is not None:
        obj.add_json_patch(cdk8s.JsonPatch.add("/spec", spec))
    return obj
