"""A deterministic Claude Code config dir, in the documented session-log format, for the
import benchmark and the ccusage comparison (seed → identical bytes).

    python benchmarks/claude_code.py OUT --mb 500 [--seed 1]

Writes OUT/projects/<project>/<session>.jsonl: summary, user and assistant lines with text,
tool_use and tool_result content of realistic sizes; one assistant line per content block
(the same message.id + requestId repeated); 1-hour and 5-minute cache writes; some resumed
sessions that replay an earlier session's lines; old lines carrying costUSD; <synthetic>
lines and API error lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

import orjson

MODELS = (
    ("claude-sonnet-4-5-20250929", 0.55),
    ("claude-opus-4-1-20250805", 0.1),
    ("claude-haiku-4-5-20251001", 0.25),
    ("claude-opus-4-5-20251101", 0.1),
)
PROJECTS = ("webapp", "billing-service", "infra", "docs-site", "ml-pipeline", "cli-tools")
WORDS = [
    "the",
    "of",
    "to",
    "and",
    "a",
    "in",
    "is",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "I",
    "his",
    "they",
    "be",
    "at",
]


def _text(rng: random.Random, size: int) -> str:
    words = []
    length = 0
    while length < size:
        word = WORDS[rng.randrange(len(WORDS))]
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


class ClaudeLogs:
    """Generates sessions; every choice comes from one seeded ``random.Random``."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n = 0

    def _model(self) -> str:
        pick = self.rng.random()
        for model, weight in MODELS:
            pick -= weight
            if pick < 0:
                return model
        return MODELS[0][0]

    def session(
        self, project: str, start: dt.datetime, turns: int, *, old: bool = False
    ) -> list[bytes]:
        """One session's lines (``old``: written by a Claude Code that logged costUSD)."""
        rng = self.rng
        session = f"{rng.getrandbits(128):032x}"
        session_id = (
            f"{session[:8]}-{session[8:12]}-{session[12:16]}-{session[16:20]}-{session[20:]}"
        )
        cwd = f"/home/dev/{project}"
        when = start
        lines = [
            {"type": "summary", "summary": _text(rng, 40), "leafUuid": f"{rng.getrandbits(64):x}"}
        ]
        model = self._model()
        for _ in range(turns):
            when += dt.timedelta(seconds=rng.uniform(2, 240))
            base = {"sessionId": session_id, "cwd": cwd, "version": "2.0.31", "gitBranch": "main",
                    "userType": "external", "isSidechain": False}  # fmt: skip
            tool_result = rng.random() < 0.6
            content: object = (
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"toolu_{rng.getrandbits(64):x}",
                        "content": _text(rng, int(rng.lognormvariate(6.5, 1.0))),
                    }
                ]
                if tool_result
                else _text(rng, int(rng.lognormvariate(4.5, 0.8)))
            )
            lines.append({**base, "type": "user", "uuid": f"{rng.getrandbits(64):x}",
                          "timestamp": _iso(when), "message": {"role": "user", "content": content}})  # fmt: skip
            self.n += 1
            when += dt.timedelta(seconds=rng.uniform(1, 30))
            if rng.random() < 0.05:
                model = self._model()
            synthetic = rng.random() < 0.01
            cache_read = int(rng.lognormvariate(9.5, 1.0)) if rng.random() < 0.9 else 0
            written = int(rng.lognormvariate(7.0, 1.2)) if rng.random() < 0.5 else 0
            one_hour = written if rng.random() < 0.3 else 0
            usage = {
                "input_tokens": 0 if synthetic else rng.randrange(1, 400),
                "cache_creation_input_tokens": 0 if synthetic else written,
                "cache_read_input_tokens": 0 if synthetic else cache_read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 0 if synthetic else written - one_hour,
                    "ephemeral_1h_input_tokens": 0 if synthetic else one_hour,
                },
                "output_tokens": 0 if synthetic else int(rng.lognormvariate(5.0, 1.1)) + 1,
                "service_tier": "standard",
            }
            message_id = f"msg_{rng.getrandbits(96):024x}"
            request_id = f"req_{rng.getrandbits(96):024x}"
            blocks = [{"type": "text", "text": _text(rng, int(rng.lognormvariate(5.0, 1.0)))}]
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                blocks.append({"type": "tool_use", "id": f"toolu_{rng.getrandbits(64):x}", "name": "Edit",
                               "input": {"file_path": f"{cwd}/src/x.py", "old_string": _text(rng, 200),
                                         "new_string": _text(rng, 260)}})  # fmt: skip
            cost = round(rng.uniform(0.001, 0.2), 6)
            for block in blocks:  # one line per content block, usage repeated
                line = {**base, "type": "assistant", "uuid": f"{rng.getrandbits(64):x}",
                        "timestamp": _iso(when), "requestId": request_id,
                        "message": {"id": message_id, "type": "message", "role": "assistant",
                                    "model": "<synthetic>" if synthetic else model,
                                    "content": [block], "stop_reason": None, "usage": usage}}  # fmt: skip
                if old:
                    line["costUSD"] = cost
                lines.append(line)
                when += dt.timedelta(milliseconds=rng.randrange(5, 400))
        return [orjson.dumps(line) + b"\n" for line in lines]


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def write_claude_dir(out: Path, *, mb: float, seed: int, end: dt.date) -> tuple[int, int]:
    """Write about ``mb`` MB of sessions over the 120 days before ``end``; (files, lines)."""
    gen = ClaudeLogs(seed)
    rng = gen.rng
    budget = int(mb * 1_000_000)
    written = files = lines_out = 0
    earlier: list[tuple[str, list[bytes]]] = []
    while written < budget:
        project = PROJECTS[rng.randrange(len(PROJECTS))]
        day = end - dt.timedelta(days=rng.randrange(120))
        start = dt.datetime(day.year, day.month, day.day, rng.randrange(7, 22), tzinfo=dt.UTC)
        lines = gen.session(
            project, start, rng.randrange(5, 60), old=day < end - dt.timedelta(days=90)
        )
        if earlier and rng.random() < 0.08:  # a resumed session replays an earlier one
            old_project, old = earlier[rng.randrange(len(earlier))]
            project, lines = old_project, old[: len(old) // 2] + lines
        if rng.random() < 0.02:
            lines[-1] = lines[-1][: len(lines[-1]) // 2]  # torn: written while Claude ran
        folder = out / "projects" / f"-home-dev-{project}"
        folder.mkdir(parents=True, exist_ok=True)
        data = b"".join(lines)
        (folder / f"{rng.getrandbits(128):032x}.jsonl").write_bytes(data)
        earlier = ([*earlier, (project, lines)])[-20:]
        written += len(data)
        files += 1
        lines_out += len(lines)
    return files, lines_out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=float, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    args = parser.parse_args()
    files, lines = write_claude_dir(args.out, mb=args.mb, seed=args.seed, end=args.end)
    print(f"wrote {files:,} files, {lines:,} lines to {args.out}")


if __name__ == "__main__":
    main()
