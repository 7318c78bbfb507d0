"""What happens to a file message: plain functions of (message, ports).

Chunks are sealed as they come; ``completed`` checks the chunks against the upload's count, size
and SHA-256, then validates the JSONL while opening it and sets the file's status. ``read`` answers
the content to the gateway replica that asked; ``delete`` and ``aborted`` destroy the data key, then
the chunks, then the record. Logs name files and resources, never content.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from contracts.common import ApiError
from contracts.gateway_replies import FileContentChunk, RequestFailed
from contracts.tuning_files import (
    DeleteFile,
    FileChunkUploaded,
    FileMessage,
    FileUploadAborted,
    FileUploadCompleted,
    ReadFileContent,
)
from services.tuning.errors import require_region
from services.tuning.ports import Publisher
from services.tuning.shredding import shred_file
from services.tuning.validation import Limits, validate_chat_jsonl
from services.tuning_catalog.errors import ContentGone
from services.tuning_catalog.model import FileStatus
from services.tuning_catalog.ports import TuningCatalog
from services.tuning_catalog.vault import TuningVault

log = logging.getLogger("residency.tuning.files")


@dataclass(frozen=True)
class FilePorts:
    catalog: TuningCatalog
    vault: TuningVault
    replies: Publisher
    limits: Limits
    clock: Callable[[], datetime]
    region: str


async def handle_file_message(message: FileMessage, ports: FilePorts) -> None:
    require_region(message.region, ports.region)
    if isinstance(message, FileChunkUploaded):
        try:
            await ports.vault.put(message.resource_id, message.file_id, message.sequence,
                                  base64.b64decode(message.data))
        except ContentGone:  # after an abort, a deletion or the orphan sweep; or the resource's CMK is revoked
            log.info("file %s of %s: chunk %d dropped, its key is destroyed or cannot be opened", message.file_id,
                     message.resource_id, message.sequence)
    elif isinstance(message, FileUploadCompleted):
        await complete_upload(message, ports)
    elif isinstance(message, ReadFileContent):
        await read_content(message, ports)
    elif isinstance(message, (DeleteFile, FileUploadAborted)):
        await shred_file(ports.vault, ports.catalog, message.resource_id, message.file_id)
        log.info("file %s of %s destroyed (%s)", message.file_id, message.resource_id, message.kind)


async def complete_upload(message: FileUploadCompleted, ports: FilePorts) -> None:
    record = await ports.catalog.get_file(message.resource_id, message.file_id)
    if record is None or record.status != "uploaded":
        log.info("file %s of %s: completion for a file already processed or deleted", message.file_id,
                 message.resource_id)
        return
    check = _Checked(ports.vault.read(message.resource_id, message.file_id))
    try:
        verdict = await validate_chat_jsonl(check.pieces(), ports.limits)
    except ContentGone:
        await ports.catalog.set_file_status(message.resource_id, message.file_id, "error", "the upload was lost")
        return
    if (check.chunks, check.size, check.digest.hexdigest()) != (message.chunks, message.bytes, message.sha256):
        await ports.catalog.set_file_status(message.resource_id, message.file_id, "error",
                                            "the upload did not arrive whole; upload the file again")
        log.warning("file %s of %s: chunks do not match the upload", message.file_id, message.resource_id)
        return
    status: FileStatus = "processed" if verdict.ok else "error"
    await ports.catalog.set_file_status(message.resource_id, message.file_id, status, verdict.details(),
                                        examples=verdict.examples)
    log.info("file %s of %s %s: %d examples, %d errors", message.file_id, message.resource_id, status,
             verdict.examples, verdict.error_count)


class _Checked:
    """Counts and hashes the pieces as the validator reads them: the file is opened once."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self.chunks = 0
        self.size = 0
        self.digest = hashlib.sha256()

    async def pieces(self) -> AsyncIterator[bytes]:
        async for piece in self._source:
            self.chunks += 1
            self.size += len(piece)
            self.digest.update(piece)
            yield piece


async def read_content(message: ReadFileContent, ports: FilePorts) -> None:
    envelope = message.envelope()
    record = await ports.catalog.get_file(message.resource_id, message.file_id)
    if record is None:
        await ports.replies.publish(RequestFailed(**envelope, error=ApiError(
            status=404, type="invalid_request_error", code="not_found", message="No such file.")))
        return
    sequence = 0
    previous: bytes | None = None
    try:
        async for piece in ports.vault.read(message.resource_id, message.file_id):
            if previous is not None:
                await ports.replies.publish(_content(envelope, message.file_id, sequence, previous, final=False))
                sequence += 1
            previous = piece
    except ContentGone:
        await ports.replies.publish(RequestFailed(**envelope, error=ApiError(
            status=404, type="invalid_request_error", code="not_found", message="No such file.")))
        return
    await ports.replies.publish(_content(envelope, message.file_id, sequence, previous or b"", final=True))


def _content(envelope: dict[str, object], file_id: str, sequence: int, data: bytes, *, final: bool) -> FileContentChunk:
    return FileContentChunk(**envelope, file_id=file_id, sequence=sequence,
                            data=base64.b64encode(data).decode(), final=final)
