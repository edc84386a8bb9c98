"""Per-integration rules: ordered, compiled once, evaluated with rule-engine (never ``eval``).

A rule: ``name``, ``events`` (types, or ["*"]), ``when`` (a rule-engine expression over the
context of ``normalise.to_context``), ``actions`` ([{kind, params}]), ``stop``. Matching rules
contribute their actions in order; ``stop`` ends evaluation. When no rule matches, the default
workflow (decide.py) applies.

``with_defaults`` (an addition): a rule that only *adds* something, e.g. a notification for big
sales, would otherwise replace the default workflow and leave the sale without an invoice. With
``with_defaults: true`` the default actions are inserted where that rule matched.

Rules are checked when compiled: syntax, unknown names (the context is typed), a condition that
is not true/false, unknown action kinds or parameters, and actions that make no sense for the
rule's events; in particular no rule may issue a document from a document Vendus already has.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import rule_engine
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from rule_engine import DataType, errors

from kapta_vendus.events.catalogue import EVENT_TYPES, EventType
from kapta_vendus.events.errors import Rejection
from kapta_vendus.events.fields import Text
from kapta_vendus.events.validation import flatten_errors
from kapta_vendus.pipeline.civa import legal_fs_limit
from kapta_vendus.pipeline.decide import INTERNAL_KINDS, Action, ActionKind, default_actions, make_action
from kapta_vendus.pipeline.errors import RuleConfigError, RuleEvaluationError
from kapta_vendus.pipeline.fiscal import resolve_client
from kapta_vendus.pipeline.mapping import IntegrationMapping
from kapta_vendus.pipeline.model import NormalisedEvent, region_timezone
from kapta_vendus.pipeline.normalise import CONTEXT_FIELDS, to_context

ALL_EVENTS = "*"
_KINDS = {
    "string": DataType.STRING,
    "number": DataType.FLOAT,  # backed by decimal.Decimal: exact money comparisons
    "boolean": DataType.BOOLEAN,
    "datetime": DataType.DATETIME,
    "list": DataType.ARRAY(DataType.STRING),
}
# Which events an action can act on. Anything not listed here may run for any event.
_ACTION_EVENTS: Mapping[ActionKind, frozenset[str]] = {
    ActionKind.ISSUE_DOCUMENT: frozenset({EventType.SALE_COMPLETED}),
    ActionKind.ISSUE_RECEIPT: frozenset(
        {EventType.SALE_COMPLETED, EventType.PAYMENT_CONFIRMED, EventType.INVOICE_FINALIZED}
    ),
    ActionKind.ISSUE_CREDIT_NOTE: frozenset({EventType.SALE_REFUNDED}),
    ActionKind.REISSUE_TO_CUSTOMER: frozenset({EventType.SALE_CUSTOMER_CHANGED}),
}


class _ActionSchema(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True)
    params = fields.Dict(load_default=dict, allow_none=True)


class _RuleSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, max_length=100)
    events = fields.List(
        fields.String(
            validate=validate.OneOf((ALL_EVENTS, *EVENT_TYPES), error="unknown event type {input!r}")
        ),
        required=True,
        validate=validate.Length(min=1, error='must list at least one event type, or "*"'),
    )
    when = fields.String(load_default="true")
    actions = fields.List(fields.Nested(_ActionSchema), load_default=list)
    stop = fields.Boolean(load_default=False)
    with_defaults = fields.Boolean(load_default=False)


@dataclass(frozen=True)
class CompiledRule:
    name: str
    events: frozenset[str]  # empty: every event
    when: str
    actions: tuple[Action, ...]
    stop: bool = False
    with_defaults: bool = False
    rule: rule_engine.Rule | None = field(default=None, compare=False, repr=False)

    def applies_to(self, event_type: str) -> bool:
        return not self.events or event_type in self.events

    def matches(self, context: Mapping[str, Any]) -> bool:
        try:
            return bool(self.rule.matches(context)) if self.rule is not None else True
        except errors.EngineError as exc:
            raise RuleEvaluationError([f"rule {self.name!r}: when: {_engine_message(exc)}"]) from None


@dataclass(frozen=True)
class RulesOutcome:
    matched: list[str]
    actions: list[Action]
    used_defaults: bool


def rule_context() -> rule_engine.Context:
    """A typed context: unknown names and type mismatches fail at compile time, not at 3 a.m."""
    types = {name: _KINDS[kind] for name, (kind, _) in CONTEXT_FIELDS.items()}
    # Datetime literals without an offset (d"2026-12-24 18:00") mean mainland legal time.
    return rule_engine.Context(
        type_resolver=rule_engine.type_resolver_from_dict(types), default_timezone=region_timezone()
    )


def compile_rules(raw_rules: Sequence[Mapping[str, Any]] | None) -> tuple[CompiledRule, ...]:
    """Validate and compile an integration's rules; raise RuleConfigError with every problem."""
    if raw_rules is None:
        return ()
    if not isinstance(raw_rules, Sequence) or isinstance(raw_rules, str):
        raise RuleConfigError(["rules: must be a list"])
    context, compiled, reasons, names = rule_context(), [], [], set()
    for index, raw in enumerate(raw_rules):
        label = f"rules[{index}]"
        if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) and raw["name"].strip():
            label = f"rule {raw['name'].strip()!r}"
        if not isinstance(raw, Mapping):
            reasons.append(f"{label}: must be an object with name, events, when, actions")
            continue
        try:
            data = _RuleSchema().load(raw)
        except ValidationError as exc:
            reasons.extend(f"{label}: {reason}" for reason in flatten_errors(exc.messages))
            continue
        if data["name"] in names:
            reasons.append(f"{label}: another rule has the same name")
        names.add(data["name"])
        problems: list[str] = []
        rule = _compile_when(data["when"], context, problems)
        events = frozenset() if ALL_EVENTS in data["events"] else frozenset(data["events"])
        actions = _compile_actions(data["actions"], events, problems)
        reasons.extend(f"{label}: {p}" for p in problems)
        if not problems:
            compiled.append(
                CompiledRule(
                    data["name"], events, data["when"], actions, data["stop"], data["with_defaults"], rule
                )
            )
    if reasons:
        raise RuleConfigError(reasons)
    return tuple(compiled)


