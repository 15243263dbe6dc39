"""Every test in this folder belongs to the reliability suite (plain ``pytest`` leaves it
out; .ci/run runs it)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "reliability" in str(item.path):
            item.add_marker(pytest.mark.reliability)
