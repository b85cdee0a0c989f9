"""A checker for the LogQL the dashboards use, against what our shippers really send to Loki.

The shippers, and OpenEMR's sample lines as they reach Loki, come from logql_shippers. Queries are parsed
for the subset we use: stream selector; line filters |= != |~ !~; | json (all fields, or
`label="field"`); | line_format "{{.label}}"; | pattern; | regexp; label filters (= != =~ !~ on strings,
> >= < <= == != on numbers, joined by and / or / ","); | drop <labels>; | unwrap; the range and vector
aggregations around them (count_over_time, rate, sum by, topk, ...). Other stages (logfmt,
label_format, keep, drop with matchers) parse but pass lines through unchanged.

`check` reports, for one query: stream labels no shipper attaches, fixed labels given a value no shipper
sets, and, for queries on OpenEMR's namespace, each stage that no sample line gets through (a line filter
matching nothing, a pattern or regexp that never matches, a label filter on a label nothing extracted) and
lines an aggregation would count into a series with no name (grouped by a label they lack); `kept` returns
the lines a query keeps, so that tests can hold each query to the events its title names,
run over OpenEMR's real log formats (tests/fixtures/openemr-logs) wrapped as each shipper delivers them.
Semantics follow Loki: pattern captures are anchored at the line start, a missing literal ends the match
(pkg/logql/log/pattern); `=~` in label filters is anchored, `|~` is not; a numeric filter on a value that
is not a number keeps the line with __error__ set, and a metric query over such lines fails.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

from logql_shippers import Shipper, entries, label_names

STRING = r'"(?:[^"\\]|\\.)*"|`[^`]*`'
NUMBER = r"-?\d+(?:\.\d+)?(?:[KMGT]i?B|B|ms|s|m|h)?"


# --- Queries ---------------------------------------------------------------------------------------

@dataclass
class Stage:
    kind: str  # line | json | line_format | pattern | regexp | filter | drop | unwrap | other
    op: str = ""
    value: str = ""
    params: dict[str, str] = field(default_factory=dict)
    # or-of-ands of (label, op, value, value was a string)
    predicates: list[list[tuple[str, str, str, bool]]] = field(default_factory=list)

    def __str__(self) -> str:
        if self.kind == "filter":
            return " or ".join(" and ".join(f"{n}{o}{v!r}" for n, o, v, _ in c) for c in self.predicates)
        return f"{self.kind} {self.op} {self.value!r}".replace("  ", " ")


@dataclass
class LogQuery:
    selector: list[tuple[str, str, str]]
    stages: list[Stage]


def unquote(token: str) -> str:
    return token[1:-1] if token.startswith("`") else ast.literal_eval(token)


class Parser:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def take(self, pattern: str) -> str | None:
        self.skip()
        match = re.compile(pattern).match(self.text, self.pos)
        if not match:
            return None
        self.pos = match.end()
        return match.group(0)

    def need(self, pattern: str, what: str) -> str:
        token = self.take(pattern)
        if token is None:
            raise ValueError(f"expected {what} at {self.text[self.pos:self.pos + 40]!r} in {self.text!r}")
        return token

    def selector(self) -> list[tuple[str, str, str]]:
        matchers = []
        while not self.take(r"\}"):
            name = self.need(r"[A-Za-z_]\w*", "a label name")
            op = self.need(r"=~|!~|!=|=", "a matcher")
            matchers.append((name, op, unquote(self.need(STRING, "a string"))))
            self.take(",")
        return matchers

    def predicates(self) -> list[list[tuple[str, str, str, bool]]]:
        alternatives, current = [], []
        while True:
            name = self.need(r"[A-Za-z_]\w*", "a label name")
            op = self.need(r"=~|!~|!=|==|>=|<=|=|>|<", "a comparison")
            value = self.take(STRING)
            if value is not None:
                current.append((name, op, unquote(value), True))
            else:
                current.append((name, op, self.need(NUMBER, "a value"), False))
            if self.take(r"or\b"):
                alternatives.append(current)
                current = []
            elif not (self.take(r"and\b") or self.take(",")):
                return [*alternatives, current]

    def stage(self) -> Stage:
        line_op = self.take(r"\|=|!=|\|~|!~")
        if line_op:
            return Stage("line", line_op, unquote(self.need(STRING, "a string")))
        self.need(r"\|", "'|'")
        for kind in ("line_format", "pattern", "regexp"):
            if self.take(rf"{kind}\b"):
                return Stage(kind, value=unquote(self.need(STRING, "a string")))
        if self.take(r"json\b"):
            params = {}
            while (name := self.take(r"[A-Za-z_]\w*(?=\s*=\s*[\"`])")) is not None:
                self.need("=", "'='")
                params[name] = unquote(self.need(STRING, "a string"))
                self.take(",")
            return Stage("json", params=params)
        if self.take(r"unwrap\b"):
            return Stage("unwrap", value=self.need(r"[A-Za-z_]\w*", "a label"))
        if self.take(r"drop\b(?!\s*[A-Za-z_]\w*\s*[=!~])"):
            names = [self.need(r"[A-Za-z_]\w*", "a label")]
            while self.take(","):
                names.append(self.need(r"[A-Za-z_]\w*", "a label"))
            return Stage("drop", value=",".join(names))
        other = self.take(r"(logfmt|label_format|drop|keep|decolorize|unpack)\b")
        if other:
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos] not in "|[)":
                self.pos = self.pos + (len(m.group(0)) if (m := re.compile(STRING).match(self.text, self.pos)) else 1)
            return Stage("other", other, self.text[start:self.pos].strip())
        return Stage("filter", predicates=self.predicates())

    def log_query(self) -> LogQuery:
        selector, stages = self.selector(), []
        while True:
            self.skip()
            if not self.text.startswith(("|", "!="), self.pos) and not self.text.startswith("!~", self.pos):
                return LogQuery(selector, stages)
            stages.append(self.stage())


def parse(expr: str) -> tuple[list[LogQuery], list[str]]:
    """The log queries inside a LogQL expression, and the labels its aggregations group by."""
    queries, position = [], 0
    outside = re.sub(STRING, lambda m: " " * len(m.group(0)), expr)
    while (start := outside.find("{", position)) != -1:
        parser = Parser(expr)
        parser.pos = start + 1
        queries.append(parser.log_query())
        position = parser.pos
    grouping = [label.strip() for labels in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", outside)
                for label in labels.split(",") if label.strip()]
    return queries, grouping


# --- Running a pipeline over the entries ------------------------------------------------------------

def _pattern(expr: str) -> list[tuple[str, str]]:
    """("capture", name) and ("literal", text) parts of a pattern expression."""
    return [("capture", m.group(1)) if m.group(1) else ("literal", m.group(0))
            for m in re.finditer(r"<(_|[A-Za-z_]\w*)>|(?:(?!<(?:_|[A-Za-z_]\w*)>).)+", expr, re.S)]


def match_pattern(expr: str, line: str) -> dict[str, str] | None:
    """Loki's pattern matcher: None when it does not match from the start; else the captures it set."""
    parts, captures = _pattern(expr), {}
    if parts and parts[0][0] == "literal":
        if not line.startswith(parts[0][1]):
            return None
        line, parts = line[len(parts[0][1]):], parts[1:]
    while parts:
        name = parts[0][1]
        if len(parts) == 1:
            captures[name] = line
            break
        index = line.find(parts[1][1])
        if index == -1:
            captures[name] = line
            break
        captures[name], line, parts = line[:index], line[index + len(parts[1][1]):], parts[2:]
    return {k: v for k, v in captures.items() if k != "_"}


