"""Files and adapters are sealed per object; a moved chunk or a destroyed key opens nothing."""

from __future__ import annotations

import pytest

from contracts.base import utc_now
from services.runtime.sealing import StaticKeyProvider
from services.tuning_catalog.errors import ContentGone
from services.tuning_catalog.ports import SealedChunk
from services.tuning_catalog.vault import TuningVault
from tests.unit.tuning_fakes import InMemorySealedObjects

KEY = bytes(range(32))


def vault(store: InMemorySealedObjects, key: bytes = KEY) -> TuningVault:
    return TuningVault(store, StaticKeyProvider({"tuning-1": key}, purpose="tuning"), "tuning-1", utc_now)


async def test_chunks_are_sealed_and_open_in_order() -> None:
    store = InMemorySealedObjects()
    v = vault(store)
    await v.put("contoso", "file-a", 1, b"second secret")
    await v.put("contoso", "file-a", 0, b"first secret ")
    assert await v.read_all("contoso", "file-a") == b"first secret second secret"
    stored = b"".join(c.ciphertext + c.nonce for c in store.chunks_of[("contoso", "file-a")].values())
    assert b"secret" not in stored and b"secret" not in (store.keys[("contoso", "file-a")].wrapped or b"")
    assert len(store.keys) == 1  # one data key per object, reused by every chunk


async def test_each_object_has_its_own_key_and_a_moved_chunk_does_not_open() -> None:
    store = InMemorySealedObjects()
    v = vault(store)
    await v.put("contoso", "file-a", 0, b"a")
    await v.put("contoso", "file-b", 0, b"b")
    assert store.keys[("contoso", "file-a")].wrapped != store.keys[("contoso", "file-b")].wrapped
    chunk = store.chunks_of[("contoso", "file-a")][0]
    store.chunks_of[("contoso", "file-b")][0] = chunk  # a's chunk copied under b
    with pytest.raises(ContentGone):
        await v.read_all("contoso", "file-b")
    store.chunks_of[("fabrikam", "file-a")] = {0: chunk}  # and under another resource, with its key
    store.keys[("fabrikam", "file-a")] = store.keys[("contoso", "file-a")]
    with pytest.raises(ContentGone):
        await v.read_all("fabrikam", "file-a")
    store.chunks_of[("contoso", "file-a")][1] = SealedChunk(1, chunk.nonce, chunk.ciphertext)  # moved in position
    with pytest.raises(ContentGone):
        await v.read_all("contoso", "file-a")


async def test_destroying_shreds_the_key_before_the_chunks() -> None:
    store = InMemorySealedObjects()
    v = vault(store)
    await v.put("contoso", "file-a", 0, b"data")
    saved = dict(store.chunks_of[("contoso", "file-a")])
    await v.destroy("contoso", "file-a")
    assert ("contoso", "file-a") not in store.chunks_of and store.keys[("contoso", "file-a")].wrapped is None
    store.chunks_of[("contoso", "file-a")] = saved  # a copy of the chunks survived somewhere
    with pytest.raises(ContentGone):
        await v.read_all("contoso", "file-a")
    with pytest.raises(ContentGone):  # nor does the key come back for new chunks
        await v.put("contoso", "file-a", 1, b"more")


async def test_another_tuning_key_opens_nothing() -> None:
    store = InMemorySealedObjects()
    await vault(store).put("contoso", "file-a", 0, b"data")
    with pytest.raises(ContentGone):
        await vault(store, bytes(32)).read_all("contoso", "file-a")
