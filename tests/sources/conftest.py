"""Known bugs of the model, shared by every backend's conformance tests (strict xfails: a fix must
remove its entry here)."""

from __future__ import annotations

import pytest

MODEL_BUGS: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        reason = MODEL_BUGS.get(getattr(item, "originalname", item.name))
        if reason and item.path.parent.name == "sources":
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