def _number(text: str) -> float:
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)([KMGT]i?B|B)?", text)
    if not match:
        raise ValueError(text)
    scale = {"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
    return float(match.group(1)) * scale[match.group(2) or ""]


def _holds(labels: dict[str, str], name: str, op: str, value: str, string: bool = True) -> bool:
    actual = labels.get(name, "")
    if op in ("=", "!=") and string:
        return (actual == value) == (op == "=")
    if op in ("=~", "!~"):
        return (re.fullmatch(value, actual, re.S) is not None) == (op == "=~")
    try:
        left, right = _number(actual), _number(value)
    except ValueError:
        labels["__error__"] = "LabelFilterErr"
        return True
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right,
            "==": left == right, "=": left == right, "!=": left != right}[op]


def _flatten(value, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}_{key}" if prefix else str(key)))
        return out
    return {re.sub(r"\W", "_", prefix): value if isinstance(value, str) else json.dumps(value)}


def _apply(stage: Stage, line: str, labels: dict[str, str]) -> tuple[bool, str, dict[str, str], bool]:
    """(line kept, new line, new labels, the stage did its work on this line)."""
    labels = dict(labels)
    if stage.kind == "line":
        hit = stage.value in line if "=" in stage.op else re.search(stage.value, line) is not None
        kept = hit == stage.op.startswith("|")
        return kept, line, labels, kept
    if stage.kind == "json":
        try:
            fields = _flatten(json.loads(line))
        except ValueError:
            labels["__error__"] = "JSONParserErr"
            return True, line, labels, False
        wanted = {name: fields.get(path.replace(".", "_")) for name, path in stage.params.items()} or fields
        for name, value in wanted.items():
            if value is not None:
                labels[f"{name}_extracted" if name in labels else name] = value
        return True, line, labels, all(v is not None for v in wanted.values())
    if stage.kind == "line_format":
        if re.sub(r"\{\{\s*\.\w+\s*\}\}", "", stage.value).count("{{"):
            raise ValueError(f"line_format beyond {{{{.label}}}}: {stage.value!r}")
        names = re.findall(r"\{\{\s*\.(\w+)\s*\}\}", stage.value)
        text = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), stage.value)
        return True, text, labels, all(n in labels for n in names)
    if stage.kind in ("pattern", "regexp"):
        if stage.kind == "pattern":
            captures = match_pattern(stage.value, line)
            names = [n for kind, n in _pattern(stage.value) if kind == "capture" and n != "_"]
            full = captures is not None and all(n in captures for n in names)
        else:
            found = re.search(stage.value, line)
            captures = {k: v for k, v in found.groupdict().items() if v is not None} if found else None
            full = found is not None
        labels.update(captures or {})
        return True, line, labels, full
    if stage.kind == "filter":
        kept = any(all(_holds(labels, *p) for p in conjunction) for conjunction in stage.predicates)
        return kept, line, labels, kept
    if stage.kind == "drop":
        names = stage.value.split(",")
        present = any(name in labels for name in names)
        return True, line, {k: v for k, v in labels.items() if k not in names}, present
    if stage.kind == "unwrap":
        ok = re.fullmatch(NUMBER, labels.get(stage.value, "")) is not None
        return ok, line, labels, ok
    return True, line, labels, True


