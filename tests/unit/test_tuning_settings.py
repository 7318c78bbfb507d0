"""Tuning's settings: customer-managed keys need their directory, as retention's do."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from services.runtime.customer_keys import LocalFileKeyProvider
from services.tuning.settings import TuningSettings

KEYS = {"files_key": base64.b64encode(bytes(32)).decode(), "adapters_key": base64.b64encode(bytes(range(32))).decode()}


def test_customer_keys_need_their_directory(tmp_path) -> None:
    with pytest.raises(ValidationError, match="customer_keys need customer_key_dir"):
        TuningSettings(**KEYS, customer_keys={"contoso": "contoso-cmk"})
    settings = TuningSettings(**KEYS, customer_keys={"contoso": "contoso-cmk"}, customer_key_dir=str(tmp_path))
    assert isinstance(settings.customer_provider(), LocalFileKeyProvider)
    assert TuningSettings(**KEYS).customer_provider() is None
