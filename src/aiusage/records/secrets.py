"""Secret scrubbing (README: The record, "Secrets"): API keys, tokens and credentials in the
free text of a record are masked before it is written, as ``api_key`` is (``sk-…9f3a``).

Three kinds of rule, in this order: the value after a credential's name (``Authorization:``,
``api_key=``, ``"token": "``, ``password=`` and the like) and after ``Bearer``; the key
formats of OpenAI, Anthropic, DeepSeek and OpenRouter (``sk-``), Google (``AIza``), xAI
(``xai-``), Groq (``gsk_``), Hugging Face (``hf_``), AWS access key ids, GitHub tokens and JSON
web tokens, by their prefix; and any other long token that looks random: a run of letters,
digits, ``-`` and ``_`` holding 32 letters and digits in a row that mix upper case, lower case
and digits — unless it starts with a provider's id prefix (``chatcmpl-``, ``msg_``, ``req_``,
...). Hex ids, UUIDs, record ids, model names, paths and words are never touched.

Masking keeps a short prefix and the last 4 characters, and leaves masked text as it is:
scrubbing twice gives what scrubbing once gave.
"""

from __future__ import annotations

import functools
import re
import string

# The shortest text any rule masks ("token=12345678"): anything shorter is returned at once.
MIN_SECRET = 14

# Key formats, each from its fixed prefix (matched anywhere, so a key glued to other text or
# after a JSON escape such as ``\n`` is found too).
_KEYS = re.compile(
    # OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-), Anthropic (sk-ant-api03-,
    # sk-ant-admin01-), DeepSeek (sk- + 32 hex), OpenRouter (sk-or-v1-): a body holding 16
    # letters and digits in a row, or 40+ long, which words such as "sk-learn-pipeline" are
    # not.
    r"sk-(?:[A-Za-z0-9_-]*?[A-Za-z0-9]{16}[A-Za-z0-9_-]*|[A-Za-z0-9_-]{40,})"
    r"|AIza[A-Za-z0-9_-]{30,}"  # Google API keys (AIza + 35)
    r"|xai-[A-Za-z0-9_]{20,}"  # xAI (xai- + 80)
    r"|gsk_[A-Za-z0-9]{20,}"  # Groq (gsk_ + 52)
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face (hf_ + 34)
    r"|(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub tokens
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # JSON web tokens
)
# The value after a credential's name and a separator (``api_key=``, ``"token": "``,
# ``Authorization: Bearer ``), and a bearer token (8+ characters with a digit, or 20+).
# One pattern per word, each tried only when the text holds the word: a pattern that starts
# with a fixed word is found quickly, an alternation of words is not.
_VALUE = (
    r"[\\\"']*\s*[:=]\s*[\\\"']*(?:(?:bearer|basic|token)\s+)?)"
    r"(?P<value>[^\s\"'\\,;&<>(){}\[\]…]{8,})"  # (up to a mask: masked text stays as it is)
)
_BEFORE_KEY = ("apikey", "api.key", "secretkey", "secret.key", "access.key", "private.key")
_NAMED = tuple(
    (word, f"(?P<name>{name}{_VALUE}")
    for word, name in (
        ("authoriz", "authorization"),
        # api key, api_key, x-api-key, apikey, secret_key, aws_secret_access_key, private-key
        ("key", "key(?:" + "|".join(f"(?<={before})" for before in _BEFORE_KEY) + ")"),
        ("token", "token"),  # token, access_token, x-auth-token, refresh-token
        ("secret", "secret"),  # client_secret, secret
        ("pass", "pass(?:word|wd|phrase)"),
    )
)
_BEARER = (
    r"(?P<name>bearer\s+)"
    r"(?P<value>(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}|[A-Za-z0-9._~+/=-]{20,})"
)


@functools.cache
def _ignoring_case(pattern: str) -> re.Pattern[str]:
    """A pattern of :data:`_NAMED` or :data:`_BEARER`, compiled when first needed: most texts
    have no separator to need them, and compiling them took 3 ms of every start."""
    return re.compile(pattern, re.IGNORECASE)


# The key formats whose body may lack 16 letters and digits in a row.
_LOOSE_PREFIXES = ("sk-", "AIza", "xai-", "eyJ")
# Maps the UTF-8 bytes of ASCII letters and digits to 1, all others to 0.
_ALNUM_CHARS = bytes(1 if chr(b).isascii() and chr(b).isalnum() else 0 for b in range(256))
_STRETCH_16, _STRETCH_32 = b"\x01" * 16, b"\x01" * 32
_RUN = re.compile(r"[A-Za-z0-9_-]{32,}")  # leftmost first: always a whole run
_STRETCH = re.compile(r"[A-Za-z0-9]{32,}")
_LAST_WORD = re.compile(r"\S*\Z")  # what a cut may have split
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")
_DIGIT = re.compile(r"[0-9]")
_WORD_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")  # Handle, Invoice, V, HTTP
# Provider ids: random, but not secrets, and what reports and logs look records up by.
_ID_PREFIXES = (
    "chatcmpl-",
    "cmpl-",
    "gen-",
    "msg_",
    "req_",
    "resp_",
    "toolu_",
    "srvtoolu_",
    "call_",
    "fc_",
    "file-",
    "file_",
    "batch_",
    "run_",
    "thread_",
    "asst_",
    "step_",
)


