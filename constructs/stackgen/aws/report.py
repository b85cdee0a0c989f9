"""Check results, the progress lines long commands print as they go, the table and the --json form."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    check: str
    target: str
    status: Status
    detail: str
    fix: str = ""  # the API call, CLI command or Terraform attribute that mends a failure


def progress(line: str) -> None:
    """Progress goes to stderr, so that stdout stays a clean table or JSON document."""
    print(f"... {line}", file=sys.stderr, flush=True)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(checks: list[Check]) -> str:
    rows = ["| status | check | target | detail | fix |", "|---|---|---|---|---|"]
    rows += [f"| {c.status.upper()} | {_cell(c.check)} | {_cell(c.target)} | {_cell(c.detail)} | {_cell(c.fix)} |"
             for c in checks]
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    return "\n".join(rows) + f"\n\n{len(checks)} checks: {failed} failed, {warned} warnings\n"


def as_json(checks: list[Check], **extra) -> str:
    failed = sum(c.status == "fail" for c in checks)
    return json.dumps({**extra, "ok": failed == 0, "failed": failed, "checks": [asdict(c) for c in checks]},
                      indent=2, sort_keys=True) + "\n"
