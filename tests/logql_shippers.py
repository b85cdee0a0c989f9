"""What our log shippers send to Loki, read from the rendered Fluent Bit configs in dist/<overlay> (the
node DaemonSet's and, when rendered, OpenEMR's sidecar): the stream labels each Loki output attaches
(`labels`, `label_keys`), which of them are fixed values, and OpenEMR's sample lines
(tests/fixtures/openemr-logs: Apache combined access log, Apache error log, PHP error log, the
container's own output) as each shipper delivers them: joined by its multiline parsers, labelled by its output, wrapped in the JSON
record its `line_format: json` writes, the text in `log`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "openemr-logs"
# What OpenEMR's container itself prints: its entrypoint's messages (openemr-devops
# docker/openemr/7.0.4/openemr.sh). Apache's access and error logs (PHP-FPM's errors included) go to
# files through rotatelogs (openemr.conf there), so only a shipper tailing those files (the sidecar) sees
# access.log, error.log and php_errors.log (PHP's error_log, which the sidecar points there).
CONTAINER_STREAMS = {"container.log": "stdout"}
# Who OpenEMR's lines belong to (the synthetic cluster's pod).
POD = {"pod": "openemr-6f7d8c9b5-x2x7k", "container": "openemr", "labels": {"app": "openemr"}}


# --- Shippers ----------------------------------------------------------------------------------------

@dataclass
class Shipper:
    name: str
    labels: dict[str, str]  # label -> fixed value, or a record accessor / ${ENV} for dynamic ones
    label_keys: list[str]
    inputs: list[dict]
    filters: list[dict]
    multiline: dict[str, tuple[re.Pattern, re.Pattern]]  # parser name -> (start, continuation)

    def fixed(self) -> dict[str, str]:
        return {k: v for k, v in self.labels.items() if not v.startswith("$")}


def _fluent_regex(text: str) -> re.Pattern:
    return re.compile(text[1:-1] if text.startswith("/") and text.endswith("/") else text)


def _shipper(name: str, config: dict) -> Shipper:
    [output] = [o for o in config["pipeline"]["outputs"] if o["name"] == "loki"]
    labels = dict(item.strip().split("=", 1) for item in output["labels"].split(",") if item.strip())
    keys = [k.strip().lstrip("$") for k in output.get("label_keys", "").split(",") if k.strip()]
    multiline = {}
    for parser in config.get("multiline_parsers", []):
        rules = {rule["state"]: _fluent_regex(rule["regex"]) for rule in parser["rules"]}
        multiline[parser["name"]] = (rules["start_state"], rules["cont"])
    return Shipper(name, labels, keys, config["pipeline"]["inputs"], config["pipeline"].get("filters", []), multiline)


def shippers(overlay_dir: Path) -> list[Shipper]:
    """Every Fluent Bit config rendered for the overlay that has a Loki output."""
    found = []
    for path in sorted(overlay_dir.rglob("*.yaml")):
        text = path.read_text()
        if "fluent-bit.yaml:" not in text:  # spare parsing the dashboards' megabytes
            continue
        for obj in yaml.safe_load_all(text):
            if not obj or obj.get("kind") != "ConfigMap":
                continue
            for key, data in (obj.get("data") or {}).items():
                if key.endswith("fluent-bit.yaml"):
                    config = yaml.safe_load(data)
                    if any(o["name"] == "loki" for o in config.get("pipeline", {}).get("outputs", [])):
                        found.append(_shipper(f"{obj['metadata']['namespace']}/{obj['metadata']['name']}", config))
    return found


def label_names(found: list[Shipper]) -> set[str]:
    return {name for s in found for name in [*s.labels, *s.label_keys]}


# --- What reaches Loki: OpenEMR's fixture lines, as each shipper delivers them ----------------------

@dataclass
class Entry:
    labels: dict[str, str]
    line: str


def _records(lines: list[str], parser: tuple[re.Pattern, re.Pattern] | None) -> list[str]:
    """Fluent Bit's multiline join: a continuation line goes onto the record a start line opened."""
    records: list[str] = []
    open_record = False
    for line in lines:
        if parser and open_record and not parser[0].search(line) and parser[1].search(line):
            records[-1] += "\n" + line
            continue
        records.append(line)
        open_record = bool(parser and parser[0].search(line))
    return records


def _accessor(value: str, record: dict, env: dict[str, str]) -> str:
    """A Loki output label value: fixed, ${ENV}, $key or $key['a']['b'] (Fluent Bit record accessor)."""
    if value.startswith("${"):
        return env[value[2:-1]]
    if not value.startswith("$"):
        return value
    current = record
    for part in [value[1:].split("[", 1)[0], *re.findall(r"\['([^']+)'\]", value)]:
        current = current.get(part, "") if isinstance(current, dict) else ""
    return current if isinstance(current, str) else ""


def _fixture(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def entries(shipper: Shipper, app_namespace: str) -> list[Entry]:
    """OpenEMR's lines through this shipper: the container's output for the node DaemonSet (tail of
    /var/log/containers), the log files for a sidecar that tails them."""
    env = {"POD_NAME": POD["pod"]}
    found = []
    tails = [i for i in shipper.inputs if i["name"] == "tail"]
    for source in [i for i in tails if not i["path"].startswith("/var/log/containers/")]:
        file = Path(source["path"]).name
        if not (FIXTURES / file).exists():
            continue
        parser = shipper.multiline.get(source.get("multiline.parser", ""))
        for text in _records(_fixture(file), parser):
            record = {"log": text, source.get("path_key", "log_file"): source["path"]}
            labels = {k: _accessor(v, record, env) for k, v in shipper.labels.items()}
            labels.update({k: record[k] for k in shipper.label_keys if k in record})
            line = {k: v for k, v in record.items() if k not in shipper.label_keys}
            found.append(Entry(labels, json.dumps(line, ensure_ascii=False, separators=(",", ":"))))
    if not any(i["path"].startswith("/var/log/containers/") for i in tails):
        return found
    applies = [f for f in shipper.filters if f["name"] == "multiline" and f"_{app_namespace}_" in f["match"]]
    parser = shipper.multiline.get(applies[0]["multiline.parser"]) if applies else None
    for file, stream in CONTAINER_STREAMS.items():
        for text in _records(_fixture(file), parser):
            record = {"stream": stream, "_p": "F", "log": text, "k8s_pod": POD["pod"], "k8s_namespace": app_namespace,
                      "k8s_container": POD["container"], "k8s_container_id": "0" * 64,
                      "kubernetes": {"pod_name": POD["pod"], "namespace_name": app_namespace,
                                     "container_name": POD["container"], "labels": POD["labels"]}}
            labels = {k: _accessor(v, record, env) for k, v in shipper.labels.items()}
            found.append(Entry({k: v for k, v in labels.items() if v}, json.dumps(record, separators=(",", ":"))))
    return found