# Lower-case hex and dashes (record ids, UUIDs, hashes) can hold no secret of any rule.
_HEX_ID_BYTES = b"0123456789abcdef-"
_WORD_BYTES = (string.ascii_letters + string.digits + "-_").encode()
# The same model, error message and tags recur from record to record: texts already
# scrubbed are remembered (a few, up to 1 kB). A lookup costs a twentieth of a scrub, so a
# unique id that is not hex (a request id) costs little more for being remembered.
_REMEMBERED, _REMEMBERED_UP_TO = 1024, 1024
_scrubbed: dict[str, str] = {}


def mask_api_key(key: str) -> str:
    """Mask an API key to a short prefix and its last 4 characters (``sk-…9f3a``).

    A value that is already masked (holds ``…``) is returned as it is, so masking twice is
    harmless; keys too short to keep anything of are reduced to ``…``.
    """
    key = key.strip()
    if "…" in key:
        return key
    if len(key) >= 12:
        return f"{key[:3]}…{key[-4:]}"
    if len(key) >= 8:
        return f"…{key[-4:]}"
    return "…"


def scrub(text: str) -> str:
    """``text`` with every secret in it masked (the rules of the module docstring)."""
    if len(text) < MIN_SECRET:
        return text
    encoded = text.encode("utf-8", "surrogatepass")
    if not encoded.translate(None, _HEX_ID_BYTES):
        return text
    done = _scrubbed.get(text)
    if done is None:
        done = _scrub(text, encoded)
        if len(text) <= _REMEMBERED_UP_TO:
            if len(_scrubbed) >= _REMEMBERED:
                _scrubbed.clear()  # bounded: forgetting costs one scrub per text
            _scrubbed[text] = done
    return done


def _scrub(text: str, encoded: bytes) -> str:
    # Pre-checks in C, so that clean text costs little: a key holds 16 letters and digits
    # in a row or is found by its prefix; a random token holds 32. Masking only shortens
    # such stretches, so checks made before it hold after.
    alnum = encoded.translate(_ALNUM_CHARS)
    # A named value first: a key is masked whole as a value, while masking a key inside a
    # longer token first would break the token in two, and leave its start unmasked.
    # Both need a separator after a word: one word alone (most ids) skips them.
    if encoded.translate(None, _WORD_BYTES):
        lower = text.lower()
        for word, pattern in _NAMED:
            if word in lower:
                text = _ignoring_case(pattern).sub(_mask_value, text)
        if "bearer" in lower:
            text = _ignoring_case(_BEARER).sub(_mask_value, text)
    # (bytes.find, not in: it takes half the time on a short text.)
    stretch_16 = alnum.find(_STRETCH_16) >= 0
    if stretch_16 or any(prefix in text for prefix in _LOOSE_PREFIXES):
        text = _KEYS.sub(_mask_key, text)
    if stretch_16 and alnum.find(_STRETCH_32) >= 0:
        text = _RUN.sub(_mask_run, text)
    return text


def scrub_cut(text: str, limit: int) -> str:
    """``text`` scrubbed, then cut to ``limit`` characters. Scrubbing comes first because a
    key cut in two is no longer recognised; it reads twice the limit, so that a key across
    the cut is seen whole, and a huge text costs no more than a short one. What is read is
    cut at a space: masks shorten the text, so a key cut in two at twice the limit could
    otherwise end up within the limit, unrecognised."""
    if len(text) > 2 * limit:
        text = _LAST_WORD.sub("", text[: 2 * limit])
    return scrub(text)[:limit]


def scrub_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags with their names and values scrubbed (the same dict when nothing changed)."""
    for name, value in tags.items():
        if len(name) >= MIN_SECRET or len(value) >= MIN_SECRET:
            return {scrub(k): scrub(v) for k, v in tags.items()}
    return tags


def _mask_key(match: re.Match[str]) -> str:
    return mask_api_key(match[0])


def _mask_value(match: re.Match[str]) -> str:
    return match["name"] + mask_api_key(match["value"])


def _mask_run(match: re.Match[str]) -> str:
    run = match[0]
    if run.startswith(_ID_PREFIXES):
        return run
    for stretch in _STRETCH.findall(run):
        if (
            _UPPER.search(stretch)
            and _LOWER.search(stretch)
            and _DIGIT.search(stretch)
            and not _word_like(stretch)
        ):
            return mask_api_key(run)
    return run


def _word_like(stretch: str) -> bool:
    """Whether a stretch of letters and digits reads as words (``HandleInvoiceRequestV2``, a
    name reports group by) rather than as random characters: at most 2 digits, and its
    capitalised parts 4 letters long on average (random letters average under 2)."""
    if sum(c.isdigit() for c in stretch) > 2:
        return False
    parts = _WORD_PART.findall(stretch)
    return bool(parts) and sum(map(len, parts)) >= 4 * len(parts)
