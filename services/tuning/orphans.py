"""The orphan sweep: sealed chunks that no record will ever own are shredded after a bound.

A file's chunks are sealed as they arrive, before the gateway writes the file's record (it does so
once the upload ended); a gateway that crashes mid-upload sends no ``aborted``, so its chunks would
stay for ever. Likewise an adapter is sealed before its model's record is written. So, every
``interval``, the sweep lists live data keys made more than ``orphan_after`` ago that no record was
seen to own (IDs only: the one query across resources, services/tuning_catalog/mongo_vault.py),
and for each asks the catalogue, *for that key's resource*, whether its file or model has a record
(a deleted one not yet shredded counts): if it has, the key is marked owned and never looked at
again; if not, the key is destroyed, then the chunks (services/tuning_catalog/vault.py).

``orphan_after`` (an hour by default) must exceed the longest upload: the content topic keeps an
upload's chunks one hour too, so a chunk of an upload older than that can no longer arrive, and a
late one finds its key destroyed and is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.runtime.periodic import repeat
from services.tuning_catalog.model import adapter_object
from services.tuning_catalog.ports import SealedObjects, TuningCatalog
from services.tuning_catalog.vault import TuningVault

log = logging.getLogger("residency.tuning.orphans")
ADAPTER_PREFIX = adapter_object("")


@dataclass(frozen=True)
class OrphanPorts:
    catalog: TuningCatalog
    sealed: SealedObjects
    vault: TuningVault  # destroying needs no key material: either vault does
    clock: Callable[[], datetime]
    orphan_after: timedelta
    batch: int = 500


async def sweep_orphans(ports: OrphanPorts) -> int:
    """One round; returns how many objects were shredded."""
    shredded = 0
    for resource_id, object_id in await ports.sealed.unowned_keys_before(ports.clock() - ports.orphan_after,
                                                                         limit=ports.batch):
        if await _recorded(ports.catalog, resource_id, object_id):
            await ports.sealed.mark_owned(resource_id, object_id)
            continue
        await ports.vault.destroy(resource_id, object_id)
        shredded += 1
        log.warning("object %s of %s had no record %.0f s after its key was made: shredded", object_id,
                    resource_id, ports.orphan_after.total_seconds())
    return shredded


async def _recorded(catalog: TuningCatalog, resource_id: str, object_id: str) -> bool:
    if object_id.startswith(ADAPTER_PREFIX):
        return await catalog.model_recorded(resource_id, object_id.removeprefix(ADAPTER_PREFIX))
    return await catalog.file_recorded(resource_id, object_id)


async def sweep_periodically(ports: OrphanPorts, interval_s: float) -> None:
    """Sweep every ``interval_s`` until cancelled; a failed round is logged and tried again next time."""
    await repeat(lambda: sweep_orphans(ports), interval_s, log=log, what="orphan sweep")
