"""Where policies come from: per-deployment override, blocklists, the cache, the stored document, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.filter.adapters.policies import CachedPolicies, StaticPolicies, from_document, to_document
from services.filter.policy import Blocklist, FilterPolicy, ResourcePolicy
from services.filter.settings import FilterSettings

RESOURCE = ResourcePolicy.model_validate({
    "resource_id": "contoso-eu",
    "default": {"prompt": {"violence": "low", "blocklists": ["products"]}},
    "deployments": {"chat.strict": {"on_detector_error": "fail_closed", "streaming": "asynchronous",
                                    "completion": {"blocklists": ["rivals"]}}},
    "blocklists": [{"id": "products", "terms": ["bluebird"]}, {"id": "rivals", "patterns": [r"\bContoso\b"]},
                   {"id": "unused", "terms": ["x"]}],
})


def test_a_deployment_policy_replaces_the_resource_default_and_brings_its_blocklists():
    default = RESOURCE.for_deployment("chat")
    assert default.policy.prompt.violence == "low" and default.policy.completion.violence == "medium"
    assert [b.id for b in default.blocklists] == ["products"]
    strict = RESOURCE.for_deployment("chat.strict")
    assert strict.policy.on_detector_error == "fail_closed" and strict.policy.streaming == "asynchronous"
    assert strict.policy.prompt.violence == "medium"  # replaced, not merged
    assert [b.id for b in strict.blocklists] == ["rivals"]


def test_defaults_are_azures():
    policy = FilterPolicy()
    for direction in (policy.prompt, policy.completion):
        assert [direction.threshold(c) for c in ("hate", "sexual", "violence", "self_harm")] == ["medium"] * 4
    assert policy.prompt.jailbreak == "filter" and policy.on_detector_error == "fail_open"
    assert policy.prompt.harmful_request == "medium"  # Residency's own, beside Azure's four
    assert not hasattr(policy.completion, "harmful_request")
    assert policy.streaming == "buffered"


def test_the_stored_document_round_trips_and_has_no_dotted_keys():
    document = to_document(RESOURCE)
    assert document["_id"] == "contoso-eu" and isinstance(document["deployments"], list)
    assert from_document(document) == RESOURCE


def test_an_unknown_threshold_is_refused():
    with pytest.raises(ValidationError):
        FilterPolicy.model_validate({"prompt": {"hate": "extreme"}})


class CountingStore:
    def __init__(self, policy: ResourcePolicy | None) -> None:
        self.policy, self.loads = policy, 0

    async def load(self, resource_id: str) -> ResourcePolicy | None:
        self.loads += 1
        return self.policy


async def test_the_cache_reloads_after_its_ttl_and_unknown_resources_get_the_default():
    now = [0.0]
    store = CountingStore(RESOURCE)
    policies = CachedPolicies(store, ttl_s=30, clock=lambda: now[0])  # type: ignore[arg-type]
    await policies.policy_for("contoso-eu", "chat")
    now[0] = 29
    await policies.policy_for("contoso-eu", "chat.strict")
    assert store.loads == 1
    now[0] = 31
    await policies.policy_for("contoso-eu", "chat")
    assert store.loads == 2
    missing = CachedPolicies(CountingStore(None), default=FilterPolicy(streaming="asynchronous"))  # type: ignore[arg-type]
    assert (await missing.policy_for("other", "chat")).policy.streaming == "asynchronous"


async def test_static_policies_serve_everyone_the_same():
    policies = StaticPolicies(FilterPolicy(on_detector_error="fail_closed"))
    assert (await policies.policy_for("a", "b")).policy.on_detector_error == "fail_closed"


def test_settings_read_policy_and_windows_from_the_environment(monkeypatch):
    monkeypatch.setenv("RESIDENCY_FILTER_DEFAULT_POLICY", '{"completion": {"pii": "redact"}}')
    monkeypatch.setenv("RESIDENCY_FILTER_STREAM_WINDOW_CHARS", "200")
    monkeypatch.setenv("RESIDENCY_FILTER_LAYERS", '["blocklists", "pii"]')
    settings = FilterSettings()
    assert settings.default_policy.completion.pii == "redact" and settings.stream_window_chars == 200
    assert settings.layers == ("blocklists", "pii") and settings.policy_database_name == "residency_filter_eu_west"


def test_settings_refuse_an_overlap_of_half_a_window_and_a_guard_without_a_model():
    with pytest.raises(ValidationError):
        FilterSettings(stream_window_chars=40, stream_overlap_chars=20)
    with pytest.raises(ValidationError):
        FilterSettings(layers=("guard",))


def test_blocklist_ids_are_restricted_like_azures():
    with pytest.raises(ValidationError):
        Blocklist(id="no spaces")
