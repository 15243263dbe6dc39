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
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import yaml

from aiusage.errors import PricingError

PRICE_FIELDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
ENTRY_FIELDS = frozenset(
    {*PRICE_FIELDS, "provider", "currency", "aliases", "source", "as_of", "notes"}
)
_PER = Decimal(1_000_000)
_DATE_SUFFIX_RE = re.compile(r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8})$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
TABLE_FILE = "pricing.yaml"


@dataclass(frozen=True)
class Price:
    """One model's prices (per 1M tokens, in ``currency``)."""

    name: str
    provider: str | None
    currency: str
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    aliases: tuple[str, ...] = ()
    source: str | None = None

    def cost(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cache_write_1h_tokens: int = 0,
    ) -> Decimal:
        """The exact cost of a call, in ``currency``. ``cache_write_1h_tokens`` is the part
        of ``cache_write_tokens`` written with a 1-hour TTL."""
        cache_read = self.input if self.cache_read is None else self.cache_read
        cache_write = self.input if self.cache_write is None else self.cache_write
        one_hour = cache_write if self.cache_write_1h is None else self.cache_write_1h
        long_writes = min(cache_write_1h_tokens, cache_write_tokens)
        total = (
            input_tokens * self.input
            + output_tokens * self.output
            + cache_read_tokens * cache_read
            + (cache_write_tokens - long_writes) * cache_write
            + long_writes * one_hour
        )
        return total / _PER


@dataclass(frozen=True)
class Resolution:
    """How a model name resolved: the entry and the rule that matched."""

    model: str
    price: Price | None
    rule: str


@dataclass
class PricingTable:
    """A merged pricing table: model entries, aliases and exchange rates."""

    prices: dict[str, Price]
    fx_rates: dict[str, Decimal]
    sources: tuple[str, ...]
    version: str
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

    def has_rate(self, currency: str) -> bool:
        """Whether amounts in ``currency`` can be converted."""
        return currency in self.fx_rates

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


def _decimal(model: str, name: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PricingError(f"model {model!r}: field {name!r} must be a number, got {value!r}")
    try:
        result = Decimal(str(value))
    except ArithmeticError:
        raise PricingError(
            f"model {model!r}: field {name!r} must be a number, got {value!r}"
        ) from None
    if not result.is_finite() or result < 0:
        raise PricingError(f"model {model!r}: field {name!r} must be a number ≥ 0, got {value!r}")
    return result


def parse_entry(name: str, raw: Any, *, base: Price | None = None) -> Price:
    """Validate one ``models:`` entry; ``base`` supplies the fields an override leaves out."""
    if not isinstance(raw, Mapping):
        raise PricingError(f"model {name!r}: entry must be a mapping of fields")
    unknown = sorted(set(raw) - ENTRY_FIELDS)
    if unknown:
        raise PricingError(f"model {name!r}: unknown field {unknown[0]!r}")
    values: dict[str, Any] = {}
    for key in PRICE_FIELDS:
        if key in raw and raw[key] is not None:
            values[key] = _decimal(name, key, raw[key])
        elif base is not None:
            values[key] = getattr(base, key)
        elif key in ("input", "output"):
            raise PricingError(f"model {name!r}: missing field {key!r}")
        else:
            values[key] = None
    currency = raw.get("currency", base.currency if base else "USD")
    if not isinstance(currency, str) or not _CURRENCY_RE.match(currency):
        raise PricingError(f"model {name!r}: field 'currency' must be an ISO code like USD")
    aliases = raw.get("aliases", base.aliases if base else ())
    if isinstance(aliases, str):
        aliases = (aliases,)
    if not isinstance(aliases, list | tuple) or not all(isinstance(a, str) for a in aliases):
        raise PricingError(f"model {name!r}: field 'aliases' must be a list of names")
    provider = raw.get("provider", base.provider if base else None)
    if provider is not None and not isinstance(provider, str):
        raise PricingError(f"model {name!r}: field 'provider' must be a string")
    source = raw.get("source", base.source if base else None)
    return Price(
        name=name,
        provider=provider,
        currency=currency,
        aliases=tuple(aliases),
        source=str(source) if source is not None else None,
        **values,
    )


def _read_yaml(path: Path | str, text: str) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PricingError(f"pricing file {path}{where}: {problem}") from None
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
    packaged = resources.files("aiusage").joinpath(TABLE_FILE)
    if packaged.is_file():
        return str(packaged), packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / TABLE_FILE
    if checkout.is_file():
        return str(checkout), checkout.read_text(encoding="utf-8")
    raise PricingError("the packaged pricing.yaml is missing: reinstall aiusage")


def build_table(documents: list[tuple[str, Mapping[str, Any]]]) -> PricingTable:
    """Merge pricing documents, later ones overriding earlier ones field by field."""
    prices: dict[str, Price] = {}
    rates: dict[str, Decimal] = {}
    for where, doc in documents:
        unknown = sorted(set(doc) - {"version", "unit", "fx", "models", "notes"})
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
            value = _decimal(f"fx {cur}", "rate", rate)
            if value == 0:
                raise PricingError(f"pricing file {where}: fx rate for {cur} must be > 0")
            rates[cur] = value
    rates.setdefault("USD", Decimal(1))
    digest = hashlib.sha256(
        orjson.dumps(
            {
                "models": {n: _entry_dict(p) for n, p in sorted(prices.items())},
                "fx": {c: str(r) for c, r in sorted(rates.items())},
            }
        )
    ).hexdigest()
    return PricingTable(
        prices=prices,
        fx_rates=rates,
        sources=tuple(w for w, _ in documents),
        version=digest[:12],
    )


def _entry_dict(price: Price) -> dict[str, Any]:
    return {
        "provider": price.provider,
        "currency": price.currency,
        **{k: None if getattr(price, k) is None else str(getattr(price, k)) for k in PRICE_FIELDS},
        "aliases": list(price.aliases),
    }


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