def _selected(selector, labels: dict[str, str]) -> bool:
    return all(_holds(dict(labels), name, op, value) for name, op, value in selector)


def _selector_problems(selector, found: list[Shipper]) -> list[str]:
    """Labels no shipper attaches, fixed labels given a value no shipper sets, a selector Loki refuses."""
    known, problems = label_names(found), []
    fixed: dict[str, set[str]] = {}
    for shipper in found:
        for name, value in shipper.fixed().items():
            fixed.setdefault(name, set()).add(value)
    dynamic = {name for s in found for name, value in s.labels.items() if value.startswith("$")}
    dynamic |= {k for s in found for k in s.label_keys}
    for name, op, value in selector:
        if name not in known:
            problems.append(f"stream label {name!r}: no shipper attaches it (they attach {sorted(known)})")
        elif op == "=" and name not in dynamic and value not in fixed[name]:
            problems.append(f"{name}={value!r}: the shippers set {name} only to {sorted(fixed[name])}")
    if all(re.fullmatch(value if "~" in op else re.escape(value), "") for _, op, value in selector
           if not op.startswith("!")):
        problems.append("the selector needs a matcher that does not match the empty value (Loki refuses it)")
    return problems


def _run(query: LogQuery, lines: list[tuple[str, dict[str, str]]], metric: bool,
         problems: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Runs the pipeline; notes each stage no line gets through; returns the lines left, with their labels."""
    for stage in query.stages:
        after, worked = [], False
        for line, labels in lines:
            kept, line, labels, did = _apply(stage, line, labels)
            worked |= did
            if kept:
                after.append((line, labels))
        for conjunction in stage.predicates:
            for name, *_ in conjunction:
                if name != "__error__" and not any(name in labels for _, labels in lines):
                    problems.append(f"label filter on {name!r}: no earlier stage extracts it")
        if not worked:
            problems.append(f"stage {stage} gets no sample line through")
            return []
        lines = after
    if metric and any("__error__" in labels for _, labels in lines):
        problems.append('a metric query over lines with __error__ fails in Loki: add | __error__=""')
    return [(line, labels) for line, labels in lines if "__error__" not in labels]


def check(expr: str, found: list[Shipper], app_namespace: str) -> list[str]:
    """What is wrong with one LogQL expression (variables already substituted); [] when nothing."""
    return _evaluate(expr, found, app_namespace)[0]


def kept(expr: str, found: list[Shipper], app_namespace: str) -> list[tuple[str, dict[str, str]]]:
    """The sample lines (as the query's line, after line_format) and labels that get through the log queries in
    `expr`: what a logs panel shows, or what a metric query counts."""
    problems, survivors = _evaluate(expr, found, app_namespace)
    if any(p.startswith("does not parse") for p in problems):
        raise ValueError(problems)
    return survivors


def _evaluate(expr: str, found: list[Shipper], app_namespace: str) -> tuple[list[str], list[tuple[str, dict]]]:
    try:
        queries, grouping = parse(expr)
    except (ValueError, SyntaxError) as error:
        return [f"does not parse: {error}"], []
    if not queries:
        return ["no stream selector"], []
    problems: list[str] = []
    survivors: list[tuple[str, dict[str, str]]] = []
    on_openemr = False
    for query in queries:
        problems += _selector_problems(query.selector, found)
        if not any(n == "namespace" and _holds({"namespace": app_namespace}, n, o, v) for n, o, v in query.selector):
            continue  # not OpenEMR's logs: the labels are all we can hold it to
        on_openemr = True
        lines = [(e.line, dict(e.labels)) for s in found for e in entries(s, app_namespace)
                 if _selected(query.selector, e.labels)]
        if not lines:
            problems.append(f"selector {query.selector} matches none of OpenEMR's sample lines")
            continue
        survivors += _run(query, lines, not expr.lstrip().startswith("{"), problems)
    if on_openemr and not problems and not survivors:
        problems.append("no sample line gets through the whole query")
    for label in grouping:
        unnamed = sum(1 for _, labels in survivors if not labels.get(label))
        if survivors and unnamed == len(survivors):
            problems.append(f"groups by {label!r}, which no resulting line carries")
        elif unnamed:  # Loki drops an empty label: these lines are one series with no name
            problems.append(f"groups {unnamed} line(s) without {label!r} into a series with no name")
    return problems, survivors
