"""Files and adapters are sealed per object; a moved chunk or a destroyed key opens nothing; a
customer-managed key wraps the data keys of its resource again, and revoking it makes them unrecoverable."""

from __future__ import annotations

import base64
import os

import pytest

from contracts.base import utc_now
from services.runtime.customer_keys import LocalFileKeyProvider
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


# Customer-managed keys (double encryption): the resource's key wraps the data key a second time.

def cmk_vault(store: InMemorySealedObjects, key_dir, customer_keys: dict[str, str] | None = None) -> TuningVault:
    return TuningVault(store, StaticKeyProvider({"tuning-1": KEY}, purpose="tuning"), "tuning-1", utc_now,
                       customer=LocalFileKeyProvider(key_dir),
                       customer_keys={"contoso": "contoso-cmk"} if customer_keys is None else customer_keys)


def write_cmk(key_dir, name: str = "contoso-cmk") -> None:
    key_dir.mkdir(exist_ok=True)
    (key_dir / f"{name}.key").write_text(base64.b64encode(os.urandom(32)).decode())


async def test_a_customer_managed_key_wraps_the_data_key_again(tmp_path) -> None:
    write_cmk(tmp_path / "cmk")
    store = InMemorySealedObjects()
    v = cmk_vault(store, tmp_path / "cmk")
    await v.put("contoso", "file-a", 0, b"secret lines")
    await v.put("fabrikam", "file-b", 0, b"other lines")
    assert await v.read_all("contoso", "file-a") == b"secret lines"
    assert store.keys[("contoso", "file-a")].customer_key_id == "contoso-cmk"
    assert store.keys[("fabrikam", "file-b")].customer_key_id is None  # only resources with a CMK get the layer
    # The purpose key alone (no customer key provider) opens nothing of the resource's.
    with pytest.raises(ContentGone):
        await vault(store).read_all("contoso", "file-a")
    assert await vault(store).read_all("fabrikam", "file-b") == b"other lines"


async def test_another_customer_key_opens_nothing(tmp_path) -> None:
    write_cmk(tmp_path / "cmk")
    store = InMemorySealedObjects()
    await cmk_vault(store, tmp_path / "cmk").put("contoso", "file-a", 0, b"secret lines")
    (tmp_path / "cmk" / "contoso-cmk.key").unlink()
    write_cmk(tmp_path / "cmk")  # the same name, other bytes
    with pytest.raises(ContentGone):
        await cmk_vault(store, tmp_path / "cmk").read_all("contoso", "file-a")


async def test_revoking_the_customer_key_makes_files_and_adapters_unrecoverable(tmp_path) -> None:
    write_cmk(tmp_path / "cmk")
    store = InMemorySealedObjects()
    v = cmk_vault(store, tmp_path / "cmk")
    await v.put("contoso", "file-a", 0, b"secret lines")
    await v.put("contoso", "adapter/base.ft-1", 0, b"adapter weights")
    (tmp_path / "cmk" / "contoso-cmk.key").unlink()  # the customer revokes its key
    for obj in ("file-a", "adapter/base.ft-1"):
        with pytest.raises(ContentGone):
            await v.read_all("contoso", obj)
    with pytest.raises(ContentGone):  # nor is anything new sealed without it
        await v.put("contoso", "file-new", 0, b"more")
    assert ("contoso", "file-new") not in store.keys
    # Taking the resource out of CUSTOMER_KEYS does not bring the content back: the key names its CMK.
    with pytest.raises(ContentGone):
        await cmk_vault(store, tmp_path / "cmk", customer_keys={}).read_all("contoso", "file-a")


def test_customer_keys_need_a_provider() -> None:
    with pytest.raises(ValueError, match="customer key provider"):
        TuningVault(InMemorySealedObjects(), StaticKeyProvider({"tuning-1": KEY}), "tuning-1", utc_now,
                    customer_keys={"contoso": "contoso-cmk"})
