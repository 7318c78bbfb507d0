"""Deleting a file or a fine-tuned model: the key first (crypto-shredding: once it is gone no copy of
the chunks opens), the chunks with it, then the record. One order for every path that deletes."""

from __future__ import annotations

from services.tuning_catalog.model import adapter_object
from services.tuning_catalog.ports import TuningCatalog
from services.tuning_catalog.vault import TuningVault


async def shred_file(vault: TuningVault, catalog: TuningCatalog, resource_id: str, file_id: str) -> None:
    await vault.destroy(resource_id, file_id)
    await catalog.remove_file(resource_id, file_id)


async def shred_model(adapters: TuningVault, catalog: TuningCatalog, resource_id: str, model: str) -> None:
    await adapters.destroy(resource_id, adapter_object(model))
    await catalog.remove_model(resource_id, model)
