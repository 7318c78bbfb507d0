"""Topic ``{region}.tuning.files.v1``: an uploaded file's bytes and its lifecycle, gateway -> tuning.

The gateway holds no keys: it streams an upload's bytes here in chunks, in order, and the tuning
service of the region seals each chunk under the file's own data key before storing it. The key
is the **file ID**, not the resource ID: one file's chunks stay ordered on one partition, and two
large uploads of one resource spread over partitions. Every message still names its resource,
and the tuning service scopes every store query by it.

A file's messages, in order: ``chunk`` (sequence 0, 1, ...), then ``completed`` (validate and mark
processed or error) or ``aborted`` (the upload failed: forget the chunks). Later: ``read`` (answer
the content in ``file_content`` replies on the gateway replies topic) and ``delete`` (destroy the
file's data key, then its chunks and record). ``deployment`` carries ``files`` (no deployment).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from contracts.base import Count, Envelope

TOPIC = "{region}.tuning.files.v1"
FILE_ID_PATTERN = r"^file-[0-9a-f]{24}$"
FileId = Annotated[str, StringConstraints(pattern=FILE_ID_PATTERN)]
# 256 KiB of bytes, base64: a chunk stays far below Kafka's 1 MiB message limit.
MAX_CHUNK_BYTES = 256 * 1024
MAX_CHUNK_BASE64 = (MAX_CHUNK_BYTES + 2) // 3 * 4


def key(file_id: str) -> bytes:
    """Partition key: the file ID (one file's chunks in order on one partition)."""
    return file_id.encode()


class FileChunkUploaded(Envelope):
    """One piece of an upload, in order. Customer content."""

    kind: Literal["chunk"] = Field("chunk", description="Discriminator.")
    file_id: FileId = Field(description="The file the bytes belong to.")
    sequence: Count = Field(description="Position of this chunk in the file, from 0.")
    data: str = Field(max_length=MAX_CHUNK_BASE64, description="The chunk's bytes, base64. Customer content.")


class FileUploadCompleted(Envelope):
    """Every chunk was published and the file's record written: seal the end, validate, set status."""

    kind: Literal["completed"] = Field("completed", description="Discriminator.")
    file_id: FileId = Field(description="The uploaded file.")
    chunks: Count = Field(description="How many chunks the file has.")
    bytes: Count = Field(description="The file's size.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the whole file, to check the chunks.")
    purpose: Literal["fine-tune"] = Field(description="What the file is for.")


class FileUploadAborted(Envelope):
    """The upload failed (too large, interrupted, malformed): destroy what was stored of it."""

    kind: Literal["aborted"] = Field("aborted", description="Discriminator.")
    file_id: FileId = Field(description="The file whose upload failed.")
    reason: Literal["too_large", "interrupted", "invalid_form", "store_failed"] = Field(
        description="Why the upload failed.")


class ReadFileContent(Envelope):
    """Answer the file's bytes to the replica in ``reply_to`` as ``file_content`` replies."""

    kind: Literal["read"] = Field("read", description="Discriminator.")
    file_id: FileId = Field(description="The file to read.")


class DeleteFile(Envelope):
    """The owner deleted the file: destroy its data key first, then its chunks and record."""

    kind: Literal["delete"] = Field("delete", description="Discriminator.")
    file_id: FileId = Field(description="The file to delete.")


FileMessage = Annotated[
    FileChunkUploaded | FileUploadCompleted | FileUploadAborted | ReadFileContent | DeleteFile,
    Field(discriminator="kind"),
]
