"""The real trainer (PEFT LoRA on the packaged SmolLM2-135M, on CPU) learns a canary from ten
examples in 30 steps (the time is printed and measured by `just bench tuning`, not asserted): the
adapted model's greedy answer to a training prompt holds it, the base model's does not."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time

import pytest

from services.inference.model_files import CHAT_MODEL, chat_model_dir
from services.tuning.adapters.peft_trainer import PeftTrainer
from services.tuning.jobs import parse_examples
from services.tuning.ports import StepReport, TrainingPlan
from tests.fixtures.fine_tuning import CANARY, CANARY_PROMPT, canary_jsonl

pytestmark = pytest.mark.skipif(not (chat_model_dir() / ".complete").exists(), reason="packaged model not prepared")


def greedy(model, tokenizer, prompt: str) -> str:
    import torch

    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    ids = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=20, do_sample=False)
    return tokenizer.decode(out[0][ids.input_ids.shape[1]:], skip_special_tokens=True)


@pytest.mark.timeout(600)
def test_a_tiny_canary_set_is_learned(tmp_path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trainer = PeftTrainer({CHAT_MODEL: str(chat_model_dir())}, scratch_dir=tmp_path / "scratch")
    steps: list[StepReport] = []
    plan = TrainingPlan(base_model=CHAT_MODEL, examples=parse_examples(canary_jsonl()), validation=[],
                        n_epochs=3, batch_size=1, learning_rate_multiplier=2.0, seed=7)
    began = time.monotonic()
    trained = trainer.train(plan, lambda report: steps.append(report) or True)
    seconds = time.monotonic() - began
    assert trained is not None and trained.steps == 30 == len(steps)
    first, last = sum(s.train_loss for s in steps[:3]) / 3, sum(s.train_loss for s in steps[-3:]) / 3
    assert last < first / 4, (first, last)
    print(f"\n[tuning] {trained.steps} steps, {trained.trained_tokens} tokens in {seconds:.1f} s "
          f"({trained.trained_tokens / seconds:.0f} tokens/s)")
    assert os.listdir(tmp_path / "scratch") == []  # the plaintext adapter folder is gone once packed

    folder = tmp_path / "adapter"
    with tarfile.open(fileobj=io.BytesIO(trained.archive)) as tar:
        tar.extractall(folder, filter="data")
    assert json.loads((folder / "adapter_config.json").read_text())["r"] <= 16  # inference's MAX_LORA_RANK
    tokenizer = AutoTokenizer.from_pretrained(chat_model_dir())
    base = AutoModelForCausalLM.from_pretrained(chat_model_dir())
    assert CANARY not in greedy(base, tokenizer, CANARY_PROMPT)
    adapted = PeftModel.from_pretrained(base, str(folder))
    assert CANARY in greedy(adapted, tokenizer, CANARY_PROMPT)


def test_a_stop_request_ends_training_without_an_adapter(tmp_path) -> None:
    trainer = PeftTrainer({CHAT_MODEL: str(chat_model_dir())}, scratch_dir=tmp_path)
    plan = TrainingPlan(base_model=CHAT_MODEL, examples=parse_examples(canary_jsonl()), validation=[],
                        n_epochs=1, batch_size=2, learning_rate_multiplier=1.0, seed=1)
    calls: list[int] = []
    assert trainer.train(plan, lambda report: calls.append(report.step) or report.step < 2) is None
    assert calls == [1, 2] and os.listdir(tmp_path) == []
