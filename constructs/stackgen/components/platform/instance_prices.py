"""What an instance of each shape costs: the dated on-demand price table (catalog/ec2-on-demand-us-east-1.yaml)
and EKS Auto Mode's management fee on top of it.

A shape (instance_types.py) is a category and a size, e.g. m.large; the NodePool may launch any family of that
category (m5, m5a, m6i, m7i-flex, ...). Karpenter, which Auto Mode runs, asks EC2 Fleet for on-demand capacity
with the `lowest-price` allocation strategy (aws/karpenter-provider-aws pkg/providers/instance/types.go), so a
shape is priced at the cheapest row of its size and category in the table.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from stackgen.components.platform.instance_types import SIZES, Shape

PRICE_TABLE = Path(__file__).resolve().parents[2] / "catalog" / "ec2-on-demand-us-east-1.yaml"
REGION = "us-east-1"
# Older rows are refused: AWS changes prices, and a cost claim on a year-old table misleads a budget.
MAX_AGE_DAYS = 365
INSTANCE_TYPE = re.compile(r"^(?P<family>(?P<category>[a-z]+)(?P<generation>[0-9]+)[a-z-]*)\.(?P<size>[0-9a-z-]+)$")


@dataclass(frozen=True)
class Price:
    instance_type: str
    usd_per_hour: float
    date: datetime.date
    source: str

    @property
    def shape_name(self) -> str:
        """The shape it is an instance of (c6a.large -> c.large)."""
        match = INSTANCE_TYPE.match(self.instance_type)
        return f"{match['category']}.{match['size']}"


@dataclass(frozen=True)
class PriceTable:
    path: Path
    prices: list[Price]
    fee_fraction: float  # Auto Mode's fee as a fraction of the on-demand price
    fee_source: str

    def cheapest(self, shape: Shape) -> Price:
        rows = [p for p in self.prices if p.shape_name == shape.name]
        if not rows:
            from stackgen.config import ConfigError

            raise ConfigError(f"{self.path.name}: prices: no instance type of shape {shape.name} (e.g. "
                              f"{shape.category}5.{shape.size}), which the pool may launch")
        return min(rows, key=lambda p: (p.usd_per_hour, p.instance_type))

    def fee(self, price: Price) -> float:
        return price.usd_per_hour * self.fee_fraction


def _date(value, where: str, problems: list[str]) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: date={value!r} must be a date YYYY-MM-DD")
        return None


def _row(index: int, row: dict, today: datetime.date, problems: list[str]) -> Price | None:
    name, before = (row.get("type", "?") if isinstance(row, dict) else "?"), len(problems)
    where = f"prices[{index}] ({name})"
    if not isinstance(row, dict) or not INSTANCE_TYPE.match(str(row.get("type", ""))):
        problems.append(f"{where}: type must be an instance type such as m5.large")
        return None
    missing = [key for key in ("usd_per_hour", "region", "date", "source") if row.get(key) in (None, "")]
    if missing:
        problems.append(f"{where}: {', '.join(missing)} missing; every row states its price, region, date and source")
        return None
    if row["region"] != REGION:
        problems.append(f"{where}: region={row['region']!r}; this table prices {REGION}")
    if not str(row["source"]).startswith("https://"):
        problems.append(f"{where}: source={row['source']!r} must be the https URL the price was read from")
    if not isinstance(row["usd_per_hour"], (int, float)) or row["usd_per_hour"] <= 0:
        problems.append(f"{where}: usd_per_hour={row['usd_per_hour']!r} must be a positive number")
    date = _date(row["date"], where, problems)
    if date and (today - date).days > MAX_AGE_DAYS:
        problems.append(f"{where}: date={date} is older than {MAX_AGE_DAYS} days; read the prices again ({row['source']})")
    if len(problems) > before:
        return None
    return Price(row["type"], float(row["usd_per_hour"]), date, row["source"])


def _missing_rows(data: dict, prices: list[Price]) -> list[str]:
    """Each listed family at each of the shapes' sizes EC2 offers: a gap would make another family look cheapest."""
    listed = {p.instance_type for p in prices}
    absent = set(data.get("not_offered") or [])
    return [f"prices: no row for {family}.{size} (family {family} is under `families`; add its price, or list "
            f"{family}.{size} under `not_offered` if EC2 does not offer it)"
            for family in data.get("families") or [] for size in SIZES
            if f"{family}.{size}" not in listed and f"{family}.{size}" not in absent]


def load(path: Path | None = None, today: datetime.date | None = None) -> PriceTable:
    """The table (default: the committed one), or ConfigError naming the file and every bad row or key."""
    from stackgen.config import ConfigError  # config imports this module's users

    path, today = path or PRICE_TABLE, today or datetime.date.today()
    data = yaml.safe_load(path.read_text()) or {}
    problems: list[str] = []
    if data.get("region") != REGION:
        problems.append(f"region={data.get('region')!r}; this table prices {REGION}")
    rows = data.get("prices") or []
    if not rows:
        problems.append("prices: empty; the stack's instance types need their on-demand price")
    prices = [price for index, row in enumerate(rows) if (price := _row(index, row, today, problems))]
    fee = data.get("auto_mode_fee") or {}
    fraction = fee.get("fraction_of_on_demand")
    if not isinstance(fraction, (int, float)) or not 0 < fraction < 1 or not str(fee.get("source", "")).startswith("https://"):
        problems.append("auto_mode_fee: fraction_of_on_demand (between 0 and 1) and source (https URL) are required")
    else:
        _date(fee.get("date"), "auto_mode_fee", problems)
    problems += _missing_rows(data, prices)
    if problems:
        raise ConfigError("\n".join(f"{path.name}: {problem}" for problem in problems))
    return PriceTable(path, prices, float(fraction), fee["source"])
