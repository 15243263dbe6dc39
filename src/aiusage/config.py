"""``config.yaml`` in the data dir: defaults for currency and time zone (README: Where data lives).

Schema (every key optional)::

    currency: USD           # report currency (ISO 4217); costs are converted with pricing fx
    timezone: Europe/Paris  # default --tz (IANA name); else the machine's zone
    budgets:                # for `aiusage check`, in the report currency
      daily: 50
      monthly: 1000
      warn_at: 0.8          # warn from 80% of a limit
    quotas:
      users: {alice: {daily: 5, monthly: 100}}
      keys: {"sk-…9f3a": {daily: 20}}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiusage.errors import UsageError
from aiusage.store.yamlcache import YamlError, load_yaml

CONFIG_FILE = "config.yaml"
KNOWN_KEYS = frozenset({"currency", "timezone", "budgets", "quotas"})
SPANS = ("daily", "monthly")


@dataclass(frozen=True)
class Config:
    """Settings from ``config.yaml``; ``None`` = not set."""

    currency: str | None = None
    timezone: str | None = None
    budgets: Mapping[str, float] = field(default_factory=dict)
    user_quotas: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    key_limits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def load_config(data_dir: Path) -> Config:
    """The data dir's ``config.yaml``, or defaults when there is none."""
    path = data_dir / CONFIG_FILE
    if not path.is_file():
        return Config()
    try:
        raw: Any = load_yaml(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, YamlError) as exc:
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
    budgets = _amounts(path, "budgets", raw.get("budgets"), (*SPANS, "warn_at"))
    quotas = raw.get("quotas") or {}
    if not isinstance(quotas, Mapping) or set(quotas) - {"users", "keys"}:
        raise UsageError(f"{path}: quotas holds 'users' and 'keys'")
    users = {
        str(u): _amounts(path, f"quotas.users.{u}", q, SPANS)
        for u, q in (quotas.get("users") or {}).items()
    }
    keys = {
        str(k): _amounts(path, f"quotas.keys.{k}", q, SPANS)
        for k, q in (quotas.get("keys") or {}).items()
    }
    return Config(
        currency=currency, timezone=timezone, budgets=budgets, user_quotas=users, key_limits=keys
    )


def _amounts(path: Path, where: str, raw: Any, allowed: tuple[str, ...]) -> dict[str, float]:
    """``{name: amount ≥ 0}`` with names from ``allowed``."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise UsageError(f"{path}: {where} must map {', '.join(allowed)} to amounts")
    out = {}
    for name, value in raw.items():
        if name not in allowed:
            raise UsageError(
                f"{path}: {where}: unknown setting {name!r} (use {', '.join(allowed)})"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise UsageError(f"{path}: {where}.{name} must be a number ≥ 0, got {value!r}")
        out[str(name)] = float(value)
    return out
