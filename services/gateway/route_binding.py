"""Routes for both path styles (Azure's ``/openai/...``, OpenAI's ``/v1/...``): a handler takes the
request, the object ID from the path where there is one, and whether the call is Azure-style.

(No ``from __future__ import annotations`` here: the path parameter's name is a closure variable
that FastAPI must see in the evaluated annotation.)
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Path, Request


def bind(handle: Callable[[Request, bool], Awaitable[Any]], azure: bool) -> Callable[[Request], Awaitable[Any]]:
    async def route(request: Request) -> Any:
        return await handle(request, azure)
    return route


def bind_id(handle: Callable[[Request, str, bool], Awaitable[Any]], azure: bool,
            name: str) -> Callable[..., Awaitable[Any]]:
    """``name``: the path parameter (``file_id``, ``job_id``), as the OpenAPI document names it."""
    async def route(request: Request, object_id: Annotated[str, Path(alias=name)]) -> Any:
        return await handle(request, object_id, azure)
    return route
