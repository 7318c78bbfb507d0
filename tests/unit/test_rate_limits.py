"""Per-minute request and token limits: charged per resource and per deployment, refused with the
headers OpenAI clients read, taken back when refused, corrected to real usage."""

from __future__ import annotations

import pytest

from contracts.base import utc_now
from services.gateway.rate_limits import RateLimited, admit, estimate_tokens, settle
from services.gateway.resources import Deployment, Limits, Resource
from tests.unit.gateway_fakes import InMemoryWindowCounter

NOW = 1_800_000_030.0  # 30 s into a minute


def resource(rpm=None, tpm=None, deployment_rpm=None) -> tuple[Resource, Deployment]:
    deployment = Deployment(name="chat", model="m", limits=Limits(rpm=deployment_rpm))
    return Resource(resource_id="contoso", region="eu-west", deployments=[deployment],
                    limits=Limits(rpm=rpm, tpm=tpm), created_at=utc_now()), deployment


async def test_requests_over_the_resource_limit_are_refused_with_retry_after_and_headers():
    counter = InMemoryWindowCounter()
    res, dep = resource(rpm=2)
    first = await admit(counter, res, dep, 10, now=NOW)
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    await admit(counter, res, dep, 10, now=NOW)
    with pytest.raises(RateLimited) as refused:
        await admit(counter, res, dep, 10, now=NOW)
    assert refused.value.status == 429 and refused.value.headers["retry-after"] == "30"
    assert refused.value.headers["x-ratelimit-remaining-requests"] == "0"
    assert await admit(counter, res, dep, 10, now=NOW + 60), "a new minute starts a new window"


async def test_a_refused_request_takes_back_what_it_charged():
    counter = InMemoryWindowCounter()
    res, dep = resource(rpm=10, deployment_rpm=1)
    await admit(counter, res, dep, 5, now=NOW)
    with pytest.raises(RateLimited):
        await admit(counter, res, dep, 5, now=NOW)  # the deployment's limit is hit, the resource's is not
    resource_window = next(v for k, v in counter.windows.items() if k.startswith("contoso@"))
    assert resource_window == (1, 5), "the refused request must not count against the resource"


async def test_tokens_are_estimated_up_front_then_settled_to_real_usage():
    counter = InMemoryWindowCounter()
    res, dep = resource(tpm=100)
    estimate = estimate_tokens(prompt_chars=40, max_tokens=50)
    assert estimate == 60
    admission = await admit(counter, res, dep, estimate, now=NOW)
    await settle(counter, admission, actual_tokens=20, now=NOW + 5)
    assert counter.windows[f"contoso@{int(NOW // 60)}"] == (1, 20)
    with pytest.raises(RateLimited) as refused:
        await admit(counter, res, dep, 90, now=NOW)
    assert "tokens" in refused.value.message and refused.value.headers["x-ratelimit-limit-tokens"] == "100"


async def test_no_limits_means_no_store_calls_and_no_headers():
    counter = InMemoryWindowCounter()
    res, dep = resource()
    admission = await admit(counter, res, dep, 1_000_000, now=NOW)
    assert admission.headers == {} and counter.windows == {}


def test_the_estimate_counts_every_choice_and_the_context_when_max_tokens_is_missing():
    assert estimate_tokens(400, max_tokens=50, n=4, context_length=2048) == 100 + 4 * 50
    # No max_tokens: each choice may fill the rest of the context.
    assert estimate_tokens(400, n=2, context_length=2048) == 100 + 2 * (2048 - 100)
    # A max_tokens beyond the context cannot be generated: it counts as the context.
    assert estimate_tokens(0, max_tokens=2**63 - 1, n=16, context_length=2048) == 16 * 2048
    assert estimate_tokens(400) == 100, "embeddings: the prompt only"


async def test_a_correction_after_the_minute_counts_in_the_current_window():
    counter = InMemoryWindowCounter()
    res, dep = resource(tpm=1000)
    admission = await admit(counter, res, dep, 10, now=NOW)
    await settle(counter, admission, actual_tokens=900, now=NOW + 60)  # a stream that outlived its minute
    minute = int(NOW // 60)
    assert counter.windows[f"contoso@{minute}"] == (1, 10)
    assert counter.windows[f"contoso@{minute + 1}"] == (0, 890)
    with pytest.raises(RateLimited):
        await admit(counter, res, dep, 200, now=NOW + 61)


async def test_an_over_estimate_is_not_credited_to_a_later_minute():
    counter = InMemoryWindowCounter()
    res, dep = resource(tpm=1000)
    admission = await admit(counter, res, dep, 900, now=NOW)
    await settle(counter, admission, actual_tokens=100, now=NOW + 60)
    assert f"contoso@{int(NOW // 60) + 1}" not in counter.windows
