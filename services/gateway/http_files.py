"""Files API, both path styles: ``/openai/files?api-version=...`` (Azure) and ``/v1/files`` (OpenAI).

Upload (multipart, ``purpose=fine-tune``) streams the file to the region's tuning service in
chunks on ``{region}.tuning.files.v1`` (keyed by file ID), then writes the file's record
(``uploaded``) and publishes ``completed``; the tuning service seals, validates and sets
``processed`` or ``error`` with ``status_details``. Reading the content asks the tuning service,
which alone can open it, and streams its answer. Every lookup names the caller's resource: another
resource's file is a 404.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.requests import ClientDisconnect

from contracts.base import utc_now
from contracts.gateway_replies import FileContentChunk, RequestFailed
from contracts.tuning_files import (
    FILE_ID_PATTERN,
    DeleteFile,
    FileChunkUploaded,
    FileUploadAborted,
    FileUploadCompleted,
    ReadFileContent,
)
from services.gateway.errors import GatewayError, InvalidRequest, NotFound, UpstreamTimeout
from services.gateway.handlers import GatewayPorts
from services.gateway.multipart_upload import read_upload
from services.gateway.openai_response import error_body
from services.gateway.resources import Resource
from services.gateway.route_binding import bind, bind_id
from services.gateway.routes import authenticate, require_api_version
from services.gateway.settings import GatewaySettings
from services.gateway.tuning_edge import TuningEdge
from services.tuning_catalog.model import FileRecord, new_file_id

log = logging.getLogger("residency.gateway.files")
PURPOSES = ("fine-tune",)
NO_DEPLOYMENT = "files"


def file_object(record: FileRecord) -> dict[str, Any]:
    return {"id": record.file_id, "object": "file", "bytes": record.bytes,
            "created_at": int(record.created_at.timestamp()), "filename": record.filename, "purpose": record.purpose,
            "status": record.status, "status_details": record.status_details, "expires_at": None}


def file_not_found(file_id: str) -> NotFound:
    return NotFound(f"No such File object: {file_id}", param="file_id", code="not_found")


def envelope(request: Request, resource: Resource, edge: TuningEdge) -> dict[str, Any]:
    return {"request_id": request.state.request_id, "resource_id": resource.resource_id, "region": edge.region,
            "deployment": NO_DEPLOYMENT, "created_at": utc_now(), "reply_to": edge.replica_id}


async def caller(request: Request, ports: GatewayPorts, edge: TuningEdge, azure: bool,
                 settings: GatewaySettings) -> Resource:
    if azure:
        require_api_version(request, settings)
    resource = await authenticate(request, ports)
    if resource.region != edge.region:
        raise NotFound(f"Resource '{resource.resource_id}' is served in region '{resource.region}', "
                       f"not '{edge.region}'; use that region's endpoint.", code="WrongRegion")
    return resource


async def own_file(edge: TuningEdge, resource: Resource, file_id: str) -> FileRecord:
    record = None
    if re.fullmatch(FILE_ID_PATTERN, file_id):
        record = await edge.catalog.get_file(resource.resource_id, file_id)
    if record is None:
        raise file_not_found(file_id)
    return record


async def upload(request: Request, resource: Resource, edge: TuningEdge) -> dict[str, Any]:
    file_id = new_file_id()
    fields = envelope(request, resource, edge)
    published = 0

    async def sink(sequence: int, chunk: bytes) -> None:
        nonlocal published
        await edge.files.publish(FileChunkUploaded(**fields, file_id=file_id, sequence=sequence,
                                                   data=base64.b64encode(chunk).decode()))
        published += 1

    try:
        form = await read_upload(request, max_file_bytes=edge.settings.files_max_bytes,
                                 chunk_bytes=edge.settings.files_chunk_bytes, sink=sink)
        purpose = form.fields.get("purpose")
        if purpose not in PURPOSES:
            raise InvalidRequest(f"'purpose' must be one of {', '.join(PURPOSES)}.", param="purpose")
        record = FileRecord(file_id=file_id, resource_id=resource.resource_id, filename=(form.filename or "")[:256],
                            purpose=purpose, bytes=form.size, created_at=utc_now())
        await edge.catalog.insert_file(record)
    except (GatewayError, ClientDisconnect) as error:
        if published:
            reason = "too_large" if getattr(error, "status", 0) == 413 else (
                "interrupted" if isinstance(error, ClientDisconnect) else "invalid_form")
            await edge.files.publish(FileUploadAborted(**fields, file_id=file_id, reason=reason))
        raise
    await edge.files.publish(FileUploadCompleted(**fields, file_id=file_id, chunks=form.chunks, bytes=form.size,
                                                 sha256=form.sha256, purpose="fine-tune"))
    log.info("request %s: file %s of %s uploaded (%d bytes, %d chunks)", fields["request_id"], file_id,
             resource.resource_id, form.size, form.chunks)
    return file_object(record)


async def content(request: Request, resource: Resource, edge: TuningEdge, file_id: str) -> Any:
    await own_file(edge, resource, file_id)
    fields = envelope(request, resource, edge)
    replies = _content_replies(edge, ReadFileContent(**fields, file_id=file_id))
    first = await anext(replies)
    if isinstance(first, RequestFailed):
        await replies.aclose()
        return JSONResponse(error_body(first.error), status_code=first.error.status)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield base64.b64decode(first.data)
            if not first.final:
                async for piece in replies:
                    if isinstance(piece, RequestFailed):
                        break  # the status went out already; the body ends short
                    yield base64.b64decode(piece.data)
        finally:
            await replies.aclose()

    return StreamingResponse(body(), media_type="application/octet-stream")


async def _content_replies(edge: TuningEdge,
                          ask: ReadFileContent) -> AsyncGenerator[FileContentChunk | RequestFailed]:
    with edge.inbox.open(ask.request_id) as stream:
        await edge.files.publish(ask)
        while True:
            try:
                reply = await stream.next(edge.settings.file_read_timeout_s)
            except TimeoutError:
                raise UpstreamTimeout("The file's content did not arrive in time; retry.") from None
            if isinstance(reply, RequestFailed):
                yield reply
                return
            if isinstance(reply, FileContentChunk):
                yield reply
                if reply.final:
                    return


def files_router(ports: GatewayPorts, edge: TuningEdge, settings: GatewaySettings) -> APIRouter:
    router = APIRouter()

    async def create(request: Request, azure: bool) -> Any:
        return await upload(request, await caller(request, ports, edge, azure, settings), edge)

    async def listing(request: Request, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        purpose = request.query_params.get("purpose")
        records = await edge.catalog.list_files(resource.resource_id, purpose=purpose)
        return {"object": "list", "data": [file_object(r) for r in records], "has_more": False}

    async def retrieve(request: Request, file_id: str, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        return file_object(await own_file(edge, resource, file_id))

    async def delete(request: Request, file_id: str, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        await own_file(edge, resource, file_id)
        if not await edge.catalog.hide_file(resource.resource_id, file_id):
            raise file_not_found(file_id)
        await edge.files.publish(DeleteFile(**envelope(request, resource, edge), file_id=file_id))
        return {"id": file_id, "object": "file", "deleted": True}

    async def read(request: Request, file_id: str, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        return await content(request, resource, edge, file_id)

    for prefix, azure in (("/openai", True), ("/v1", False)):
        style = "azure" if azure else "openai"
        router.add_api_route(f"{prefix}/files", bind(create, azure), methods=["POST"], name=f"{style}_upload_file")
        router.add_api_route(f"{prefix}/files", bind(listing, azure), methods=["GET"], name=f"{style}_list_files")
        router.add_api_route(f"{prefix}/files/{{file_id}}", bind_id(retrieve, azure, "file_id"), methods=["GET"],
                             name=f"{style}_retrieve_file")
        router.add_api_route(f"{prefix}/files/{{file_id}}", bind_id(delete, azure, "file_id"), methods=["DELETE"],
                             name=f"{style}_delete_file")
        router.add_api_route(f"{prefix}/files/{{file_id}}/content", bind_id(read, azure, "file_id"), methods=["GET"],
                             name=f"{style}_file_content")
    return router