def _compile_when(text: str, context: rule_engine.Context, problems: list[str]) -> rule_engine.Rule | None:
    try:
        rule = rule_engine.Rule(text, context=context)
    except errors.SymbolResolutionError as exc:
        close = difflib.get_close_matches(exc.symbol_name, list(CONTEXT_FIELDS), n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"when: unknown name {exc.symbol_name!r}{hint}")
        return None
    except errors.RuleSyntaxError as exc:
        token = exc.token
        where = f"near {token.value!r} at position {token.lexpos}" if token is not None else "at the end"
        problems.append(f"when: syntax error {where} in {text!r}")
        return None
    except errors.EngineError as exc:
        problems.append(f"when: {_engine_message(exc)} in {text!r}")
        return None
    result = rule.statement.expression.result_type
    if result not in (DataType.BOOLEAN, DataType.UNDEFINED):
        problems.append(
            f"when: must be a condition (true or false), but {text!r} gives a {result.name.lower()}"
        )
    return rule


def _compile_actions(
    raw_actions: list[Mapping[str, Any]], events: frozenset[str], problems: list[str]
) -> tuple[Action, ...]:
    actions = []
    for index, raw in enumerate(raw_actions):
        try:
            action = make_action(raw["kind"], raw.get("params"))
        except ValueError as exc:
            problems.append(f"actions[{index}]: {exc}")
            continue
        if action.kind in INTERNAL_KINDS:
            problems.append(f"actions[{index}]: {action.kind} is decided by the service, not by rules")
            continue
        allowed = _ACTION_EVENTS.get(action.kind)
        if allowed is not None and (not events or not events <= allowed):
            wanted = ", ".join(sorted(allowed))
            problems.append(
                f"actions[{index}]: {action.kind} can only run for {wanted}; narrow the rule's events"
            )
            continue
        actions.append(action)
    return tuple(actions)


def evaluate(
    rules: Sequence[CompiledRule], context: Mapping[str, Any], *, defaults: Sequence[Action] = ()
) -> RulesOutcome:
    """Run the rules in order against ``context``; ``defaults`` apply when none matches."""
    matched: list[str] = []
    actions: list[Action] = []
    used_defaults = False
    event_type = str(context.get("type", ""))
    for rule in rules:
        if not rule.applies_to(event_type) or not rule.matches(context):
            continue
        matched.append(rule.name)
        if rule.with_defaults and not used_defaults:
            actions.extend(defaults)
            used_defaults = True
        actions.extend(rule.actions)
        if rule.stop:
            break
    if not matched:
        return RulesOutcome(matched=[], actions=list(defaults), used_defaults=True)
    return RulesOutcome(matched=matched, actions=actions, used_defaults=used_defaults)


def plan_actions(
    event: NormalisedEvent, rules: Sequence[CompiledRule], mapping: IntegrationMapping
) -> RulesOutcome:
    """The actions for one event: its context in the store's time, the rules, else the defaults."""
    defaults = default_actions(event, fs_limit=sale_fs_limit(event, mapping))
    return evaluate(rules, event_context(event, mapping), defaults=defaults)


def event_context(event: NormalisedEvent, mapping: IntegrationMapping) -> dict[str, Any]:
    """What a rule sees: the event's context in the store's time, with the facts the mapping decides
    (the lines' kinds, whether the buyer is taxable), the same ones the FS limit is judged on."""
    context = to_context(event, tz=mapping.timezone_for(event.store_id))
    if event.sale is not None:
        kinds, taxable = _sale_facts(event, mapping)
        context.update(kinds=list(dict.fromkeys(kinds)), taxable_buyer=taxable)
    return context


def _sale_facts(event: NormalisedEvent, mapping: IntegrationMapping) -> tuple[list[str], bool]:
    try:
        taxable = resolve_client(event.sale.customer).taxable
    except Rejection:
        taxable = True  # a bad fiscal id is rejected later; the strict reading meanwhile
    return [mapping.kind_of(line) for line in event.sale.lines], taxable


def sale_fs_limit(event: NormalisedEvent, mapping: IntegrationMapping) -> Decimal:
    """The FS limit CIVA 40(1) allows for this event's sale, capped by the integration's limit."""
    cap = mapping.fs_limit_for(event.store_id)
    if event.sale is None:
        return cap
    kinds, taxable = _sale_facts(event, mapping)
    return legal_fs_limit(kinds, taxable, cap)


def _engine_message(exc: errors.EngineError) -> str:
    return getattr(exc, "message", None) or str(exc)
