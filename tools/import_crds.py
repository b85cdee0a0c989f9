"""Regenerate the typed CRD bindings in imports/com/ from the vendored CRDs in imports/crds/ (tools/import_pinned.py).

`cdk8s import` turns a CRD into a jsii module. Two of the Prometheus Operator CRDs cannot be compiled
as they are: jsii refuses property names shaped like Java getters (`getConcurrency` in
Alertmanager.spec.web, `getConfigInterval`/`getConfigTimeout` in Prometheus.spec.thanos; upstream
cdk8s issue #1323). Those three optional fields are dropped from the *bindings only*; the project never
sets them, and rendered objects are validated against the unmodified CRD schemas.

All CRDs of one API group go into one file and one import, because every import of the group would be
a Python package with the same name (`com.coreos.monitoring`) and a jsii assembly with the same name.

Usage: pipenv run python tools/import_crds.py   (needs `npm ci` for the cdk8s CLI)
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "cdk8s.yaml"
JAVA_GETTER = re.compile(r"^get[A-Z]")


def drop_java_getter_properties(node):
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for key in [k for k in props if JAVA_GETTER.match(k)]:
                del props[key]
        for value in node.values():
            drop_java_getter_properties(value)
    elif isinstance(node, list):
        for value in node:
            drop_java_getter_properties(value)


def main() -> int:
    original = CONFIG.read_text()
    config = yaml.safe_load(original)
    crd_files = [ROOT / path for path in config["imports"]]
    documents = []
    for path in crd_files:
        crd = yaml.safe_load(path.read_text())
        drop_java_getter_properties(crd)
        documents.append(crd)
    with tempfile.TemporaryDirectory() as tmp:
        combined = Path(tmp) / "monitoring.coreos.com.yaml"
        combined.write_text(yaml.safe_dump_all(documents))
        shutil.rmtree(ROOT / "imports" / "com", ignore_errors=True)  # imports/crds/ is the vendored source
        env = dict(os.environ, CDK8S_CHECK_UPGRADE="false")
        subprocess.run(
            ["npx", "--no-install", "cdk8s", "import", str(combined), "-l", "python", "-o", "imports"],
            cwd=ROOT, env=env, check=True,
        )
    # `cdk8s import` appends the (temporary) combined file to cdk8s.yaml's imports: keep the pinned list.
    CONFIG.write_text(original)
    return 0


if __name__ == "__main__":
    sys.exit(main())
