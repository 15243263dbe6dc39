"""Secret scrubbing: every key format, bearer token, named credential and random token is
masked wherever it stands in a text; ordinary ids, model names, paths and words are left as
they are; every field of a record, and its tags, is scrubbed on each write path."""

from __future__ import annotations

import os
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aiusage.pricing.table import load_table
from aiusage.records.batch import Preparer
from aiusage.records.prepare import prepare, reprice
from aiusage.records.schema import SCRUBBED_FIELDS, build_record, serialize
from aiusage.records.secrets import scrub
from strategies import ALNUM, HEX, SECRET_FORMATS, chars, hidden_part, secrets_in_text

NOW = 1_795_000_000.0
TABLE = load_table()
OPENAI_ECHO = (
    "Error code: 401 - {'error': {'message': 'Incorrect API key provided: "
    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h. You can find your API key at "
    "https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error'}}"
)


def assert_hidden(text: str, secret: str) -> None:
    needle = hidden_part(secret)
    at = text.index(secret)
    # The check is only meaningful when the text around the secret does not hold it too.
    assume(needle not in text[: at + 3] and needle not in text[at + len(secret) - 4 :])
    scrubbed = scrub(text)
    assert needle not in scrubbed, (text, scrubbed)
    assert scrub(scrubbed) == scrubbed, "scrubbing twice changes nothing more"


@pytest.mark.parametrize("name", sorted(SECRET_FORMATS))
@settings(max_examples=60)
@given(data=st.data())
def test_every_format_is_masked_wherever_it_stands(name: str, data: Any) -> None:
    text, secret = data.draw(secrets_in_text(name))
    assert_hidden(text, secret)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (OPENAI_ECHO, OPENAI_ECHO.replace("sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h", "sk-…Ef0h")),
        ("auth=Bearer sk-abc123def456ghi789jkl012", "auth=Bearer sk-…l012"),
        ('{"error": "bad key\\nAKIAIOSFODNN7EXAMPLE"}', '{"error": "bad key\\nAKI…MPLE"}'),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic dXN…ZA=="),
        ("password=hunter2hunter2", "password=hun…ter2"),
        ("key=AIzaSyA1234567890abcdefghijklmnopqrstu&x=1", "key=AIz…rstu&x=1"),
        ("token A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7", "token A1b…p6Q7"),
    ],
)  # fmt: skip
def test_masked_like_api_key(text: str, scrubbed: str) -> None:
    assert scrub(text) == scrubbed


ordinary = st.one_of(
    st.builds(lambda: str(uuid.uuid4())),
    st.builds(lambda: os.urandom(16).hex()),
    chars(HEX, 14, 96),
    chars(HEX.upper(), 14, 64),
    st.tuples(
        st.sampled_from(["chatcmpl-", "msg_01", "req_011", "toolu_01", "resp_", "gen-17", "file-"]),
        chars(ALNUM, 20, 40),
    ).map("".join),
    st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_./ "), max_size=80),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=15),
)


@given(ordinary)
def test_ordinary_ids_and_words_are_untouched(text: str) -> None:
    assert scrub(text) == text


def test_every_model_name_and_alias_of_the_pricing_table_is_untouched() -> None:
    names = {*TABLE.prices, *(alias for price in TABLE.prices.values() for alias in price.aliases)}
    assert len(names) > 50
    assert [name for name in sorted(names) if scrub(name) != name] == []


@pytest.mark.parametrize(
    "text",
    [
        "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8",
        "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
        "NousResearch/Nous-Hermes-2-Mixtral-8x7B-DPO",
        "accounts/fireworks/models/llama-v3p1-405b-instruct",
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "gemini-2.5-flash-preview-05-20",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "ft:gpt-4o-mini-2024-07-18:my-org:custom-suffix:9eWbUhQH",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7",
        "/home/Jane/Projects/MyApp2/src/aiusage/records/Schema2Test.py",
        "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "msg_01XFDUDYJgAACzvnptvVoYEL",
        "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        "sk-learn-pipeline-training-run-2024",
        "task-queue-worker-pool-east-2024",
        "Bearer authentication failed",
        "max_tokens: 4096 is more than this model allows",
        "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM).",
        "AbstractSingletonProxyFactoryBean",
        "ip-10-0-0-12.eu-west-1.compute.internal",
        "sk-…9f3a",
    ],
)
def test_names_paths_and_provider_ids_are_untouched(text: str) -> None:
    assert scrub(text) == text


def test_every_text_field_and_tag_is_scrubbed() -> None:
    key = "gsk_" + "Ab1" * 18
    fields: dict[str, Any] = {name: f"x {key}" for name in SCRUBBED_FIELDS if name != "key"}
    fields["tags"] = {"auth": f"Bearer {key}", key: "v"}
    rec = build_record(fields, now=NOW)
    assert key[4:-4] not in repr(rec)
    assert rec["error_msg"] == "x gsk…1Ab1"
    assert rec["tags"] == {"auth": "Bearer gsk…1Ab1", "gsk…1Ab1": "v"}
    counter = build_record({"kind": "counter", "key": f"calls {key}"}, now=NOW)
    assert counter["key"] == "calls gsk…1Ab1"


@pytest.mark.parametrize("as_line", [False, True])
def test_the_bulk_path_scrubs_as_build_record_does(as_line: bool) -> None:
    fields = {
        "id": "x",
        "timestamp": NOW,
        "model": "gpt-4o",
        "error_msg": OPENAI_ECHO,
        "tags": {"auth": "Bearer eyJ" + "a1B" * 12},
    }
    out = bytearray()
    preparer = Preparer(TABLE, now=NOW)
    if as_line:
        preparer.line(orjson.dumps(fields), out)
    else:
        preparer.fields(fields, out)
    assert b"Ab3dEf6hIj9kLm2nOp5q" not in out
    assert b"a1Ba1Ba1B" not in out
    assert bytes(out) == serialize(prepare(fields, table=TABLE, now=NOW))


def test_reprice_scrubs_what_it_rewrites() -> None:
    rec = {
        "timestamp": NOW,
        "model": "gpt-4o",
        "input_tokens": 10,
        "cost": 9.0,
        "error_msg": OPENAI_ECHO,
    }
    assert reprice(rec, TABLE)
    assert "Ab3dEf6hIj9kLm2nOp5q" not in rec["error_msg"]


@pytest.mark.parametrize(
    "name",
    [
        "HandleCustomerInvoiceRefundRequestV2",
        "HandleSupplierPaymentBatchRequestV2",
        "summarizeQuarterlyRevenueReportForEMEA2",
        "OpenAIChatCompletionStreamingHandlerV12",
    ],
)
def test_long_names_made_of_words_are_kept(name: str) -> None:
    # What reports group by (functions, handlers): masking them would merge distinct names.
    assert scrub(name) == name
    assert scrub(f"failed in {name}: timeout") == f"failed in {name}: timeout"
