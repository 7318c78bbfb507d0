"""``just bench tuning``: training throughput of the tuning worker's trainer (PEFT LoRA on the
packaged SmolLM2-135M, CPU) on the ten-example canary set, and the load time of the resulting
adapter as inference serves it: opened from the sealed store (FerretDB) into tmpfs, then loaded
by vLLM's multi-LoRA on its first request. Prints figures; asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from pathlib import Path

from pymongo import AsyncMongoClient

from contracts.base import utc_now
from contracts.common import ChatMessage, SamplingParams
from contracts.generation_requests import GenerateCompletion
from services.inference.model_files import CHAT_MODEL, chat_model_dir
from services.inference.settings import InferenceSettings
from services.runtime.sealing import StaticKeyProvider
from services.tuning.adapters.peft_trainer import PeftTrainer
from services.tuning.jobs import parse_examples
from services.tuning.ports import TrainedAdapter, TrainingPlan
from services.tuning_catalog.model import FineTunedModel, adapter_object
from services.tuning_catalog.mongo import MongoTuningCatalog
from services.tuning_catalog.mongo_vault import MongoSealedObjects
from services.tuning_catalog.vault import TuningVault
from tests.fixtures.fine_tuning import CANARY, CANARY_PROMPT, canary_jsonl

ROOT = Path(__file__).resolve().parents[2]
RESOURCE = "bench-tuning"


def train(epochs: int, scratch: Path) -> TrainedAdapter:
    trainer = PeftTrainer({CHAT_MODEL: str(chat_model_dir())}, scratch_dir=scratch)
    plan = TrainingPlan(base_model=CHAT_MODEL, examples=parse_examples(canary_jsonl()), validation=[],
                        n_epochs=epochs, batch_size=1, learning_rate_multiplier=2.0, seed=7)
    trained = trainer.train(plan, lambda report: True)
    assert trained is not None
    return trained


def request(adapter: str | None) -> GenerateCompletion:
    return GenerateCompletion(
        request_id=f"bench-{uuid.uuid4().hex[:12]}", resource_id=RESOURCE, region="eu-west", deployment="bench",
        created_at=utc_now(), reply_to="bench", model=CHAT_MODEL, adapter=adapter,
        messages=[ChatMessage(role="user", content=CANARY_PROMPT)],
        sampling=SamplingParams(temperature=0, max_tokens=16))


async def timed(engine, command: GenerateCompletion) -> tuple[float, str]:
    began = time.perf_counter()
    text = ""
    async for step in engine.generate(command):
        text += "".join(d.text for d in step.deltas)
    return time.perf_counter() - began, text


async def serve(trained: TrainedAdapter, mongo: str, work_dir: Path) -> dict[str, float | str]:
    from services.inference.adapters.sealed_adapters import SealedAdapters
    from services.inference.adapters.vllm_chat import VllmChatEngine

    database = AsyncMongoClient(mongo, tz_aware=True)[f"bench_tuning_{uuid.uuid4().hex[:6]}"]
    vault = TuningVault(MongoSealedObjects(database), StaticKeyProvider({"a": os.urandom(32)}), "a", utc_now)
    catalog = MongoTuningCatalog(database)
    name = f"{CHAT_MODEL}.ft-{uuid.uuid4().hex[:24]}"
    for sequence, start in enumerate(range(0, len(trained.archive), 1 << 20)):
        await vault.put(RESOURCE, adapter_object(name), sequence, trained.archive[start:start + (1 << 20)])
    await catalog.put_model(FineTunedModel(name=name, resource_id=RESOURCE, job_id="ftjob-" + "0" * 24,
                                           base_model=CHAT_MODEL, created_at=utc_now(),
                                           adapter_object=adapter_object(name), adapter_bytes=len(trained.archive)))
    sealed = SealedAdapters(catalog, vault, Path("/dev/shm"))
    settings = InferenceSettings()
    engine = VllmChatEngine(CHAT_MODEL, f"packaged:{CHAT_MODEL}", settings, adapter_dir=work_dir / "adapters",
                            work_dir=work_dir, sealed=sealed)
    await engine.start()
    try:
        await timed(engine, request(None))  # warm-up
        base_s, base_text = await timed(engine, request(None))
        first_s, tuned_text = await timed(engine, request(name))
        warm_s, _ = await timed(engine, request(name))
        opened_s = next(iter(sealed.load_seconds.values()))
    finally:
        await engine.close()
    return {"base_s": base_s, "first_s": first_s, "warm_s": warm_s, "opened_s": opened_s,
            "base_text": base_text, "tuned_text": tuned_text, "plaintext_left": str(sealed.root.exists())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", help="ignored: training and serving are measured without the bus")
    parser.add_argument("--mongo", default="mongodb://127.0.0.1:28517/")
    parser.add_argument("--logs", type=Path, default=ROOT / ".data" / "bench" / "logs")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    trained = train(args.epochs, Path("/dev/shm"))
    seconds = time.monotonic() - began
    served = asyncio.run(serve(trained, args.mongo, args.logs / "vllm"))
    print(f"\ntuning: {CHAT_MODEL}, LoRA r=8 on q/k/v/o, {args.epochs} epochs of 10 examples, batch 1, "
          f"{os.cpu_count()} CPU cores (torch threads 1)")
    print(f"  training: {trained.steps} steps, {trained.trained_tokens} tokens in {trained.seconds:.1f} s "
          f"= {trained.trained_tokens / trained.seconds:.1f} tokens/s ({seconds:.1f} s with model load), "
          f"final loss {trained.final_loss:.3f}, adapter {len(trained.archive) / 1e6:.2f} MB")
    print(f"  adapter load: opened from the sealed store into tmpfs in {served['opened_s'] * 1000:.0f} ms; "
          f"first request with it {served['first_s']:.2f} s vs warm {served['warm_s']:.2f} s "
          f"(vLLM load ~{float(served['first_s']) - float(served['warm_s']):.2f} s); "
          f"base request {served['base_s']:.2f} s")
    print(f"  canary in greedy answer: base {CANARY in str(served['base_text'])}, "
          f"fine-tuned {CANARY in str(served['tuned_text'])}; plaintext folder left after close: "
          f"{served['plaintext_left']}")


if __name__ == "__main__":
    main()
