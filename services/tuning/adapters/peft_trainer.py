"""LoRA training with PEFT on a Hugging Face base model, on CPU (or whatever torch has).

The loss counts only the tokens of assistant turns the file marks to learn (``weight`` 1, the
default); system and user turns are context. Examples are shuffled by the job's seed, batches
padded on the right. The adapter (rank 8 on the attention projections, within inference's
``MAX_LORA_RANK``) is written to a private folder under ``scratch_dir`` (tmpfs), packed as a tar
in memory and the folder removed: the caller seals the tar.
"""

from __future__ import annotations

import io
import math
import os
import random
import tarfile
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.tuning.errors import TrainingFailed
from services.tuning.ports import StepCallback, StepReport, TrainedAdapter, TrainingMessage, TrainingPlan

BASE_LEARNING_RATE = 1e-3
LORA_RANK = 8
LORA_ALPHA = 16
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")


class PeftTrainer:
    def __init__(self, base_models: Mapping[str, str], *, scratch_dir: Path, threads: int = 1,
                 max_tokens: int = 512) -> None:
        self._base_models = dict(base_models)
        self._scratch_dir = scratch_dir
        self._threads = threads
        self._max_tokens = max_tokens

    def train(self, plan: TrainingPlan, on_step: StepCallback) -> TrainedAdapter | None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = self._base_models.get(plan.base_model)
        if folder is None or not Path(folder).is_dir():
            raise TrainingFailed(f"the base model {plan.base_model!r} is not available to this worker")
        began = time.monotonic()
        torch.manual_seed(plan.seed)
        torch.set_num_threads(self._threads)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        model = get_peft_model(base, LoraConfig(r=LORA_RANK, lora_alpha=LORA_ALPHA, lora_dropout=0.0,
                                                target_modules=list(TARGET_MODULES), task_type="CAUSAL_LM"))
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        examples = [encode(tokenizer, e, self._max_tokens) for e in plan.examples]
        examples = [e for e in examples if any(label != -100 for label in e[1])]
        if not examples:
            raise TrainingFailed("no example has assistant tokens to learn within the token limit")
        optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                      lr=BASE_LEARNING_RATE * plan.learning_rate_multiplier)
        order = random.Random(plan.seed)
        steps_per_epoch = math.ceil(len(examples) / plan.batch_size)
        total = steps_per_epoch * plan.n_epochs
        step, tokens, loss_value = 0, 0, float("nan")
        model.train()
        for _ in range(plan.n_epochs):
            shuffled = examples[:]
            order.shuffle(shuffled)
            for start in range(0, len(shuffled), plan.batch_size):
                batch = shuffled[start:start + plan.batch_size]
                ids, mask, labels = _pad(torch, batch, pad)
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
                loss.backward()
                optimiser.step()
                optimiser.zero_grad()
                step += 1
                tokens += int(mask.sum())
                loss_value = float(loss.detach())
                if not on_step(StepReport(step=step, total_steps=total, train_loss=loss_value, tokens=tokens)):
                    return None
        model.eval()
        valid_loss = _mean_loss(torch, model, [encode(tokenizer, e, self._max_tokens) for e in plan.validation], pad)
        archive = self._pack(model)
        return TrainedAdapter(archive=archive, steps=step, trained_tokens=tokens, final_loss=loss_value,
                              valid_loss=valid_loss, seconds=time.monotonic() - began)

    def _pack(self, model: Any) -> bytes:
        self._scratch_dir.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory(prefix="residency-adapter-", dir=self._scratch_dir) as folder:
            os.chmod(folder, 0o700)
            model.save_pretrained(folder)
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                for name in ("adapter_config.json", "adapter_model.safetensors"):
                    tar.add(os.path.join(folder, name), arcname=name)
        return buffer.getvalue()


def encode(tokenizer: Any, messages: list[TrainingMessage], max_tokens: int) -> tuple[list[int], list[int]]:
    """Token IDs and labels (-100 outside the assistant turns to learn) of one example."""
    chat = [{"role": m.role, "content": m.content} for m in messages]
    ids = _ids(tokenizer.apply_chat_template(chat, tokenize=True))
    labels = [-100] * len(ids)
    for index, message in enumerate(messages):
        if message.role != "assistant" or not message.learn:
            continue
        start = len(_ids(tokenizer.apply_chat_template(chat[:index], tokenize=True, add_generation_prompt=True)))
        end = len(_ids(tokenizer.apply_chat_template(chat[:index + 1], tokenize=True)))
        labels[start:end] = ids[start:end]
    return ids[:max_tokens], labels[:max_tokens]


def _ids(rendered: Any) -> list[int]:
    ids = rendered["input_ids"] if isinstance(rendered, Mapping) or hasattr(rendered, "keys") else rendered
    return list(ids)


def _pad(torch: Any, batch: list[tuple[list[int], list[int]]], pad: int) -> tuple[Any, Any, Any]:
    width = max(len(ids) for ids, _ in batch)
    ids = torch.tensor([i + [pad] * (width - len(i)) for i, _ in batch])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in batch])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
    return ids, mask, labels


def _mean_loss(torch: Any, model: Any, examples: list[tuple[list[int], list[int]]], pad: int) -> float | None:
    scored = [e for e in examples if any(label != -100 for label in e[1])]
    if not scored:
        return None
    losses = []
    with torch.no_grad():
        for example in scored:
            ids, mask, labels = _pad(torch, [example], pad)
            losses.append(float(model(input_ids=ids, attention_mask=mask, labels=labels).loss))
    return sum(losses) / len(losses)
