"""Fine-tuned adapters, opened from the region's tuning store into a private in-memory folder.

A request naming a fine-tuned model (``<base>.ft-<id>``) is served only if the tuning catalogue
has that model **for the request's resource**; its sealed adapter is opened with the adapters key
(which opens no training file) and unpacked under ``<scratch>/residency-adapters-<pid>-<random>/``
(mode 0700, on tmpfs: ``/dev/shm`` by default), where vLLM's multi-LoRA loads it. vLLM knows it by
``<resource>/<model>``, so two resources never share an adapter slot. The plaintext is removed
when the adapter is unloaded (``unload``), and the whole folder when the engine closes.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import secrets
import shutil
import tarfile
from pathlib import Path

from services.tuning_catalog.errors import ContentGone
from services.tuning_catalog.ports import TuningCatalog
from services.tuning_catalog.vault import TuningVault

log = logging.getLogger("residency.inference.adapters")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def is_fine_tuned(adapter: str) -> bool:
    return ".ft-" in adapter


class SealedAdapters:
    def __init__(self, catalog: TuningCatalog, vault: TuningVault, scratch_dir: Path) -> None:
        self._catalog = catalog
        self._vault = vault
        self.root = scratch_dir / f"residency-adapters-{os.getpid()}-{secrets.token_hex(4)}"
        self._opened: dict[tuple[str, str], Path] = {}
        self._lock = asyncio.Lock()
        self.load_seconds: dict[tuple[str, str], float] = {}

    async def folder(self, resource_id: str, name: str) -> Path | None:
        """The adapter's plaintext folder, opened on first use; None if the resource has no such model.

        The catalogue is asked on every request: a model its owner deleted is refused at once, on
        every replica, even before the deletion's broadcast arrives (which removes the plaintext)."""
        key = (resource_id, name)
        async with self._lock:
            model = await self._catalog.get_model(resource_id, name)
            if model is None:
                self.unload(resource_id, name)
                return None
            found = self._opened.get(key)
            if found is not None and found.exists():
                return found
            began = asyncio.get_running_loop().time()
            try:
                archive = await self._vault.read_all(resource_id, model.adapter_object)
            except ContentGone:
                return None
            folder = self._unpack(resource_id, name, archive)
            self._opened[key] = folder
            self.load_seconds[key] = asyncio.get_running_loop().time() - began
            log.info("adapter %s of %s opened into memory (%d bytes)", name, resource_id, len(archive))
            return folder

    def _unpack(self, resource_id: str, name: str, archive: bytes) -> Path:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = self.root / hashlib.sha256(f"{resource_id}/{name}".encode()).hexdigest()[:32]
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if member.name not in ADAPTER_FILES or not member.isfile():
                    continue  # only the two files an adapter is made of, at the top of the folder
                source = tar.extractfile(member)
                if source is not None:
                    (folder / member.name).write_bytes(source.read())
        return folder

    def unload(self, resource_id: str, name: str) -> bool:
        """Removes the adapter's plaintext; True if it was open."""
        folder = self._opened.pop((resource_id, name), None)
        if folder is None:
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def close(self) -> None:
        self._opened.clear()
        shutil.rmtree(self.root, ignore_errors=True)
