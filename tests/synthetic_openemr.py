"""(being written) synthetic series of synthetic_openemr exporters; see synthetic.py."""
from __future__ import annotations

EXPORTERS = []
