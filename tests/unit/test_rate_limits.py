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
    await settle(counter, admission, actual_tokens=20)
    assert counter.windows[admission.charged[0][0]] == (1, 20)
    with pytest.raises(RateLimited) as refused:
        await admit(counter, res, dep, 90, now=NOW)
    assert "tokens" in refused.value.message and refused.value.headers["x-ratelimit-limit-tokens"] == "100"


async def test_no_limits_means_no_store_calls_and_no_headers():
    counter = InMemoryWindowCounter()
    res, dep = resource()
    admission = await admit(counter, res, dep, 1_000_000, now=NOW)
    assert admission.headers == {} and counter.windows == {}
