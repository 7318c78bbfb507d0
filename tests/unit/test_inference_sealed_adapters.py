"""Inference opens a resource's own fine-tuned adapter into a private folder and removes it again."""

from __future__ import annotations

import io
import stat
import tarfile
from datetime import UTC, datetime

from contracts.base import utc_now
from services.inference.adapters.sealed_adapters import SealedAdapters
from services.runtime.sealing import StaticKeyProvider
from services.tuning_catalog.model import FineTunedModel, adapter_object
from services.tuning_catalog.vault import TuningVault
from tests.unit.tuning_fakes import InMemorySealedObjects, InMemoryTuningCatalog

NAME = "smollm2-135m-instruct.ft-" + "e" * 24


def archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (("adapter_config.json", b"{}"), ("adapter_model.safetensors", b"weights"),
                           ("../escape", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def world(tmp_path):
    catalog, store = InMemoryTuningCatalog(), InMemorySealedObjects()
    vault = TuningVault(store, StaticKeyProvider({"a": bytes(32)}), "a", utc_now)
    await vault.put("contoso", adapter_object(NAME), 0, archive())
    await catalog.put_model(FineTunedModel(name=NAME, resource_id="contoso", job_id="ftjob-" + "e" * 24,
                                           base_model="smollm2-135m-instruct", created_at=datetime.now(UTC),
                                           adapter_object=adapter_object(NAME), adapter_bytes=1))
    return catalog, SealedAdapters(catalog, vault, tmp_path)


async def test_the_owner_gets_a_private_folder_and_others_nothing(tmp_path) -> None:
    _, adapters = await world(tmp_path)
    folder = await adapters.folder("contoso", NAME)
    assert folder is not None and sorted(p.name for p in folder.iterdir()) == [
        "adapter_config.json", "adapter_model.safetensors"]
    assert stat.S_IMODE(adapters.root.stat().st_mode) == 0o700 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not (tmp_path / "escape").exists()
    assert await adapters.folder("fabrikam", NAME) is None


async def test_plaintext_goes_on_unload_deletion_and_close(tmp_path) -> None:
    catalog, adapters = await world(tmp_path)
    folder = await adapters.folder("contoso", NAME)
    assert folder is not None and adapters.unload("contoso", NAME) and not folder.exists()
    folder = await adapters.folder("contoso", NAME)
    await catalog.hide_model("contoso", NAME)  # deleted by its owner: refused, and the plaintext goes
    assert await adapters.folder("contoso", NAME) is None and not folder.exists()
    await catalog.remove_model("contoso", NAME)
    adapters.close()
    assert not adapters.root.exists() and list(tmp_path.iterdir()) == []
