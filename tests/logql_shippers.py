"""What our log shippers send to Loki, read from the rendered Fluent Bit configs in dist/<overlay> (the
node DaemonSet's and, when rendered, OpenEMR's sidecar): the stream labels each Loki output attaches
(`labels`, `label_keys`), which of them are fixed values, and OpenEMR's sample lines
(tests/fixtures/openemr-logs: Apache combined access log, Apache error log, PHP error log, the
container's own output as the kubelet's CRI log file) as each shipper delivers them: joined by its
multiline parsers the way Fluent Bit 4.2.0's engine joins them, through the node DaemonSet's filters
(parser on the file name, kubernetes), labelled by its output, wrapped in the JSON record its
`line_format: json` writes, the text in `log`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "openemr-logs"
# What OpenEMR's container itself prints, as the kubelet's CRI log file holds it: its entrypoint's
# messages (openemr-devops docker/openemr/7.0.4/openemr.sh) on stdout and, during a database failover, a
# PHP CLI script's chained exception on stderr (PHP's CLI logs to stderr with no date). Apache's access
# and error logs (PHP-FPM's errors included) go to files through rotatelogs (openemr.conf there), so only
# a shipper tailing those files (the sidecar) sees access.log, error.log and php_errors.log (PHP's
# error_log, which the sidecar points there).
CONTAINER_LOG = "container.log"
# Fluent Bit's built-in cri parser (src/multiline/flb_ml_parser_cri.c; time kept).
CRI = re.compile(r"^(?P<time>.+?) (?P<stream>stdout|stderr) (?P<_p>F|P) (?P<log>.*)$")
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
    parsers: dict[str, re.Pattern]  # regex parser name -> its regex

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
    parsers = {p["name"]: re.compile(p["regex"].replace("(?<", "(?P<")) for p in config.get("parsers", [])
               if p.get("format") == "regex"}
    return Shipper(name, labels, keys, config["pipeline"]["inputs"], config["pipeline"].get("filters", []), multiline,
                   parsers)


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


def _joined(lines: list[str], parser: tuple[re.Pattern, re.Pattern] | None) -> list[tuple[str, int | None]]:
    """Fluent Bit 4.2.0's regex multiline over one stream: each record's text, and the line whose record
    (its other keys) it keeps, None for a record that keeps only its text.

    As src/multiline/flb_ml_rule.c flb_ml_rule_process runs it: once a rule matched, a line is first tried
    as a continuation, then as a start (which flushes the record before and opens one with its own line's
    keys). A line neither is flushed alone with its keys (flb_ml_append_object), and the parser stays in its
    last state: continuation lines after it are joined with no first line, a record that
    flb_ml_flush_stream_group (src/multiline/flb_ml.c) packs as {key_content: text} alone."""
    if not parser:
        return [(line, index) for index, line in enumerate(lines)]
    start, cont = parser
    records: list[tuple[str, int | None]] = []
    joined: list[str] = []
    first: int | None = None
    matched = False  # a rule matched before: the parser has a state

    def flush() -> None:
        if joined:
            records.append(("\n".join(joined), first))
        joined.clear()

    for index, line in enumerate(lines):
        if matched and cont.search(line):
            joined.append(line)
        elif start.search(line):
            flush()
            joined.append(line)
            first, matched = index, True
        else:
            flush()
            first = None
            records.append((line, index))
    flush()
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
        # in_tail adds path_key to every record it flushes (plugins/in_tail/tail_file.c ml_flush_callback).
        for text, _ in _joined(_fixture(file), parser):
            record = {"log": text, source.get("path_key", "log_file"): source["path"]}
            labels = {k: _accessor(v, record, env) for k, v in shipper.labels.items()}
            labels.update({k: record[k] for k in shipper.label_keys if k in record})
            line = {k: v for k, v in record.items() if k not in shipper.label_keys}
            found.append(Entry(labels, json.dumps(line, ensure_ascii=False, separators=(",", ":"))))
    if not any(i["path"].startswith("/var/log/containers/") for i in tails):
        return found
    for record in container_records(shipper, app_namespace):
        labels = {k: _accessor(v, record, env) for k, v in shipper.labels.items()}
        found.append(Entry({k: v for k, v in labels.items() if v}, json.dumps(record, separators=(",", ":"))))
    return found


def container_records(shipper: Shipper, app_namespace: str) -> list[dict]:
    """OpenEMR's CRI log file through the node DaemonSet: the tail input's cri parser and path_key, its
    multiline filter for the app namespace, its parser filters on the file name, and the kubernetes filter
    (which finds the pod by the record's tag, kept by every record the multiline filter emits)."""
    [tail] = [i for i in shipper.inputs if i["name"] == "tail" and i["path"].startswith("/var/log/containers/")]
    path = f"/var/log/containers/{POD['pod']}_{app_namespace}_{POD['container']}-{'0' * 64}.log"
    cri = [CRI.match(line).groupdict() for line in _fixture(CONTAINER_LOG)]
    read = [{**fields, tail.get("path_key", "log_file"): path} for fields in cri]
    applies = [f for f in shipper.filters if f["name"] == "multiline" and f"_{app_namespace}_" in f["match"]]
    parser = shipper.multiline.get(applies[0]["multiline.parser"]) if applies else None
    key = applies[0]["multiline.key_content"] if applies else "log"
    joined = [{**read[first], key: text} if first is not None else {key: text}
              for text, first in _joined([fields[key] for fields in read], parser)]
    return [{**_parsed(shipper, record), "kubernetes": {"pod_name": POD["pod"], "namespace_name": app_namespace,
                                                         "container_name": POD["container"], "labels": POD["labels"]}}
            for record in joined]


def _parsed(shipper: Shipper, record: dict) -> dict:
    """The parser filters on the record's keys (reserve_data on): a key a parser's regex matches is replaced by
    its captures (kept with preserve_key on); a record without the key passes unchanged."""
    for step in (f for f in shipper.filters if f["name"] == "parser" and f["parser"] in shipper.parsers):
        value = record.get(step["key_name"])
        found = shipper.parsers[step["parser"]].search(value) if isinstance(value, str) else None
        if found:
            if step.get("preserve_key") != "on":
                record = {k: v for k, v in record.items() if k != step["key_name"]}
            record = {**record, **{k: v for k, v in found.groupdict().items() if v is not None}}
    return record
