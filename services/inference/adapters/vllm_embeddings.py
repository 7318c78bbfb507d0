"""An embedding model on vLLM's pooling runner (``AsyncLLM.encode``)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from contracts.embedding_requests import EmbedTexts
from services.inference.adapters.vllm_setup import EngineHolder, engine_args, prepare_environment, resolve_model
from services.inference.errors import EngineUnavailable, InvalidGenerationRequest
from services.inference.ports import Embeddings
from services.inference.settings import EngineOptions

log = logging.getLogger("residency.inference.engine")


class VllmEmbeddingEngine:
    def __init__(self, name: str, model: str, options: EngineOptions, *, work_dir: Path) -> None:
        self.name = name
        self._model = model
        self._work_dir = work_dir
        self._options = options
        self._holder = EngineHolder(name, self._build)

    def _build(self) -> Any:
        from vllm.v1.engine.async_llm import AsyncLLM

        prepare_environment(self._options, self._work_dir)
        model_dir = resolve_model(self._model)
        return AsyncLLM.from_engine_args(engine_args(model_dir, self._options, pooling=True))

    async def start(self) -> None:
        await self._holder.start()

    async def close(self) -> None:
        await self._holder.close()

    def serves(self, model: str) -> bool:
        return model == self.name

    async def _one(self, engine: Any, text: str, request_id: str, dimensions: int | None) -> tuple[list[float], int]:
        from vllm import PoolingParams

        output: Any = None
        # Only the last output, the finished vector, is wanted.
        async for output in engine.encode(text, PoolingParams(task="embed", dimensions=dimensions),  # noqa: B007
                                                request_id=request_id):
            pass
        return output.outputs.data.tolist(), len(output.prompt_token_ids)

    async def embed(self, request: EmbedTexts) -> Embeddings:
        from vllm.exceptions import VLLMValidationError
        from vllm.v1.engine.exceptions import EngineDeadError

        engine = self._holder.engine
        if engine is None:
            raise EngineUnavailable(f"engine {self.name} is restarting")
        try:
            results = await asyncio.gather(*(self._one(engine, text, f"{request.request_id}-{i}", request.dimensions)
                                              for i, text in enumerate(request.inputs)))
        except EngineDeadError:
            self._holder.restart()
            raise EngineUnavailable(f"engine {self.name} died") from None
        except (VLLMValidationError, ValueError) as error:
            param = "dimensions" if "dimension" in str(error).lower() else "input"
            raise InvalidGenerationRequest(str(error).split("\n")[0], param=param) from None
        return Embeddings(vectors=[v for v, _ in results], prompt_tokens=sum(n for _, n in results))
