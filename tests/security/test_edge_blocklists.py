"""Item: customer blocklist patterns run on RE2, or are refused. A pattern that backtracks
exponentially on Python's re answers in linear time; one RE2 cannot take is refused by the policy
CLI, naming the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from services.filter.policy import Blocklist, DirectionPolicy, FilterPolicy, PromptPolicy, ResourcePolicy
from tests.conftest import ROOT
from tests.security.edge_support import chat_url, client, timed, unique

pytestmark = pytest.mark.stack
OFF = {"hate": "off", "sexual": "off", "violence": "off", "self_harm": "off"}


def test_a_catastrophic_pattern_neither_stalls_the_filter_nor_stops_matching(stack):
    resource_id = unique("edge-redos")
    key = stack.create_resource(resource_id, {"echo": "echo"})["keys"]["key1"]
    stack.put_filter_policy(ResourcePolicy(
        resource_id=resource_id, blocklists=(Blocklist(id="redos", patterns=("(a+)+$",)),),
        default=FilterPolicy(prompt=PromptPolicy(**OFF, jailbreak="annotate", indirect_attack="annotate",
                                                 blocklists=("redos",)),
                             completion=DirectionPolicy(**OFF))))
    with client(stack, key) as gateway:
        # On Python's re: 2**40 steps, the filter's event loop (every tenant's prompts) stalled.
        passed = timed(gateway, "POST", chat_url(), json={"messages": [{"role": "user", "content": "a" * 40 + "!"}]})
        matched = timed(gateway, "POST", chat_url(), json={"messages": [{"role": "user", "content": "b" + "a" * 40}]})
    assert passed.response.status_code == 200 and passed.elapsed_s < 5, (passed.response.text, passed.elapsed_s)
    assert matched.response.status_code == 400 and matched.elapsed_s < 5
    error = matched.json()["error"]
    assert error["code"] == "content_filter"
    assert error["innererror"]["content_filter_result"]["custom_blocklists"] == {
        "filtered": True, "details": [{"id": "redos", "filtered": True}]}


@pytest.mark.parametrize("pattern", [r"(?<=secret )word", r"(\w+) \1"], ids=["look-behind", "back-reference"])
def test_a_pattern_re2_cannot_take_is_refused_by_the_policy_cli(stack, pattern):
    resource_id = unique("edge-re2")
    body = json.dumps({"default": FilterPolicy(prompt=PromptPolicy(blocklists=("b",))).model_dump(mode="json"),
                       "blocklists": [{"id": "b", "patterns": [pattern]}]})
    env = {**os.environ, "RESIDENCY_FILTER_REGION": stack.region, "RESIDENCY_FILTER_MONGO_URI": stack.infra.mongo}
    done = subprocess.run([sys.executable, "-m", "services.filter.policy_cli", "put", resource_id, "-"],
                          input=body, capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert "not accepted by RE2" in done.stderr and "Traceback" not in done.stderr
    shown = subprocess.run([sys.executable, "-m", "services.filter.policy_cli", "show", resource_id],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["blocklists"] == [], "nothing was stored"
