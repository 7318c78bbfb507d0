"""An embedding model on vLLM's pooling runner (``AsyncLLM.encode``)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from contracts.embedding_requests import EmbedTexts
from services.inference.adapters.vllm_setup import engine_args, prepare_environment, resolve_model
from services.inference.errors import InvalidGenerationRequest
from services.inference.ports import Embeddings
from services.inference.settings import EngineOptions

log = logging.getLogger("residency.inference.engine")


class VllmEmbeddingEngine:
    def __init__(self, name: str, model: str, options: EngineOptions, *, work_dir: Path) -> None:
        self.name = name
        self._model = model
        self._work_dir = work_dir
        self._options = options
        self._engine: Any = None

    async def start(self) -> None:
        from vllm.v1.engine.async_llm import AsyncLLM

        prepare_environment(self._options, self._work_dir)
        model_dir = resolve_model(self._model)
        self._engine = AsyncLLM.from_engine_args(engine_args(model_dir, self._options, pooling=True))
        log.info("embedding engine %s started", self.name)

    async def close(self) -> None:
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None

    def serves(self, model: str) -> bool:
        return model == self.name

    async def _one(self, text: str, request_id: str, dimensions: int | None) -> tuple[list[float], int]:
        from vllm import PoolingParams

        output = None
        async for output in self._engine.encode(text, PoolingParams(task="embed", dimensions=dimensions),
                                                request_id=request_id):
            pass
        return output.outputs.data.tolist(), len(output.prompt_token_ids)

    async def embed(self, request: EmbedTexts) -> Embeddings:
        from vllm.exceptions import VLLMValidationError

        try:
            results = await asyncio.gather(*(self._one(text, f"{request.request_id}-{i}", request.dimensions)
                                              for i, text in enumerate(request.inputs)))
        except (VLLMValidationError, ValueError) as error:
            param = "dimensions" if "dimension" in str(error).lower() else "input"
            raise InvalidGenerationRequest(str(error).split("\n")[0], param=param) from None
        return Embeddings(vectors=[v for v, _ in results], prompt_tokens=sum(n for _, n in results))
