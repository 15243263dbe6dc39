"""``config.yaml`` in the data dir: defaults for currency and time zone (SPEC.md §2).

Schema (every key optional)::

    currency: USD           # report currency (ISO 4217); costs are converted with pricing fx
    timezone: Europe/Paris  # default --tz (IANA name); else the machine's zone
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aiusage.errors import UsageError

CONFIG_FILE = "config.yaml"
KNOWN_KEYS = frozenset({"currency", "timezone"})


@dataclass(frozen=True)
class Config:
    """Settings from ``config.yaml``; ``None`` = not set."""

    currency: str | None = None
    timezone: str | None = None


def load_config(data_dir: Path) -> Config:
    """The data dir's ``config.yaml``, or defaults when there is none."""
    path = data_dir / CONFIG_FILE
    if not path.is_file():
        return Config()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read {path}: {exc}".splitlines()[0]) from None
    if raw is None:
        return Config()
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: expected a mapping of settings")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise UsageError(f"{path}: unknown setting {unknown[0]!r}")
    currency = raw.get("currency")
    if currency is not None and (
        not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency)
    ):
        raise UsageError(f"{path}: currency must be an ISO code like USD, got {currency!r}")
    timezone = raw.get("timezone")
    if timezone is not None and not isinstance(timezone, str):
        raise UsageError(f"{path}: timezone must be an IANA name like Europe/Paris")
    return Config(currency=currency, timezone=timezone)
