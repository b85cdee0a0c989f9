"""An object-level diff of two rendered trees, for pull-request review and the stale-dist/ check.

Objects are matched by (file's directory, kind, namespace, name), never by position, so reordering or
re-serialisation is no change. For each changed object it lists the field paths with old -> new values;
configuration files inside ConfigMaps are compared as parsed YAML/JSON, and lists of named things
(alert rules, containers, ports, panels, ...) by name rather than by index.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stackgen.crds import CrdLoader

# List items are matched by the first of these keys each has (when that names them uniquely).
ITEM_KEYS = ("alert", "record", "name", "uid", "title", "id", "containerPort", "port", "path")
MAX_VALUE = 100


@dataclass
class ObjectChange:
    key: str
    fields: list[tuple[str, object, object]] = field(default_factory=list)


@dataclass
class OverlayDiff:
    overlay: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[ObjectChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def working_tree(dist: Path) -> dict[str, str]:
    return {str(p.relative_to(dist)): p.read_text() for p in sorted(dist.rglob("*")) if p.is_file()}


def git_tree(ref: str, dist: Path) -> dict[str, str]:
    """dist/ as committed at a git ref."""
    root = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=dist.parent, capture_output=True,
                               text=True, check=True).stdout.strip())
    prefix = str(dist.resolve().relative_to(root))
    listing = subprocess.run(["git", "ls-tree", "-r", "--name-only", ref, "--", prefix], cwd=root,
                             capture_output=True, text=True, check=True).stdout.split()
    return {path[len(prefix) + 1:]: subprocess.run(["git", "show", f"{ref}:{path}"], cwd=root, capture_output=True,
                                                    text=True, check=True).stdout for path in listing}


def _objects(tree: dict[str, str]) -> dict[str, dict[str, object]]:
    """overlay -> object key -> object (or, for a file that is not YAML, its text)."""
    found: dict[str, dict[str, object]] = {}
    for path, text in tree.items():
        overlay, _, rest = path.partition("/")
        folder = rest.rsplit("/", 1)[0] + "/" if "/" in rest else ""
        objects = found.setdefault(overlay if rest else ".", {})
        if not path.endswith(".yaml"):
            objects[rest or path] = text
            continue
        for doc in (d for d in yaml.load_all(text, Loader=CrdLoader) if d):  # dist/crds/ holds upstream CRDs
            meta = doc.get("metadata") or {}
            name = meta.get("name") or rest
            objects[f"{folder}{doc['kind']}/{meta.get('namespace', '')}/{name}".replace("//", "/")] = doc
    return found


def _parsed(value: object) -> object:
    """A configuration file held in a string, parsed (so that formatting is no change)."""
    if isinstance(value, str) and "\n" in value:
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if isinstance(parsed, (dict, list)):
            return parsed
    return value


def _join(path: str, key: str) -> str:
    """A field path: keys that hold dots or slashes (file names, annotation keys) in brackets."""
    if "." in key or "/" in key:
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _identity(item: object) -> str | None:
    """What names a list item: its first key of ITEM_KEYS (`alert=X`, `record=Y`, `name=Z`, ...)."""
    if isinstance(item, dict):
        for key in ITEM_KEYS:
            if key in item:
                return f"{key}={item[key]}"
    return None


def _by_identity(items: list) -> dict[str, object] | None:
    names = [_identity(item) for item in items]
    return dict(zip(names, items)) if None not in names and len(set(names)) == len(names) else None


def field_changes(old: object, new: object, path: str = "") -> list[tuple[str, object, object]]:
    old, new = _parsed(old), _parsed(new)
    if isinstance(old, dict) and isinstance(new, dict):
        return [change for key in sorted(set(old) | set(new), key=str)
                for change in field_changes(old.get(key), new.get(key), _join(path, str(key)))]
    if isinstance(old, list) and isinstance(new, list):
        by_old, by_new = _by_identity(old), _by_identity(new)
        if by_old is not None and by_new is not None and (old or new):
            return [change for name in sorted(set(by_old) | set(by_new))
                    for change in field_changes(by_old.get(name), by_new.get(name), f"{path}[{name}]")]
        if len(old) == len(new):
            return [change for n, (a, b) in enumerate(zip(old, new)) for change in field_changes(a, b, f"{path}[{n}]")]
    return [] if old == new else [(path, old, new)]


def compare(old_tree: dict[str, str], new_tree: dict[str, str]) -> list[OverlayDiff]:
    old, new = _objects(old_tree), _objects(new_tree)
    diffs = []
    for overlay in sorted(set(old) | set(new)):
        before, after = old.get(overlay, {}), new.get(overlay, {})
        diff = OverlayDiff(overlay, added=sorted(set(after) - set(before)), removed=sorted(set(before) - set(after)))
        for key in sorted(set(before) & set(after)):
            fields = field_changes(before[key], after[key])
            if fields:
                diff.changed.append(ObjectChange(key, fields))
        diffs.append(diff)
    return diffs


def _short(value: object) -> str:
    text = "(absent)" if value is None else json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    text = text.replace("\n", "\\n")
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def markdown(diffs: list[OverlayDiff], extra: dict[str, list[str]] | None = None) -> str:
    changed = [d for d in diffs if not d.empty]
    if not changed:
        return "no changes\n"
    lines = []
    for diff in changed:
        lines.append(f"### {diff.overlay}: {len(diff.changed)} changed, {len(diff.added)} added, "
                     f"{len(diff.removed)} removed")
        lines += [f"- added `{key}`" for key in diff.added] + [f"- removed `{key}`" for key in diff.removed]
        for change in diff.changed:
            lines.append(f"- changed `{change.key}`")
            if not change.key.endswith(".md"):  # a report: its numbers are summed up below
                lines += [f"  - `{path}`: `{_short(a)}` -> `{_short(b)}`" for path, a, b in change.fields]
        lines += (extra or {}).get(diff.overlay, [])
        lines.append("")
    return "\n".join(lines)


def as_json(diffs: list[OverlayDiff], extra: dict[str, object] | None = None) -> str:
    return json.dumps([{"overlay": d.overlay, "added": d.added, "removed": d.removed,
                        "changed": [{"object": c.key, "fields": [{"path": p, "old": a, "new": b} for p, a, b in c.fields]}
                                    for c in d.changed], **((extra or {}).get(d.overlay) or {})}
                       for d in diffs if not d.empty], indent=2, sort_keys=True, default=str) + "\n"


def cost_deltas(old_tree: dict[str, str], new_tree: dict[str, str]) -> dict[str, dict[str, float]]:
    """overlay -> monthly estimates (CAPACITY.md) before and after, at minimum and maximum scale."""
    from stackgen.capacity import monthly_totals

    found = {}
    for path in sorted(set(old_tree) | set(new_tree)):
        if path.endswith("/CAPACITY.md"):
            before, after = (monthly_totals(tree.get(path, "")) or (0.0, 0.0) for tree in (old_tree, new_tree))
            if before != after:
                found[path.split("/")[0]] = {"min_before": before[0], "min_after": after[0],
                                             "max_before": before[1], "max_after": after[1]}
    return found


def cost_lines(deltas: dict[str, dict[str, float]]) -> dict[str, list[str]]:
    return {overlay: [f"- monthly estimate: ${d['min_before']:.2f} -> ${d['min_after']:.2f} at minimum scale "
                      f"({d['min_after'] - d['min_before']:+.2f}), ${d['max_before']:.2f} -> ${d['max_after']:.2f} "
                      f"at maximum ({d['max_after'] - d['max_before']:+.2f})"]
            for overlay, d in deltas.items()}
