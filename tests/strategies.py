"""Hypothesis strategies the tests share."""

from __future__ import annotations

import random
import string
from typing import Any

import orjson
from hypothesis import strategies as st

from aiusage.records.secrets import _word_like

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(-1, 1e6, allow_nan=False),
    st.text(max_size=3),
    st.lists(st.integers(-9, 9), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(-9, 9), max_size=2),
)
FIELDS = [
    "timestamp",
    "model",
    "kind",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "cost",
    "currency",
    "duration_ms",
    "ttfb_ms",
    "success",
    "tags",
    "user_id",
]
records = st.fixed_dictionaries(
    {
        "timestamp": st.one_of(st.floats(0, 4e9), values),
        "model": st.one_of(st.just("gpt-4o"), values),
    },
    optional=dict.fromkeys(FIELDS[2:], values),
)

# --- secrets ---------------------------------------------------------------------------------
# Keys, tokens and credentials of each format the scrubber masks (README: The record,
# "Secrets"), as (text, secret): the text holds the secret, maybe with the words that name it.

ALNUM = string.ascii_letters + string.digits
UPPER, LOWER, DIGITS = string.ascii_uppercase, string.ascii_lowercase, string.digits
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"


def chars(alphabet: str, low: int, high: int | None = None) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=low, max_size=low if high is None else high)


def _key(prefix: st.SearchStrategy[str], *parts: st.SearchStrategy[str]) -> Any:
    return st.tuples(prefix, *parts).map(lambda p: ("".join(p),) * 2)


def _named(names: list[str], value: st.SearchStrategy[str]) -> Any:
    return st.tuples(st.sampled_from(names), value).map(lambda p: (p[0] + p[1], p[1]))


# A random token the generic rule masks: 32+ letters and digits mixing all three kinds.
def _random_token(seed: int) -> str:
    """A token of random letters and digits, mixing all three kinds, that does not read as
    words (what the scrubber's random-token rule masks; README: The record, "Secrets")."""
    rng = random.Random(seed)
    while True:
        token = "".join(rng.choice(ALNUM) for _ in range(rng.randint(32, 63)))
        kinds = [any(c in kind for c in token) for kind in (UPPER, LOWER, DIGITS)]
        if all(kinds) and not _word_like(token):
            return token


random_tokens = st.integers(0, 2**32).map(_random_token)

SECRET_FORMATS: dict[str, Any] = {
    "openai": _key(st.just("sk-"), chars(ALNUM, 20), st.just("T3BlbkFJ"), chars(ALNUM, 20)),
    "openai-project": _key(
        st.sampled_from(["sk-proj-", "sk-svcacct-", "sk-admin-"]),
        chars(URLSAFE, 58, 74),
        st.just("T3BlbkFJ"),
        chars(URLSAFE, 58, 74),
    ),
    "anthropic": _key(
        st.sampled_from(["sk-ant-api03-", "sk-ant-admin01-"]), chars(URLSAFE, 93), st.just("AA")
    ),
    "deepseek": _key(st.just("sk-"), chars(HEX, 32)),
    "openrouter": _key(st.just("sk-or-v1-"), chars(HEX, 64)),
    "google": _key(st.just("AIza"), chars(URLSAFE, 35)),
    "xai": _key(st.just("xai-"), chars(ALNUM, 80)),
    "groq": _key(st.just("gsk_"), chars(ALNUM, 52)),
    "huggingface": _key(st.just("hf_"), chars(ALNUM, 34)),
    "aws": _key(st.sampled_from(["AKIA", "ASIA"]), chars(string.ascii_uppercase + "234567", 16)),
    "github": _key(st.sampled_from(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]), chars(ALNUM, 36)),
    "github-fine-grained": _key(
        st.just("github_pat_"), chars(ALNUM, 22), st.just("_"), chars(ALNUM, 59)
    ),
    "jwt": _key(
        st.just("eyJ"),
        chars(URLSAFE, 20, 40),
        st.just(".eyJ"),
        chars(URLSAFE, 20, 80),
        st.just("."),
        chars(URLSAFE, 43),
    ),
    "bearer": _named(
        ["Bearer ", "bearer ", "Authorization: Bearer ", '"authorization": "Bearer '],
        chars(URLSAFE + "._~+/=", 20, 80),
    ),
    "credential": _named(
        [
            "api_key=",
            "x-api-key: ",
            '"api-key": "',
            "access_token=",
            "client_secret: ",
            "password=",
            "aws_secret_access_key = ",
            "'token': '",
        ],
        chars(URLSAFE + "+/=.~", 20, 60),
    ),
    "random": random_tokens.map(lambda t: (t, t)),
}
# What may stand around a secret: plain words, punctuation, quotes, JSON escapes.
SEPARATORS = [
    " ",
    ". ",
    ", ",
    ": ",
    "=",
    '"',
    "'",
    "(",
    "[",
    "<",
    "\n",
    "\t",
    "\\n",
    '\\"',
    "\\u0022",
]
surroundings = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@st.composite
def secrets_in_text(draw: Any, name: str | None = None) -> tuple[str, str]:
    """A text holding one secret (of the format ``name``, else any), and the secret."""
    fmt = (
        SECRET_FORMATS[name]
        if name
        else st.sampled_from(sorted(SECRET_FORMATS)).flatmap(SECRET_FORMATS.__getitem__)
    )
    text, secret = draw(fmt)
    before = draw(surroundings) + draw(st.sampled_from(SEPARATORS))
    after = draw(st.sampled_from(SEPARATORS)) + draw(surroundings)
    if draw(st.booleans()):
        before, after = orjson.dumps(before).decode()[1:-1], orjson.dumps(after).decode()[1:-1]
    return before + text + after, secret


def hidden_part(secret: str) -> str:
    """What of a secret its masked form does not show (it keeps 3 characters and the last 4)."""
    return secret[3:-4]
