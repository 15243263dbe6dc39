"""Prices: loading the pricing table, resolving a model name to an entry, and pricing a call.

Tables are YAML (see README "Pricing"): the packaged ``pricing.yaml``, overlaid by
``pricing.yaml`` in the data dir, overlaid by ``--pricing FILE``. Prices are per 1M tokens
in the entry's currency. An absent cache price bills those tokens at the input price (as the
providers that publish none do); an unknown model has no price at all — never 0.

Model lookup, first hit wins: the name as given; an alias; then, lower-cased, the name with
any ``provider/`` prefix removed and with a date suffix (``-2024-08-06``, ``-20240806``,
``@20240806``) removed. There is no substring or fuzzy matching: ``gpt-4o-mini`` never
prices as ``gpt-4o``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from aiusage.bounds import MIN_FX_RATE, shown
from aiusage.errors import PricingError
from aiusage.pricing.price import Price, _decimal, entry_dict, parse_entry
from aiusage.store.yamlcache import YamlError, load_yaml

TOP_LEVEL = frozenset({"version", "unit", "fx", "models", "accounts", "notes"})
_DATE_SUFFIX_RE = re.compile(r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8})$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
TABLE_FILE = "pricing.yaml"


@dataclass(frozen=True)
class Resolution:
    """How a model name resolved: the entry and the rule that matched."""

    model: str
    price: Price | None
    rule: str


# Compared by identity (hashed by version): the lookup cache is keyed by table, and two
# tables of equal contents compared field by field made every lookup of a second workspace
# in one process compare whole tables.
@dataclass(eq=False)
class PricingTable:
    """A merged pricing table: model entries, aliases and exchange rates."""

    prices: dict[str, Price]
    fx_rates: dict[str, Decimal]
    sources: tuple[str, ...]
    version: str
    # Seed 002's rate multiplier and free tier: what a user or key actually pays (× factor).
    user_factors: dict[str, Fraction] = field(default_factory=dict)
    key_factors: dict[str, Fraction] = field(default_factory=dict)
    _index: dict[str, str] = field(default_factory=dict, repr=False)
    _lower_index: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name, price in self.prices.items():
            self._index[name] = name
            for alias in price.aliases:
                self._index.setdefault(alias, name)
        for key, name in self._index.items():
            self._lower_index.setdefault(key.lower(), name)

    def resolve(self, model: str) -> Resolution:
        """Which entry prices ``model``, and why (see the module docstring)."""
        for rule, candidate in _candidates(model):
            index = self._index if rule in ("exact", "alias") else self._lower_index
            name = index.get(candidate)
            if name is not None:
                how = "alias" if name != candidate and rule in ("exact", "case") else rule
                return Resolution(model, self.prices[name], how)
        return Resolution(model, None, "unknown")

    def lookup(self, model: str) -> Price | None:
        """The entry that prices ``model``, or ``None`` when it is unknown."""
        return _cached_lookup(self, model)

    def price_ref(self, price: Price) -> str:
        """Provenance of a cost: the entry name and this table's version."""
        return f"{price.name}@{self.version}"

    def rate(self, source: str, target: str) -> Fraction:
        """The exact factor turning amounts in ``source`` into ``target``."""
        if source == target:
            return Fraction(1)
        try:
            return Fraction(self.fx_rates[target]) / Fraction(self.fx_rates[source])
        except KeyError as exc:
            raise PricingError(
                f"no exchange rate for {exc.args[0]} in the pricing table's fx section: add "
                f"one, or report in {source} with --currency {source}"
            ) from None

    def account_factor(self, user: Any, key: Any) -> Fraction | None:
        """What share of the list price a call of ``user`` with ``key`` actually costs
        (a user's setting wins over a key's), or ``None`` when neither has one."""
        if user is not None:
            factor = self.user_factors.get(user)
            if factor is not None:
                return factor
        return self.key_factors.get(key) if key is not None else None

    @property
    def has_accounts(self) -> bool:
        """Whether any user or key pays other than the list price."""
        return bool(self.user_factors or self.key_factors)

    def __hash__(self) -> int:
        return hash(self.version)


def _candidates(model: str) -> Iterator[tuple[str, str]]:
    yield "exact", model
    lower = model.strip().lower()
    yield "case", lower
    stripped = lower.rsplit("/", 1)[-1]
    if stripped != lower:
        yield "provider prefix", stripped
    undated = _DATE_SUFFIX_RE.sub("", stripped)
    if undated != stripped:
        yield "date suffix", undated


@lru_cache(maxsize=4096)
def _cached_lookup(table: PricingTable, model: str) -> Price | None:
    return table.resolve(model).price


