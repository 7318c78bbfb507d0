"""Filter handlers with a scripted content screen: what the caller and the engine receive."""

from __future__ import annotations

from contracts.common import ApiError, Usage
from contracts.gateway_replies import CompletionReady, PromptScreened, RequestFailed
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_events import CompletionGenerated, GeneratedChoice
from contracts.generation_requests import GenerateCompletion
from contracts.prompt_submissions import PromptSubmitted
from services.filter.adapters.stopped_choices import InMemoryStoppedChoices
from services.filter.handlers import FilterPorts, screen_generation, screen_prompt
from services.filter.ports import ScreenVerdict
from tests.unit.builders import MODEL, REPLY_TO, REQUEST_ID, RESOURCE_ID, Recorder, chat, envelope, sampling

SAFE = {"hate": {"filtered": False, "severity": "safe"}, "violence": {"filtered": False, "severity": "safe"}}
VIOLENT = {"hate": {"filtered": False, "severity": "safe"}, "violence": {"filtered": True, "severity": "high"}}


class ScriptedScreen:
    """Blocks any text containing one of ``blocked_words``; records what it was asked to screen."""

    def __init__(self, *blocked_words: str) -> None:
        self.blocked_words = blocked_words
        self.screened: list[str] = []

    def _verdict(self, text: str) -> ScreenVerdict:
        self.screened.append(text)
        if any(word in text for word in self.blocked_words):
            return ScreenVerdict(blocked=True, results=VIOLENT)
        return ScreenVerdict(blocked=False, results=SAFE)

    async def screen_prompt(self, submission: PromptSubmitted) -> ScreenVerdict:
        return self._verdict("\n".join(m.content for m in submission.messages))

    async def screen_completion(self, resource_id: str, deployment: str, text: str) -> ScreenVerdict:
        return self._verdict(text)


def filter_ports(screen: ScriptedScreen) -> tuple[FilterPorts, list]:
    timeline: list = []
    ports = FilterPorts(screen=screen, generation=Recorder("generation", timeline),
                        cancellations=Recorder("cancellations", timeline), replies=Recorder("replies", timeline),
                        stopped=InMemoryStoppedChoices())
    return ports, timeline


def submission(text: str) -> PromptSubmitted:
    return PromptSubmitted(**envelope(), model=MODEL, messages=chat(("system", "Be kind."), ("user", text)),
                           sampling=sampling(max_tokens=64, n=2), stream=True, end_user="user-42")


def generated(*texts: str, final: bool, sequence: int = 3, error: ApiError | None = None) -> CompletionGenerated:
    reason = "stop" if final else None
    return CompletionGenerated(
        **envelope(), sequence=sequence, final=final, model=MODEL, error=error,
        choices=[GeneratedChoice(index=i, text=t, finish_reason=reason) for i, t in enumerate(texts)],
        usage=Usage(prompt_tokens=7, completion_tokens=9, total_tokens=16) if final else None)


async def test_allowed_prompt_is_annotated_then_sent_to_generation():
    ports, timeline = filter_ports(ScriptedScreen("attack"))
    prompt = submission("How do I bake bread?")
    await screen_prompt(prompt, ports)

    assert [name for name, _ in timeline] == ["replies", "generation"]
    screened, command = timeline[0][1], timeline[1][1]
    assert isinstance(screened, PromptScreened)
    assert [a.content_filter_results for a in screened.prompt_filter_results] == [SAFE]
    assert isinstance(command, GenerateCompletion)
    assert (command.request_id, command.resource_id, command.region, command.reply_to) == (
        REQUEST_ID, RESOURCE_ID, prompt.region, REPLY_TO)
    assert command.model == MODEL and command.messages == prompt.messages
    assert command.sampling == prompt.sampling and command.stream is True


