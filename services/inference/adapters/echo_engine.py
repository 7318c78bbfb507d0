"""A deterministic engine with no model, for the walking skeleton and the bus benchmark.

It answers with the last user message, word by word, and counts whitespace-separated words as
tokens. It is not a language model; the vLLM adapter replaces it (issue: inference).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from contracts.generation_requests import GenerateCompletion
from services.inference.ports import ChoiceDelta, EngineStep


class WordTokenizer:
    """What the echo engine has for a tokenizer: words, no vocabulary. Tool parsers that read text
    (hermes) work with it; those that look their markers up in a vocabulary do not."""

    def get_vocab(self) -> dict[str, int]:
        return {}

    def encode(self, text: str) -> list[int]:
        return list(range(len(text.split())))


class EchoEngine:
    tokenizer = WordTokenizer()

    def __init__(self, models: list[str], *, delay_per_token_s: float = 0.0) -> None:
        self._models = set(models)
        self._delay = delay_per_token_s
        self._aborted: set[str] = set()
        self._running: set[str] = set()

    async def start(self) -> None:
        """Nothing to load."""

    async def close(self) -> None:
        """Nothing to release."""

    def serves(self, model: str) -> bool:
        return model in self._models

    async def abort(self, request_id: str) -> bool:
        if request_id in self._running:
            self._aborted.add(request_id)
            return True
        return False

    async def generate(self, request: GenerateCompletion) -> AsyncIterator[EngineStep]:
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        words = f"You said: {last_user}".split()
        limit = request.sampling.max_tokens or len(words)
        n = request.sampling.n
        self._running.add(request.request_id)
        try:
            for position, word in enumerate(words[:limit]):
                if request.request_id in self._aborted:
                    yield EngineStep(tuple(ChoiceDelta(i, "", "abort") for i in range(n)),
                                     prompt_words, position * n)
                    return
                if self._delay:
                    await asyncio.sleep(self._delay)
                last = position == min(limit, len(words)) - 1
                reason = None if not last else ("length" if limit < len(words) else "stop")
                text = word if position == 0 else " " + word
                yield EngineStep(tuple(ChoiceDelta(i, text, reason) for i in range(n)),
                                 prompt_words, (position + 1) * n)
            if not words:
                yield EngineStep(tuple(ChoiceDelta(i, "", "stop") for i in range(n)), prompt_words, 0)
        finally:
            self._running.discard(request.request_id)
            self._aborted.discard(request.request_id)
