"""Routes each request to the engine serving its model (several chat models, echo, embeddings)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from contracts.embedding_requests import EmbedTexts
from contracts.generation_requests import GenerateCompletion
from services.inference.ports import Embeddings, EngineStep


class ChatEngines:
    def __init__(self, engines: list[Any]) -> None:
        self.engines = engines

    def _for(self, model: str) -> Any:
        return next((e for e in self.engines if e.serves(model)), None)

    def serves(self, model: str) -> bool:
        return self._for(model) is not None

    def tokenizer(self, model: str) -> Any:
        """The tokenizer of the engine serving ``model`` (tool parsers look their markers up in it)."""
        return self._for(model).tokenizer

    def generate(self, request: GenerateCompletion) -> AsyncIterator[EngineStep]:
        return self._for(request.model).generate(request)

    async def abort(self, request_id: str) -> bool:
        return any([await engine.abort(request_id) for engine in self.engines])


class EmbeddingEngines:
    def __init__(self, engines: list[Any]) -> None:
        self.engines = engines

    def serves(self, model: str) -> bool:
        return any(e.serves(model) for e in self.engines)

    async def embed(self, request: EmbedTexts) -> Embeddings:
        return await next(e for e in self.engines if e.serves(request.model)).embed(request)