async def test_blocked_prompt_fails_the_request_and_never_reaches_generation():
    ports, timeline = filter_ports(ScriptedScreen("attack"))
    await screen_prompt(submission("Plan an attack on my neighbour"), ports)

    assert [name for name, _ in timeline] == ["replies"]
    failed = timeline[0][1]
    assert isinstance(failed, RequestFailed)
    assert (failed.request_id, failed.reply_to) == (REQUEST_ID, REPLY_TO)
    error = failed.error
    assert (error.status, error.code, error.param) == (400, "content_filter", "prompt")
    assert error.innererror == {"code": "ResponsibleAIPolicyViolation", "content_filter_result": VIOLENT}
    assert "attack" not in error.message


async def test_generation_error_is_passed_to_the_caller():
    ports, timeline = filter_ports(ScriptedScreen("attack"))
    error = ApiError(status=404, code="DeploymentNotFound", message="The model is not served here.")
    await screen_generation(generated(final=True, sequence=0, error=error), ports)

    assert [name for name, _ in timeline] == ["replies"]
    failed = timeline[0][1]
    assert isinstance(failed, RequestFailed) and failed.error == error
    assert failed.request_id == REQUEST_ID


async def test_clean_chunk_is_passed_on_with_annotations():
    ports, timeline = filter_ports(ScriptedScreen("attack"))
    await screen_generation(generated("Knead the", " dough", final=False), ports)

    assert [name for name, _ in timeline] == ["replies"]
    ready = timeline[0][1]
    assert isinstance(ready, CompletionReady) and (ready.sequence, ready.final) == (3, False)
    assert [(c.index, c.text, c.finish_reason, c.content_filter_results) for c in ready.choices] == [
        (0, "Knead the", None, SAFE), (1, " dough", None, SAFE)]


async def test_blocked_chunk_is_cut_and_its_generation_cancelled():
    ports, timeline = filter_ports(ScriptedScreen("attack"))
    await screen_generation(generated("Sure, the attack", "I cannot help", final=False), ports)

    assert [name for name, _ in timeline] == ["replies", "cancellations"]
    ready, cancel = timeline[0][1], timeline[1][1]
    assert isinstance(ready, CompletionReady) and not ready.final
    cut, kept = ready.choices
    assert (cut.index, cut.text, cut.finish_reason, cut.content_filter_results) == (0, "", "content_filter", VIOLENT)
    assert (kept.index, kept.text, kept.finish_reason) == (1, "I cannot help", None)
    assert all("attack" not in c.text for c in ready.choices)
    assert isinstance(cancel, CancelGeneration) and cancel.reason == "content_filter"
    assert (cancel.request_id, cancel.resource_id) == (REQUEST_ID, RESOURCE_ID)


async def test_blocked_final_event_is_cut_without_cancellation():
    ports, timeline = filter_ports(ScriptedScreen("attack"))
    await screen_generation(generated("the attack plan", final=True), ports)

    assert [name for name, _ in timeline] == ["replies"]
    ready = timeline[0][1]
    assert isinstance(ready, CompletionReady) and ready.final
    assert [(c.text, c.finish_reason) for c in ready.choices] == [("", "content_filter")]
    assert ready.usage == Usage(prompt_tokens=7, completion_tokens=9, total_tokens=16)


async def test_text_generated_after_a_cut_does_not_reach_the_caller():
    # The cancellation crosses Kafka; chunks the engine published before it arrived still come.
    ports, timeline = filter_ports(ScriptedScreen("attack"))
    await screen_generation(generated("Here is how to attack", final=False, sequence=3), ports)
    await screen_generation(generated(" the castle at dawn", final=False, sequence=4), ports)
    await screen_generation(generated(" with ladders.", final=True, sequence=5), ports)

    replies = [m for name, m in timeline if name == "replies"]
    after_cut = [c for r in replies for c in r.choices if c.index == 0]
    assert "".join(c.text for c in after_cut) == ""
    assert [c.finish_reason for c in after_cut if c.finish_reason][-1] == "content_filter"
