"""A multipart/form-data upload read as it arrives: the file part is handed on in fixed-size
chunks and never held whole (at most one chunk plus one network read stay in memory).

The form has a ``file`` part (with a filename) and small text fields (``purpose``); text fields
are capped at ``MAX_FIELD_BYTES``, the file at ``max_file_bytes`` (refused as soon as it passes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from services.gateway.errors import InvalidRequest, PayloadTooLarge

MAX_FIELD_BYTES = 1024
FORM_OVERHEAD_BYTES = 64 * 1024  # headers and text fields around the file
ChunkSink = Callable[[int, bytes], Awaitable[None]]


@dataclass
class UploadedForm:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    size: int = 0
    chunks: int = 0
    sha256: str = ""


@dataclass
class _Part:
    name: str | None = None
    filename: str | None = None
    text: bytearray = field(default_factory=bytearray)


class _FormReader:
    """python-multipart's callbacks, gathered between writes; the async side drains them."""

    def __init__(self, max_file_bytes: int, chunk_bytes: int) -> None:
        self.form = UploadedForm()
        self._max_file_bytes = max_file_bytes
        self._chunk_bytes = chunk_bytes
        self._part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._digest = hashlib.sha256()
        self.pending = bytearray()  # file bytes not yet handed on
        self.file_parts = 0

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end,
                "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
                "on_header_end": self._header_end, "on_headers_finished": self._headers_finished}

    def _begin(self) -> None:
        self._part = _Part()
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).decode("latin-1").lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        self._part.name = options.get(b"name", b"").decode("utf-8", "replace") or None
        filename = options.get(b"filename")
        self._part.filename = None if filename is None else filename.decode("utf-8", "replace")
        if self._part.name == "file":
            self.file_parts += 1
            if self.file_parts > 1:
                raise InvalidRequest("The form has more than one file.", param="file")
            self.form.filename = self._part.filename or "file.jsonl"

    def _data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if self._part.name == "file":
            self.form.size += len(piece)
            if self.form.size > self._max_file_bytes:
                raise PayloadTooLarge(f"The file exceeds {self._max_file_bytes} bytes, the upload limit.")
            self._digest.update(piece)
            self.pending += piece
        else:
            self._part.text += piece
            if len(self._part.text) > MAX_FIELD_BYTES:
                raise InvalidRequest(f"The form field '{self._part.name}' is too long.", param=self._part.name)

    def _end(self) -> None:
        if self._part.name and self._part.name != "file":
            self.form.fields[self._part.name] = self._part.text.decode("utf-8", "replace").strip()

    def ready_chunks(self, final: bool) -> list[bytes]:
        out = []
        while len(self.pending) >= self._chunk_bytes or (final and self.pending):
            out.append(bytes(self.pending[:self._chunk_bytes]))
            del self.pending[:self._chunk_bytes]
        return out

    def finish(self) -> UploadedForm:
        self.form.sha256 = self._digest.hexdigest()
        return self.form


def boundary_of(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InvalidRequest("Upload files as multipart/form-data with a 'file' and a 'purpose' field.",
                             param="file", code="invalid_content_type")
    return boundary


async def read_upload(request: Request, *, max_file_bytes: int, chunk_bytes: int, sink: ChunkSink) -> UploadedForm:
    """Streams the file part to ``sink(sequence, chunk)``; raises a 4xx GatewayError for a bad form."""
    declared = request.headers.get("content-length")
    limit = max_file_bytes + FORM_OVERHEAD_BYTES
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The upload exceeds {max_file_bytes} bytes, the upload limit.")
    reader = _FormReader(max_file_bytes, chunk_bytes)
    parser = MultipartParser(boundary_of(request), reader.callbacks())  # type: ignore[arg-type]
    async for data in request.stream():
        try:
            parser.write(data)
        except MultipartParseError:
            raise InvalidRequest("The multipart form is malformed.", param="file", code="invalid_form") from None
        for chunk in reader.ready_chunks(final=False):
            await sink(reader.form.chunks, chunk)
            reader.form.chunks += 1
    parser.finalize()
    for chunk in reader.ready_chunks(final=True):
        await sink(reader.form.chunks, chunk)
        reader.form.chunks += 1
    if reader.file_parts != 1:
        raise InvalidRequest("The form has no 'file' part.", param="file")
    return reader.finish()
