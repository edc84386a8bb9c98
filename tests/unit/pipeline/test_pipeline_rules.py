"""Rules: compile once with readable errors, evaluate in order, stop, fall back to the defaults."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from kapta_vendus.pipeline.decide import Action, ActionKind
from kapta_vendus.pipeline.errors import RuleConfigError, RuleEvaluationError
from kapta_vendus.pipeline.normalise import to_context
from kapta_vendus.pipeline.rules import compile_rules, evaluate, plan_actions

NOTIFY = {"kind": "notify", "params": {"template": "document_issued"}}
FT = {"kind": "issue_document", "params": {"document_type": "FT"}}


def rule(name="r", events=("sale.completed",), when="true", actions=(NOTIFY,), **extra):
    return {"name": name, "events": list(events), "when": when, "actions": list(actions), **extra}


def compile_errors(rules) -> list[str]:
    with pytest.raises(RuleConfigError) as caught:
        compile_rules(rules)
    return caught.value.reasons


def test_no_rules_means_defaults(cafe_event):
    outcome = evaluate((), to_context(cafe_event), defaults=[Action(ActionKind.LINK_ONLY)])
    assert outcome.matched == [] and outcome.used_defaults
    assert outcome.actions == [Action(ActionKind.LINK_ONLY)]
    assert compile_rules(None) == ()


def test_matching_rules_contribute_in_order(cafe_event):
    rules = compile_rules(
        [
            rule("always-ft", actions=[FT]),
            rule("cafe", when='"CAFE" in products', actions=[NOTIFY]),
            rule("big", when="total > 100", actions=[{"kind": "link_only"}]),
        ]
    )
    outcome = evaluate(rules, to_context(cafe_event), defaults=[Action(ActionKind.LINK_ONLY)])
    assert outcome.matched == ["always-ft", "cafe"]
    assert outcome.actions == [
        Action(ActionKind.ISSUE_DOCUMENT, {"document_type": "FT"}),
        Action(ActionKind.NOTIFY, {"template": "document_issued"}),
    ]
    assert not outcome.used_defaults


def test_stop_ends_evaluation(cafe_event):
    rules = compile_rules([rule("first", actions=[FT], stop=True), rule("second")])
    outcome = evaluate(rules, to_context(cafe_event))
    assert outcome.matched == ["first"]


def test_non_matching_stop_rule_does_not_stop(cafe_event):
    rules = compile_rules([rule("first", when="total > 100", stop=True), rule("second")])
    assert evaluate(rules, to_context(cafe_event)).matched == ["second"]


def test_events_filter(cafe_event):
    rules = compile_rules([rule("refunds", events=["sale.refunded"]), rule("any", events=["*"], actions=[])])
    outcome = evaluate(rules, to_context(cafe_event), defaults=[Action(ActionKind.LINK_ONLY)])
    # A matching rule with no actions is a deliberate "do nothing": the defaults do not apply.
    assert outcome.matched == ["any"] and outcome.actions == [] and not outcome.used_defaults


def test_with_defaults_inserts_the_default_workflow(cafe_event, mapping):
    rules = compile_rules([rule("notify big", when="total > 1", with_defaults=True)])
    outcome = plan_actions(cafe_event, rules, mapping)
    assert outcome.used_defaults
    assert outcome.actions == [
        Action(ActionKind.ISSUE_DOCUMENT, {"document_type": "FS"}),
        Action(ActionKind.NOTIFY, {"template": "document_issued"}),
    ]


def test_plan_actions_falls_back_to_the_default_table(cafe_event, mapping):
    outcome = plan_actions(cafe_event, compile_rules([rule(when="total > 100")]), mapping)
    assert outcome.used_defaults and outcome.actions == [
        Action(ActionKind.ISSUE_DOCUMENT, {"document_type": "FS"})
    ]


@pytest.mark.parametrize(
    ("when", "matches"),
    [
        ("total == 2.90", True),  # exact: Decimal, not float
        ("total == 0.1 + 2.8", True),
        ("total >= 2.9 and paid == total", True),
        ("payment_status == 'paid' and not has_nif", True),
        ("customer_nif == ''", True),
        ("'cash' in methods and line_count == 2", True),
        ("taxes == ['RED', 'INT']", True),
        ("hour >= 8 and hour < 12 and weekday <= 5", True),
        ("date == '2026-11-25'", True),
        ("occurred_at > d'2026-11-25 08:00'", True),  # local mainland time (UTC in winter)
        ("store_id == 24994 and register_id == 0", True),
        ("products.length > 2", False),
        ("type == 'payment.confirmed'", False),
        ("customer_country != 'PT'", False),
        ("'Bebidas' in categories", False),
    ],
)
def test_expressions_over_the_context(cafe_event, when, matches):
    rules = compile_rules([rule(events=["*"], when=when, actions=[{"kind": "link_only"}])])
    assert bool(evaluate(rules, to_context(cafe_event)).matched) is matches


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("totl > 100", "rule 'r': when: unknown name 'totl' (did you mean 'total'?)"),
        ("foo == 1", "rule 'r': when: unknown name 'foo'"),
        ("total >", "rule 'r': when: syntax error at the end in 'total >'"),
        ("total > > 3", "rule 'r': when: syntax error near '>' at position 8 in 'total > > 3'"),
        ("total =~ 'x'", "rule 'r': when: data type mismatch in \"total =~ 'x'\""),
        ("total", "rule 'r': when: must be a condition (true or false), but 'total' gives a float"),
    ],
)
def test_invalid_expressions_name_the_rule(when, message):
    assert compile_errors([rule(when=when)]) == [message]


def test_rule_shape_errors():
    assert compile_errors(
        [
            {"name": "a", "events": [], "actions": []},
            {"name": "b", "events": ["sale.done"]},
            {"events": ["*"]},
            {"name": "c", "events": ["*"], "unless": "x"},
            {"name": "d", "events": ["*"], "actions": [{"kind": "notify", "param": {}}]},
            "not a rule",
        ]
    ) == [
        "rule 'a': events: must list at least one event type, or \"*\"",
        "rule 'b': events[0]: unknown event type 'sale.done'",
        "rules[2]: name: is required",
        "rule 'c': unless: unknown field",
        "rule 'd': actions[0].param: unknown field",
        "rules[5]: must be an object with name, events, when, actions",
    ]
    assert compile_errors("rules") == ["rules: must be a list"]


def test_duplicate_names():
    assert compile_errors([rule("x"), rule("x")]) == ["rule 'x': another rule has the same name"]


def test_action_errors_name_the_rule():
    assert compile_errors(
        [rule(actions=[{"kind": "issue_document", "params": {"document_type": "NC"}}])]
    ) == ["rule 'r': actions[0]: issue_document: document_type must be one of FT, FR, FS (got 'NC')"]


@pytest.mark.parametrize(
    ("events", "action", "allowed"),
    [
        (["*"], FT, "sale.completed"),
        (["invoice.created"], FT, "sale.completed"),  # never re-issue a document Vendus already has
        (["sale.completed", "document.cancelled"], FT, "sale.completed"),
        (["sale.completed"], {"kind": "issue_credit_note"}, "sale.refunded"),
        (
            ["sale.refunded"],
            {"kind": "issue_receipt"},
            "invoice.finalized, payment.confirmed, sale.completed",
        ),
    ],
)
def test_actions_must_fit_the_events(events, action, allowed):
    (message,) = compile_errors([rule(events=events, actions=[action])])
    assert (
        message
        == f"rule 'r': actions[0]: {action['kind']} can only run for {allowed}; narrow the rule's events"
    )


def test_all_problems_reported_together():
    assert len(compile_errors([rule("a", when="x >"), rule("b", actions=[{"kind": "nope"}]), rule("c")])) == 2


def test_runtime_failure_names_the_rule(cafe_event):
    rules = compile_rules([rule(when="products[5] == 'X'")])
    with pytest.raises(RuleEvaluationError) as caught:
        evaluate(rules, to_context(cafe_event))
    assert caught.value.reasons[0].startswith("rule 'r': when: ")


def test_rules_are_never_evaluated_with_python_eval(cafe_event):
    with pytest.raises(RuleConfigError):
        compile_rules([rule(when="__import__('os').system('true') == 0")])


def test_money_param_in_rule_actions(cafe_event):
    rules = compile_rules(
        [
            rule(
                events=["payment.confirmed"],
                actions=[{"kind": "issue_receipt", "params": {"amount": "5.00"}}],
            )
        ]
    )
    assert rules[0].actions[0].params["amount"] == Decimal("5.00")


def test_rules_see_the_lines_kinds_and_whether_the_buyer_is_taxable(make_sale, make_line, sale_event, mapping):
    """pt-invoicing-rules §3 / CIVA 40(1): the FS limit depends on the lines' kinds and on the buyer;
    a rule can now decide on the same facts (``kinds``, ``taxable_buyer``)."""
    from dataclasses import replace

    from kapta_vendus.pipeline.rules import event_context

    service_first = replace(mapping, product_kinds={"LIMPEZA": "service"}, default_kind="goods")
    lines = (make_line(reference="LIMPEZA", unit_price=Decimal("40.00")), make_line(reference="CAFE"))
    company = sale_event(make_sale(lines=lines, nif="509442013"))  # 5…: a company NIF
    consumer = sale_event(make_sale(nif="232013969"))  # 2…: an individual
    rules = compile_rules([rule("services to companies", when="'service' in kinds and taxable_buyer",
                                actions=[{"kind": "issue_document", "params": {"document_type": "FT"}}])])

    assert event_context(company, service_first)["kinds"] == ["service", "goods"]
    assert event_context(company, service_first)["taxable_buyer"] is True
    assert (event_context(consumer, service_first)["kinds"], event_context(consumer, service_first)["taxable_buyer"]) \
        == (["goods"], False)
    assert plan_actions(company, rules, service_first).actions == [
        Action(ActionKind.ISSUE_DOCUMENT, {"document_type": "FT"})]
    assert plan_actions(consumer, rules, service_first).used_defaults


def test_every_name_a_rule_can_use_is_documented():
    from pathlib import Path

    from kapta_vendus.pipeline.normalise import CONTEXT_FIELDS

    page = (Path(__file__).parents[3] / "docs" / "integrations.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \| (?:string|number|boolean|datetime|list) \|", page, re.M))
    assert documented == set(CONTEXT_FIELDS)
