"""e2e tests hold SDK clients (also inside LangChain models) that they cannot always close; collect
them after each test, so their sockets are not reported later, in some other test."""

from __future__ import annotations

import gc
import warnings

import pytest


@pytest.fixture(autouse=True)
def collect_clients():
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
