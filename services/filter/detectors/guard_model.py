"""A guard model (Llama Guard 3 style) as one more layer, chosen by configuration.

``RESIDENCY_FILTER_LAYERS`` naming ``guard`` adds ``GuardModelDetector``; ``GUARD_MODEL_PATH`` names
the model folder. The detector asks the model whether a user prompt or an assistant reply is safe
and maps the hazard codes it answers (``unsafe\\nS1,S10``) to Azure's categories and, for a user
prompt, to ``harmful_request`` (``high`` when unsafe, with the first code's hazard); an answer it
cannot parse, or a time-out, is a detector failure, judged by the policy (fail open or closed).

``VllmGuardClient`` runs the model in this process on vLLM's ``AsyncLLM`` (a GPU node in practice).
It is written against the same vLLM API the inference service uses but has NOT been run here: no
guard model ships in a package this machine can install. The parsing and mapping are unit-tested
with a fake client. A client that sends the check over Kafka to a guard deployment of the
inference service would implement the same ``GuardClient`` port.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Protocol

from services.filter.errors import DetectorFailed
from services.filter.policy import EffectivePolicy, Severity
from services.filter.ports import Findings, TextKind

if TYPE_CHECKING:
    from vllm.tokenizers import TokenizerLike

# Llama Guard 3 hazard taxonomy -> (Azure category, severity given to an "unsafe" verdict)
HAZARDS: dict[str, tuple[str, Severity]] = {
    "S1": ("violence", "medium"),  # violent crimes
    "S3": ("sexual", "medium"),  # sex-related crimes
    "S4": ("sexual", "high"),  # child sexual exploitation
    "S9": ("violence", "high"),  # indiscriminate weapons
    "S10": ("hate", "medium"),
    "S11": ("self_harm", "medium"),
    "S12": ("sexual", "medium"),  # sexual content
}
CATEGORIES = ("hate", "sexual", "violence", "self_harm")
# Llama Guard 3 code -> Residency's hazard (services/filter/hazards.py), for harmful_request on user prompts
HAZARD_NAMES = {"S1": "violent_crimes", "S2": "non_violent_crimes", "S3": "sex_crimes", "S4": "child_exploitation",
                "S5": "defamation", "S6": "specialized_advice", "S7": "privacy", "S8": "intellectual_property",
                "S9": "weapons", "S10": "hate", "S11": "self_harm", "S12": "sexual_content", "S13": "elections",
                "S14": "cyber_crimes"}


class GuardClient(Protocol):
    async def classify(self, conversation: list[dict[str, str]]) -> str:
        """The guard model's raw answer for a conversation whose last turn is to be judged."""
        ...


def parse_verdict(answer: str) -> dict[str, Severity]:
    """'safe' or 'unsafe\\nS1,S10' -> severity per category (categories not named are safe)."""
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    if not lines or lines[0].lower() not in ("safe", "unsafe"):
        raise DetectorFailed("guard model answer not understood")
    severities: dict[str, Severity] = dict.fromkeys(CATEGORIES, "safe")
    if lines[0].lower() == "unsafe":
        codes = [c.strip().upper() for c in (lines[1] if len(lines) > 1 else "").split(",") if c.strip()]
        for code in codes:
            if code in HAZARDS:
                category, severity = HAZARDS[code]
                if severity == "high" or severities[category] == "safe":
                    severities[category] = severity
    return severities


def first_hazard(answer: str) -> str | None:
    """The Residency hazard of the first Llama Guard code in an 'unsafe' answer (None when safe or unknown)."""
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    if len(lines) < 2 or lines[0].lower() != "unsafe":
        return None
    codes = [c.strip().upper() for c in lines[1].split(",") if c.strip()]
    return next((HAZARD_NAMES[c] for c in codes if c in HAZARD_NAMES), None)


class GuardModelDetector:
    name = "guard"

    def __init__(self, client: GuardClient, timeout_s: float = 5.0) -> None:
        self.client, self.timeout_s = client, timeout_s

    def wanted(self, kind: TextKind, policy: EffectivePolicy) -> bool:
        return kind in ("prompt", "completion")

    async def detect(self, text: str, kind: TextKind, policy: EffectivePolicy) -> Findings:
        conversation = ([{"role": "user", "content": text}] if kind == "prompt" else
                        [{"role": "user", "content": "(not shown)"}, {"role": "assistant", "content": text}])
        try:
            answer = await asyncio.wait_for(self.client.classify(conversation), self.timeout_s)
        except TimeoutError as timeout:
            raise DetectorFailed("guard model timed out") from timeout
        severities = parse_verdict(answer)
        if kind != "prompt":
            return Findings(severities=severities)
        hazard = first_hazard(answer)
        # An unsafe user turn is a harmful request whatever its hazard; a safe one says nothing more.
        severities["harmful_request"] = "high" if answer.strip().lower().startswith("unsafe") else "safe"
        return Findings(severities=severities, hazard=hazard)


class VllmGuardClient:
    """The guard model on vLLM's AsyncLLM in this process (unverified here: see module docstring)."""

    def __init__(self, model_path: str, *, max_model_len: int = 4096, enforce_eager: bool = True) -> None:
        from vllm import AsyncEngineArgs, SamplingParams  # heavy: imported only when configured
        from vllm.v1.engine.async_llm import AsyncLLM

        self._engine = AsyncLLM.from_engine_args(AsyncEngineArgs(
            model=model_path, max_model_len=max_model_len, enforce_eager=enforce_eager, disable_log_stats=True))
        self._sampling = SamplingParams(temperature=0.0, max_tokens=12)
        self._tokenizer: TokenizerLike | None = None

    async def classify(self, conversation: list[dict[str, str]]) -> str:
        if self._tokenizer is None:
            self._tokenizer = self._engine.get_tokenizer()  # synchronous, as in the inference service
        # vLLM types messages as an invariant list of its own TypedDicts; role/content dicts are what it reads.
        prompt = self._tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=True)  # type: ignore[arg-type]
        answer = ""
        async for output in self._engine.generate(prompt, self._sampling, request_id=f"guard-{uuid.uuid4().hex}"):
            answer = output.outputs[0].text
        return answer
