"""One model's prices and the arithmetic of a call's cost.

A :class:`Price` holds per-1M-token rates in its currency: ``input``, ``output``,
``cache_read``, ``cache_write`` (5-minute / default TTL), ``cache_write_1h`` and, when a
provider prices them apart, ``reasoning``; optional long-context ``tiers`` (other rates for
the *whole* call once the prompt exceeds a threshold, as the providers bill), a fixed
``per_request`` fee (seed 002; successful calls only) and a ``batch`` multiplier for calls
whose record says ``service_tier: batch``.

Defaults, as providers that publish no price bill it: no cache-read or cache-write rate →
the input rate; no 1-hour rate → the cache-write rate; no reasoning rate → the output rate;
a tier without a cache or reasoning rate → the base entry's.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from aiusage.bounds import MAX_PRICE, shown
from aiusage.errors import PricingError

if TYPE_CHECKING:
    from aiusage.pricing.cost import TokenCounts

PER = Decimal(1_000_000)
PICOS = 10**12  # costs are counted in integer picos of their currency
_ZERO = Decimal(0)
RATE_FIELDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h", "reasoning")
ENTRY_FIELDS = frozenset(
    {
        *RATE_FIELDS,
        "provider",
        "currency",
        "aliases",
        "source",
        "as_of",
        "notes",
        "tiers",
        "per_request",
        "batch",
    }
)
TIER_FIELDS = frozenset({*RATE_FIELDS, "above"})


@dataclass(frozen=True)
class Rates:
    """Per-1M-token rates; ``None`` = not published (see the module's defaults)."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    reasoning: Decimal | None = None
    # What _term_rates worked out, by batch multiplier (None: none): derived from the rates.
    _terms: dict[Decimal | None, tuple[tuple[Decimal, ...], tuple[int | None, ...]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )


@dataclass(frozen=True)
class Tier:
    """Rates for calls whose prompt (input + cache read + cache write) exceeds ``above``."""

    above: int
    rates: Rates


Terms = tuple[tuple[str, int, Decimal], ...]
# The terms of a call's cost, in order: each its tokens at a rate.
TERMS = ("input", "cache read", "cache write (5m)", "cache write (1h)", "output", "reasoning")


class Line(NamedTuple):
    """One line of a cost's arithmetic: what, how many tokens, at which rate, the amount."""

    label: str
    tokens: int
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Price:
    """One model's entry in the pricing table."""

    name: str
    provider: str | None
    currency: str
    base: Rates
    tiers: tuple[Tier, ...] = ()
    per_request: Decimal | None = None
    batch: Decimal | None = None
    aliases: tuple[str, ...] = ()
    source: str | None = None

    # The base rates, for readers that do not care about tiers.
    @property
    def input(self) -> Decimal:
        """Base input rate."""
        return self.base.input

    @property
    def output(self) -> Decimal:
        """Base output rate."""
        return self.base.output

    @property
    def cache_read(self) -> Decimal | None:
        """Base cache-read rate (``None`` = billed as input)."""
        return self.base.cache_read

    @property
    def cache_write(self) -> Decimal | None:
        """Base cache-write rate (``None`` = billed as input)."""
        return self.base.cache_write

    def rates_for(self, prompt_tokens: int) -> tuple[Rates, Tier | None]:
        """The rates of a call with this many prompt tokens, and the tier that set them."""
        chosen: Tier | None = None
        for tier in self.tiers:
            if prompt_tokens > tier.above and (chosen is None or tier.above > chosen.above):
                chosen = tier
        return (self.base if chosen is None else chosen.rates), chosen

    def terms(self, counts: TokenCounts, *, batch: bool = False) -> tuple[Tier | None, Terms]:
        """The tier that applies and the (label, tokens, per-1M rate) terms of a call."""
        rates, tier = self.rates_for(counts.prompt)
        per_million, _ = _term_rates(rates, self.batch if batch else None)
        return tier, tuple(zip(TERMS, _term_tokens(counts, rates), per_million, strict=True))

    def breakdown(
        self, counts: TokenCounts, *, success: bool = True, batch: bool = False
    ) -> list[Line]:
        """The arithmetic of a call's cost, line by line (amounts in ``currency``)."""
        tier, terms = self.terms(counts, batch=batch)
        where = f" (prompt > {tier.above:,})" if tier is not None else ""
        lines = [
            Line(label + where, tokens, rate, tokens * rate / PER)
            for label, tokens, rate in terms
            if tokens
        ]
        if self.per_request is not None and success:
            lines.append(Line("per request", 1, self.per_request, self.per_request))
        return lines

    def cost(self, counts: TokenCounts, *, success: bool = True, batch: bool = False) -> Decimal:
        """The exact cost of a call: the sum of :meth:`breakdown`'s amounts, without building
        its lines."""
        return self.amount(self.terms(counts, batch=batch)[1], success=success)

    def picos(self, counts: TokenCounts, *, success: bool = True, batch: bool = False) -> int:
        """:meth:`cost` in whole picos (10⁻¹² of the currency), rounded half to even: in
        integer arithmetic where every rate is a whole number of picos per token (Decimal
        arithmetic is most of the cost of pricing a record), else from the Decimal cost."""
        rates, _ = self.rates_for(counts.prompt)
        per_million, per_token = _term_rates(rates, self.batch if batch else None)
        tokens = _term_tokens(counts, rates)
        try:
            total: int = sum(map(operator.mul, tokens, per_token))
        except TypeError:  # a rate finer than a pico per token (None)
            pass
        else:
            if self.per_request is None or not success:
                return total
            fee = _picos(self.per_request, 12)
            if fee is not None:
                return total + fee
        terms = tuple(zip(TERMS, tokens, per_million, strict=True))
        return int((self.amount(terms, success=success) * PICOS).to_integral_value())

    def amount(self, terms: Terms, *, success: bool = True) -> Decimal:
        """The exact cost of a call's :meth:`terms` (plus the per-request fee on success)."""
        total = _ZERO
        for _, tokens, rate in terms:
            if tokens:
                total += tokens * rate / PER
        if self.per_request is not None and success:
            total += self.per_request
        return total


def _term_rates(
    rates: Rates, factor: Decimal | None
) -> tuple[tuple[Decimal, ...], tuple[int | None, ...]]:
    """The per-1M rates of the :data:`TERMS` at ``rates`` (times the batch multiplier
    ``factor``, if any), and each in whole picos per token (``None``: finer than a pico).
    Worked out once per rates and multiplier."""
    known = rates._terms.get(factor)
    if known is None:
        read = rates.cache_read if rates.cache_read is not None else rates.input
        write = rates.cache_write if rates.cache_write is not None else rates.input
        write_1h = rates.cache_write_1h if rates.cache_write_1h is not None else write
        per_million: tuple[Decimal, ...] = (rates.input, read, write, write_1h, rates.output)
        per_million += (rates.reasoning or _ZERO,)
        if factor is not None:
            per_million = tuple(rate * factor for rate in per_million)
        known = rates._terms[factor] = per_million, tuple(_picos(r, 6) for r in per_million)
    return known


def _term_tokens(counts: TokenCounts, rates: Rates) -> tuple[int, ...]:
    """The tokens of each of the :data:`TERMS` (reasoning apart from output only when the
    rates price it apart)."""
    long_writes = min(counts.cache_write_1h, counts.cache_write)
    reasoning = min(counts.reasoning, counts.output) if rates.reasoning is not None else 0
    return (
        counts.input,
        counts.cache_read,
        counts.cache_write - long_writes,
        long_writes,
        counts.output - reasoning,
        reasoning,
    )


_PICOS: dict[tuple[Decimal, int], int | None] = {}


def _picos(amount: Decimal, shift: int) -> int | None:
    """``amount × 10^shift`` as an int, or ``None`` when it is not a whole number (a per-1M
    rate gives picos per token with ``shift`` 6, an amount picos with 12)."""
    key = (amount, shift)
    try:
        return _PICOS[key]
    except KeyError:
        scaled = amount.scaleb(shift)
        whole = int(scaled) if scaled == scaled.to_integral_value() else None
        if len(_PICOS) < 65536:
            _PICOS[key] = whole
        return whole


def _decimal(model: str, name: str, value: Any) -> Decimal:
    """A price from YAML, or a :class:`PricingError` naming the model and the field."""
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
    if result > MAX_PRICE:
        raise PricingError(
            f"model {model!r}: field {name!r} must be at most {shown(MAX_PRICE)}, got {value!r}"
        )
    return result


def _optional(
    model: str, raw: Mapping[str, Any], name: str, default: Decimal | None
) -> Decimal | None:
    value = raw.get(name)
    return default if value is None else _decimal(model, name, value)


def _rates(model: str, raw: Mapping[str, Any], base: Rates | None, *, where: str = "") -> Rates:
    missing = [k for k in ("input", "output") if raw.get(k) is None and base is None]
    if missing:
        raise PricingError(f"model {model!r}: {where}missing field {missing[0]!r}")
    values = {
        name: _optional(model, raw, name, getattr(base, name) if base is not None else None)
        for name in RATE_FIELDS
    }
    required_input, required_output = values.pop("input"), values.pop("output")
    if required_input is None or required_output is None:  # pragma: no cover - checked above
        raise PricingError(f"model {model!r}: {where}missing field 'input' or 'output'")
    return Rates(input=required_input, output=required_output, **values)


def _tiers(model: str, raw: Any, base: Rates) -> tuple[Tier, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PricingError(f"model {model!r}: field 'tiers' must be a list of {{above: N, ...}}")
    tiers = []
    for i, item in enumerate(raw):
        where = f"tiers[{i}]: "
        if not isinstance(item, Mapping):
            raise PricingError(f"model {model!r}: {where}must be a mapping")
        unknown = sorted(set(item) - TIER_FIELDS)
        if unknown:
            raise PricingError(f"model {model!r}: {where}unknown field {unknown[0]!r}")
        above = item.get("above")
        if isinstance(above, bool) or not isinstance(above, int) or above < 0:
            raise PricingError(f"model {model!r}: {where}'above' must be a token count ≥ 0")
        for key in ("input", "output"):
            if item.get(key) is None:
                raise PricingError(f"model {model!r}: {where}missing field {key!r}")
        inherited = replace(base, input=Decimal(0), output=Decimal(0))
        tiers.append(Tier(above, _rates(model, item, inherited, where=where)))
    return tuple(sorted(tiers, key=lambda t: t.above))


def parse_entry(name: str, raw: Any, *, base: Price | None = None) -> Price:
    """Validate one ``models:`` entry; ``base`` supplies the fields an override leaves out."""
    if not isinstance(raw, Mapping):
        raise PricingError(f"model {name!r}: entry must be a mapping of fields")
    unknown = sorted(set(raw) - ENTRY_FIELDS)
    if unknown:
        raise PricingError(f"model {name!r}: unknown field {unknown[0]!r}")
    rates = _rates(name, raw, base.base if base else None)
    currency = raw.get("currency", base.currency if base else "USD")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
        raise PricingError(f"model {name!r}: field 'currency' must be an ISO code like USD")
    aliases = raw.get("aliases", base.aliases if base else ())
    if isinstance(aliases, str):
        aliases = (aliases,)
    if not isinstance(aliases, list | tuple) or not all(isinstance(a, str) for a in aliases):
        raise PricingError(f"model {name!r}: field 'aliases' must be a list of names")
    provider = raw.get("provider", base.provider if base else None)
    if provider is not None and not isinstance(provider, str):
        raise PricingError(f"model {name!r}: field 'provider' must be a string")
    batch = _optional(name, raw, "batch", base.batch if base else None)
    if batch is not None and batch > 1:
        raise PricingError(f"model {name!r}: field 'batch' is a multiplier (0.5 = half price)")
    source = raw.get("source", base.source if base else None)
    return Price(
        name=name,
        provider=provider,
        currency=currency,
        base=rates,
        tiers=_tiers(name, raw["tiers"], rates) if "tiers" in raw else (base.tiers if base else ()),
        per_request=_optional(name, raw, "per_request", base.per_request if base else None),
        batch=batch,
        aliases=tuple(aliases),
        source=str(source) if source is not None else None,
    )


def entry_dict(price: Price) -> dict[str, Any]:
    """An entry as plain data (stable: used to fingerprint the table)."""

    def rates(r: Rates) -> dict[str, str | None]:
        return {k: None if getattr(r, k) is None else str(getattr(r, k)) for k in RATE_FIELDS}

    return {
        "provider": price.provider,
        "currency": price.currency,
        **rates(price.base),
        "tiers": [{"above": t.above, **rates(t.rates)} for t in price.tiers],
        "per_request": None if price.per_request is None else str(price.per_request),
        "batch": None if price.batch is None else str(price.batch),
        "aliases": list(price.aliases),
    }
