"""Vendor the pinned upstream data the project renders and validates with, unmodified, with provenance.

    pipenv run vendor [--source ../shared]     copy, and record each file's upstream URL and sha256
    pipenv run vendor --check                  verify the vendored files against the record (no source needed)

What it copies (the sets are declared in constructs/stackgen/crds.py and below):
- CRDs: <source>/crds/<set>/<file> -> imports/crds/<set>/<file>, recorded in imports/crds/SOURCES.yaml.
  Synth copies the sets dist/ applies into dist/crds/ from there; validation reads them from there.
  A set declared `from_source=False` is not in the source folder: it was downloaded from its recorded URL
  by hand; this keeps it and its record untouched, and `--check` verifies its sha256 like any other.
- Configuration key trees of Loki, Tempo and Mimir: <source>/config-reference/<file> ->
  constructs/stackgen/catalog/config-reference/<file>, recorded in its SOURCES.yaml; the key checks read them.

A changed upstream file is a reviewed diff: bump the tag in crds.py (or KEY_TREES), put the new files in
the source folder, run this, commit what changed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "constructs")]

from stackgen import crds  # noqa: E402
from stackgen.checks.config_keys import KEY_TREES, REFERENCE  # noqa: E402

HEADER = "# Written by tools/import_pinned.py: each vendored file, where it comes from, and its sha256. Do not edit.\n"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(entries: dict[str, dict[str, str]], destination: Path, origin: dict[str, str]) -> dict:
    return {name: {"url": origin[name], "sha256": sha256(destination / name)} for name in sorted(entries)}


def vendor(source: Path) -> None:
    previous = yaml.safe_load(crds.SOURCES.read_text()) if crds.SOURCES.exists() else {}
    record = {}
    for crd_set in crds.SETS:
        if not crd_set.from_source:  # vendored by hand: keep the files and the record they are checked against
            record[crd_set.folder] = previous[crd_set.folder]
            continue
        destination = crds.VENDORED / crd_set.folder
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir(parents=True)
        for name in crd_set.files:
            shutil.copyfile(source / "crds" / crd_set.folder / name, destination / name)
        record[crd_set.folder] = {"installed_by": crd_set.installed_by,
                                  "files": _record(crd_set.upstream, destination, crd_set.upstream)}
    crds.SOURCES.write_text(HEADER + yaml.safe_dump(record, sort_keys=True))
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for name in KEY_TREES.values():
        shutil.copyfile(source / "config-reference" / name, REFERENCE / name)
    origins = {name: json.loads((REFERENCE / name).read_text())["__meta__"]["source"] for name in KEY_TREES.values()}
    (REFERENCE / "SOURCES.yaml").write_text(HEADER + yaml.safe_dump(_record(origins, REFERENCE, origins), sort_keys=True))


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def problems() -> list[str]:
    """Vendored files that are missing, extra or changed since they were recorded."""
    found = []
    record = yaml.safe_load(crds.SOURCES.read_text())
    for crd_set in crds.SETS:
        entry = record.get(crd_set.folder, {"files": {}})
        if sorted(entry["files"]) != crd_set.files:
            found.append(f"imports/crds/{crd_set.folder}: recorded {sorted(entry['files'])}, declared {crd_set.files}")
        for name, meta in entry["files"].items():
            path = crds.vendored_path(crd_set, name)
            if not path.exists() or sha256(path) != meta["sha256"] or meta["url"] != crd_set.upstream.get(name):
                fix = "re-run tools/import_pinned.py" if crd_set.from_source else "download it again from its URL"
                found.append(f"{_shown(path)}: differs from its record ({fix})")
    trees = yaml.safe_load((REFERENCE / "SOURCES.yaml").read_text())
    for name, meta in trees.items():
        if sha256(REFERENCE / name) != meta["sha256"]:
            found.append(f"{(REFERENCE / name).relative_to(ROOT)}: differs from its record")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=str(ROOT.parent / "shared"),
                        help="folder holding crds/ and config-reference/ (default: ../shared)")
    parser.add_argument("--check", action="store_true", help="verify the vendored files against their record")
    args = parser.parse_args()
    if not args.check:
        vendor(Path(args.source))
    found = problems()
    for problem in found:
        print(problem)
    print(f"vendor: {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