def _read_yaml(path: Path | str, text: str) -> Mapping[str, Any]:
    try:
        data = load_yaml(text, source=str(path))
    except YamlError as exc:
        where = f" line {exc.line}" if exc.line is not None else ""
        raise PricingError(f"pricing file {path}{where}: {exc.problem}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise PricingError(f"pricing file {path}: expected a mapping with 'models:'")
    return data


def packaged_table_text() -> tuple[str, str]:
    """The packaged ``pricing.yaml``: (where it was found, its text).

    Installed packages carry it inside ``aiusage/``; a source checkout keeps it at the top
    level of the repository.
    """
    packaged = Path(__file__).parents[1] / TABLE_FILE
    if packaged.is_file():
        return str(packaged), packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[3] / TABLE_FILE
    if checkout.is_file():
        return str(checkout), checkout.read_text(encoding="utf-8")
    raise PricingError("the packaged pricing.yaml is missing: reinstall aiusage")


def _accounts(where: str, raw: Any, users: dict[str, Fraction], keys: dict[str, Fraction]) -> None:
    """``accounts: {users: {ID: {multiplier: X} | {free: true}}, keys: {...}}``."""
    if raw is None:
        return
    if not isinstance(raw, Mapping) or set(raw) - {"users", "keys"}:
        raise PricingError(f"pricing file {where}: 'accounts' holds 'users' and 'keys' only")
    for kind, target in (("users", users), ("keys", keys)):
        entries = raw.get(kind) or {}
        if not isinstance(entries, Mapping):
            raise PricingError(f"pricing file {where}: accounts.{kind} must be a mapping")
        for ident, setting in entries.items():
            label = f"accounts.{kind}.{ident}"
            if not isinstance(setting, Mapping) or set(setting) - {"multiplier", "free"}:
                raise PricingError(
                    f"pricing file {where}: {label}: use multiplier: X or free: true"
                )
            if setting.get("free") is True:
                target[str(ident)] = Fraction(0)
            elif setting.get("multiplier") is not None:
                target[str(ident)] = Fraction(_decimal(label, "multiplier", setting["multiplier"]))
            else:
                raise PricingError(
                    f"pricing file {where}: {label}: use multiplier: X or free: true"
                )


def build_table(documents: list[tuple[str, Mapping[str, Any]]]) -> PricingTable:
    """Merge pricing documents, later ones overriding earlier ones field by field."""
    prices: dict[str, Price] = {}
    rates: dict[str, Decimal] = {}
    users: dict[str, Fraction] = {}
    keys: dict[str, Fraction] = {}
    for where, doc in documents:
        _accounts(where, doc.get("accounts"), users, keys)
        unknown = sorted(set(doc) - TOP_LEVEL)
        if unknown:
            raise PricingError(f"pricing file {where}: unknown top-level key {unknown[0]!r}")
        models = doc.get("models") or {}
        if not isinstance(models, Mapping):
            raise PricingError(f"pricing file {where}: 'models' must be a mapping")
        for name, raw in models.items():
            try:
                prices[str(name)] = parse_entry(str(name), raw, base=prices.get(str(name)))
            except PricingError as exc:
                raise PricingError(f"pricing file {where}: {exc}") from None
        fx = doc.get("fx") or {}
        if not isinstance(fx, Mapping):
            raise PricingError(f"pricing file {where}: 'fx' must map currency → rate per USD")
        for cur, rate in fx.items():
            if not isinstance(cur, str) or not _CURRENCY_RE.match(cur):
                raise PricingError(f"pricing file {where}: fx: {cur!r} is not a currency code")
            try:
                value = _decimal(f"fx {cur}", "rate", rate)
            except PricingError as exc:
                raise PricingError(f"pricing file {where}: {exc}") from None
            if value < MIN_FX_RATE:
                raise PricingError(
                    f"pricing file {where}: fx rate for {cur} must be at least {shown(MIN_FX_RATE)}"
                )
            rates[cur] = value
    rates.setdefault("USD", Decimal(1))
    digest = hashlib.sha256(
        orjson.dumps(
            {
                "models": {n: entry_dict(p) for n, p in sorted(prices.items())},
                "fx": {c: str(r) for c, r in sorted(rates.items())},
                "users": {u: str(f) for u, f in sorted(users.items())},
                "keys": {k: str(f) for k, f in sorted(keys.items())},
            }
        )
    ).hexdigest()
    return PricingTable(
        prices=prices,
        fx_rates=rates,
        sources=tuple(w for w, _ in documents),
        version=digest[:12],
        user_factors=users,
        key_factors=keys,
    )


def load_table(*, data_dir: Path | None = None, extra: Path | None = None) -> PricingTable:
    """The packaged table, overlaid by ``<data_dir>/pricing.yaml`` and then ``extra``."""
    where, text = packaged_table_text()
    documents = [(where, _read_yaml(where, text))]
    overlays = []
    if data_dir is not None and (data_dir / TABLE_FILE).is_file():
        overlays.append(data_dir / TABLE_FILE)
    if extra is not None:
        if not extra.is_file():
            raise PricingError(f"pricing file {extra} does not exist")
        overlays.append(extra)
    for path in overlays:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PricingError(f"cannot read pricing file {path}: {exc}") from None
        documents.append((str(path), _read_yaml(path, text)))
    return build_table(documents)


def to_float(amount: Decimal) -> float:
    """A cost as the float written to records, rounded to 12 decimal places."""
    value = float(round(amount, 12))
    return 0.0 if math.copysign(1, value) < 0 else value
