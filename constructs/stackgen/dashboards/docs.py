"""docs/dashboards.md, generated from dist/: every dashboard, its panels and what each shows, so that
reviewers see a panel change in the PR without reading JSON (`python main.py dashboards`)."""
from __future__ import annotations

import json
from pathlib import Path

from stackgen.dashboards import CONFIG_MAP_PREFIX
from stackgen.dashboards.panels import FOLDERS
from stackgen.validate import load_tree

DOCS = Path(__file__).resolve().parents[3] / "docs" / "dashboards.md"
HEADER = """# Dashboards

Generated from `dist/` by `python main.py dashboards`; a test keeps it in sync. Each dashboard is
provisioned from its own ConfigMap in `dist/<overlay>/grafana.yaml`, in the folder named here.
Every PromQL panel is proven to return data by `tests/test_dashboards.py`; every LogQL panel is checked
against OpenEMR's log formats by `tests/test_log_queries.py`.
"""


def _boards(dist: Path) -> dict[str, dict[str, dict]]:
    """overlay -> uid -> dashboard JSON, with its folder under `_folder`."""
    found: dict[str, dict[str, dict]] = {}
    for overlay_dir in sorted(p for p in dist.iterdir() if (p / "grafana.yaml").exists()):
        objects = load_tree(overlay_dir)
        folders = _folders(objects)
        found[overlay_dir.name] = {}
        for obj in objects:
            if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith(CONFIG_MAP_PREFIX):
                for text in obj["data"].values():
                    board = json.loads(text)
                    if "uid" in board:
                        found[overlay_dir.name][board["uid"]] = {**board, "_folder": folders.get(board["uid"], "")}
    return found


def _folders(objects: list[dict]) -> dict[str, str]:
    for obj in objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "grafana":
            for volume in obj["spec"]["template"]["spec"]["volumes"]:
                if volume["name"] == "dashboards":
                    return {item["path"].split("/")[1].removesuffix(".json"): item["path"].split("/")[0]
                            for source in volume["projected"]["sources"] for item in source["configMap"]["items"]}
    return {}


def _one_line(text: str) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _panels(board: dict) -> list[dict]:
    return [p for top in board.get("panels", []) for p in [top, *top.get("panels", [])] if p["type"] != "row"]


def _merged(per_overlay: dict[str, dict[str, dict]]) -> dict[str, tuple[dict, dict[str, list[str]]]]:
    """uid -> (its board, panel -> overlays rendering it), over every overlay."""
    merged: dict[str, tuple[dict, dict[str, list[str]]]] = {}
    for overlay, boards in per_overlay.items():
        for uid, board in boards.items():
            first, rendered = merged.setdefault(uid, (board, {}))
            known = {_key(p) for p in _panels(first)}
            first["panels"] = first["panels"] + [p for p in _panels(board) if _key(p) not in known]
            for key in dict.fromkeys(_key(p) for p in _panels(board)):
                rendered.setdefault(key, []).append(overlay)
    return merged


def _key(panel: dict) -> str:
    return f"{panel['type']}:{panel['title']}"


def _only(overlays: list[str], every: list[str]) -> str:
    return "" if overlays == every else f" (only in: {', '.join(overlays)})"


def render(dist: Path) -> str:
    per_overlay = _boards(dist)
    overlays = sorted(per_overlay)
    merged = _merged(per_overlay)
    lines = [HEADER]
    for folder in FOLDERS:
        in_folder = sorted((b for b, _ in merged.values() if b["_folder"] == folder), key=lambda b: b["title"])
        lines.append(f"## {folder} ({len(in_folder)})\n")
        for board in in_folder:
            present = [o for o in overlays if board["uid"] in per_overlay[o]]
            note = _only(present, overlays).replace(" (only in", " Only in").replace(")", ".") if present != overlays else ""
            lines.append(f"### {board['title']} (`{board['uid']}`)\n\n{_one_line(board.get('description'))}{note}\n")
            lines.append("| Panel | Type | What it shows |\n|---|---|---|")
            rendered = merged[board["uid"]][1]
            lines += [f"| {_one_line(p['title'])}{_only(rendered[_key(p)], present)} | {p['type']} | "
                      f"{_one_line(p.get('description'))} |" for p in _panels(board)]
            lines.append("")
    return "\n".join(lines)


def check_or_write(dist: Path, docs: Path, check: bool) -> int:
    text = render(dist)
    if check:
        if not docs.exists() or docs.read_text() != text:
            print(f"{docs.name} is out of date: run `python main.py dashboards`")
            return 1
        return 0
    docs.write_text(text)
    print(f"wrote {docs}")
    return 0
