"""Flagging rules on Azure-shaped filter results (pure functions, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.retention.flagging import DEFAULT_RULES, Rule, evaluate, signals_of
from services.retention.model import SignalRecord

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
EXPIRES = datetime(2025, 4, 13, tzinfo=UTC)
JAILBREAK_RULE = Rule("repeated-jailbreak", "jailbreak", "end_user", threshold=3, window=timedelta(hours=1))


def record(request_id: str, minutes: float, *signals: str, user: str | None = "user-42",
           flagged_by: tuple[str, ...] = ()) -> SignalRecord:
    return SignalRecord(request_id, user, T0 + timedelta(minutes=minutes), tuple(signals), EXPIRES, flagged_by)


def test_signals_from_azure_shaped_prompt_and_completion_results():
    prompt = {"hate": {"filtered": True, "severity": "high"}, "sexual": {"filtered": False, "severity": "safe"},
              "violence": {"filtered": True, "severity": "medium"}, "jailbreak": {"filtered": True, "detected": True}}
    completion = {"self_harm": {"filtered": True, "severity": "high"},
                  "protected_material_text": {"filtered": False, "detected": True}}
    assert signals_of([prompt, completion]) == ("high:hate", "high:self_harm", "jailbreak")


def test_safe_results_an_undetected_attack_and_a_filter_error_carry_no_signal():
    safe = {"hate": {"filtered": False, "severity": "safe"}, "jailbreak": {"filtered": False, "detected": False},
            "indirect_attack": {"filtered": False, "detected": False}}
    error = {"error": {"code": "content_filter_error", "message": "The filter is unavailable."}}
    assert signals_of([safe, error, {}]) == ()


def test_an_indirect_attack_in_documents_is_a_signal():
    assert signals_of([{"indirect_attack": {"filtered": True, "detected": True}}]) == ("indirect_attack",)


def test_the_threshold_is_reached_within_the_window_and_the_flag_names_every_record():
    history = [record("r1", 0, "jailbreak"), record("r2", 20, "jailbreak", "high:hate")]
    flag = evaluate(JAILBREAK_RULE, "contoso", record("r3", 40, "jailbreak"), history, raised_at=T0)
    assert flag is not None
    assert flag.request_ids == ("r1", "r2", "r3")
    assert flag.flag_id == "contoso/repeated-jailbreak/r3"
    assert (flag.end_user, flag.window_end, flag.expires_at) == ("user-42", T0 + timedelta(minutes=40), EXPIRES)
    assert flag.window_count == 3


def test_below_the_threshold_or_outside_the_window_nothing_is_flagged():
    assert evaluate(JAILBREAK_RULE, "contoso", record("r3", 40, "jailbreak"),
                    [record("r2", 20, "jailbreak")], raised_at=T0) is None
    spread = [record("r1", 0, "jailbreak"), record("r2", 50, "jailbreak")]
    assert evaluate(JAILBREAK_RULE, "contoso", record("r3", 90, "jailbreak"), spread, raised_at=T0) is None


def test_per_user_rules_count_one_user_and_ignore_requests_without_a_user():
    others = [record("a", 0, "jailbreak", user="mallory"), record("b", 1, "jailbreak", user="mallory")]
    assert evaluate(JAILBREAK_RULE, "contoso", record("c", 2, "jailbreak"), others, raised_at=T0) is None
    anonymous = [record("a", 0, "jailbreak", user=None), record("b", 1, "jailbreak", user=None)]
    assert evaluate(JAILBREAK_RULE, "contoso", record("c", 2, "jailbreak", user=None), anonymous, raised_at=T0) is None


def test_a_trigger_without_the_rules_signal_raises_nothing():
    history = [record("r1", 0, "jailbreak"), record("r2", 1, "jailbreak")]
    assert evaluate(JAILBREAK_RULE, "contoso", record("r3", 2, "high:hate"), history, raised_at=T0) is None


def test_the_resource_rate_rule_counts_signals_of_all_users_over_a_day():
    rate = next(r for r in DEFAULT_RULES if r.scope == "resource")
    history = [record(f"r{i}", i * 60, "high:violence", user=f"user-{i}") for i in range(rate.threshold - 1)]
    trigger = record("last", (rate.threshold - 1) * 60, "indirect_attack", user=None)
    flag = evaluate(rate, "contoso", trigger, history, raised_at=T0)
    assert flag is not None and flag.rule == "signal-rate"
    assert flag.end_user is None and len(flag.request_ids) == rate.threshold
    per_user = [r for r in DEFAULT_RULES if r.scope == "end_user"]
    assert [evaluate(r, "contoso", trigger, history, raised_at=T0) for r in per_user] == [None, None]


def test_a_continuing_pattern_is_flagged_record_by_record_not_relisted():
    already = ("repeated-jailbreak",)
    history = [record(f"r{i}", i, "jailbreak", flagged_by=already) for i in range(5)]
    flag = evaluate(JAILBREAK_RULE, "contoso", record("r5", 6, "jailbreak"), history, raised_at=T0)
    assert flag is not None and flag.request_ids == ("r5",) and flag.window_count == 6
    other_rule = ("repeated-high-severity",)
    fresh = [record(f"h{i}", i, "jailbreak", flagged_by=other_rule) for i in range(2)]
    flag = evaluate(JAILBREAK_RULE, "contoso", record("h2", 3, "jailbreak"), fresh, raised_at=T0)
    assert flag is not None and flag.request_ids == ("h0", "h1", "h2")


def test_a_record_this_rule_already_flagged_raises_nothing_again():
    history = [record(f"r{i}", i, "jailbreak", flagged_by=("repeated-jailbreak",)) for i in range(3)]
    assert evaluate(JAILBREAK_RULE, "contoso", history[-1], history, raised_at=T0) is None


def test_a_redelivered_record_in_the_history_is_counted_once():
    trigger = record("r3", 2, "jailbreak")
    history = [record("r1", 0, "jailbreak"), record("r3", 2, "jailbreak")]
    assert evaluate(JAILBREAK_RULE, "contoso", trigger, history, raised_at=T0) is None
