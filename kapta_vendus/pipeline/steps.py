"""The logical steps of an event: validate → normalise → map → rules (stage ``prepare``), actions
(stage ``bill``), sync (stage ``sync``); see ``pipeline.runner`` for the stages.

Steps re-derive what they need from the stored raw event (cheap and pure) instead of passing
payloads between tasks; only the rules step's typed decision (``pipeline.decision``) is carried
forward, in its step output, so that a retried or replayed ``bill`` executes exactly what was decided.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kapta_vendus.db.models import utcnow
from kapta_vendus.db.session import on_commit
from kapta_vendus.events.catalogue import MASTERDATA_TYPES
from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.config import skip_reason
from kapta_vendus.masterdata.upsert import UPSERTS, record_key, validate_masterdata
from kapta_vendus.pipeline import context as c
from kapta_vendus.pipeline.actions import EXECUTORS
from kapta_vendus.pipeline.decide import MASTERDATA_KINDS, ActionKind, make_action
from kapta_vendus.pipeline.decision import Decision
from kapta_vendus.pipeline.rules import plan_actions
from kapta_vendus.pipeline.runner import Recorded, StepContext, StepFn, StepResult


def validate(ctx: StepContext) -> StepResult:
    facts = c.facts(ctx)
    skipped = skip_reason(facts.config, json.loads(facts.raw))
    if skipped:
        return StepResult(f"{facts.type} not selected by this integration: {skipped}", finish="done")
    event = c.validated(ctx)
    if event.type.value in MASTERDATA_TYPES:  # into Vendus as a client/product, not a document
        return validate_masterdata(ctx)
    return StepResult(f"{event.type} {event.id} valid")


def _upsert(ctx: StepContext) -> tuple[str, str] | None:
    """(record, key) when the event is a customer/product upsert: no sale to normalise, map or rule on."""
    return record_key(ctx) if c.validated(ctx).type.value in UPSERTS else None


def normalise(ctx: StepContext) -> StepResult:
    if (upsert := _upsert(ctx)) is not None:
        return StepResult(f"{upsert[0]} {upsert[1]}")
    event = c.normalised(ctx)
    if event.sale is not None:
        sale = event.sale
        return StepResult(f"sale {sale.sale_id}: {len(sale.lines)} line(s), total {sale.total}, "
                          f"{sale.payment_status}")
    if event.payment is not None:
        return StepResult(f"payment {event.payment.payment_id} of {event.payment.amount} for sale "
                          f"{event.payment.sale_id}")
    if event.refund is not None:
        return StepResult(f"refund {event.refund.refund_id} of sale {event.refund.sale_id}")
    if event.customer_change is not None:
        change = event.customer_change
        return StepResult(f"customer change {change.change_id} of sale {change.sale_id}")
    doc = event.document
    return StepResult(f"document {doc.type} {doc.number} status {doc.status}")


def map_step(ctx: StepContext) -> StepResult:
    if _upsert(ctx) is not None:
        return StepResult("nothing to map")
    mapping = c.mapping(ctx)
    event = c.normalised(ctx)
    if event.sale is not None:
        mapped = c.mapped_sale(ctx)
        unknown = sum(1 for line in mapped.lines if line.product_id is None)
        return StepResult(f"register {mapped.register_id}, mode {mapped.mode}, "
                          f"{unknown} product(s) by title and price")
    if event.payment is not None:
        mapping.method_id(event.payment.method)  # an unknown method is a rejection, found early
    return StepResult(f"mode {mapping.mode}")


def rules(ctx: StepContext) -> StepResult:
    if (upsert := _upsert(ctx)) is not None:  # the integration's rules are about sales, not master data
        action = make_action(ActionKind.UPSERT_MASTERDATA, {"record": upsert[0], "key": upsert[1]})
        decision = Decision((action,))
        return StepResult(decision.label, output=decision.to_dict())
    outcome = plan_actions(c.normalised(ctx), c.rules(ctx), c.mapping(ctx))
    decision = Decision(tuple(outcome.actions), tuple(outcome.matched), bool(outcome.used_defaults))
    # The decision is handed to ``bill`` through this step run's output (pipeline.decision).
    return StepResult(decision.label, output=decision.to_dict())


def decision(ctx: StepContext) -> Decision:
    if "decision" not in ctx.cache:
        stored = ctx.step_output("rules")
        if stored is None:
            raise Rejection(["no decision recorded by the rules step; replay the event from the start"])
        ctx.cache["decision"] = Decision.from_dict(stored)
    return ctx.cache["decision"]


def actions(ctx: StepContext) -> StepResult:
    """Each billing action of the decision, in order; one step run per action (written by the runner)."""
    numbers = []
    for index, action in enumerate(decision(ctx).billing):
        started, t0 = utcnow(), time.perf_counter()
        result = EXECUTORS[str(action.kind)](ctx, dict(action.params))
        label = _describe(result)
        numbers.append(label)
        ctx.recorded.append(Recorded("actions", "ok", f"{action.kind}: {label}", {"index": index,
                                     "action": str(action.kind), "result": result}, started_at=started,
                                     duration_ms=int((time.perf_counter() - t0) * 1000)))
    if not numbers:
        ctx.recorded.append(Recorded("actions", "ok", "nothing to issue",
                                     {"index": None, "action": None, "result": None}))
    return StepResult("; ".join(numbers) or "nothing to issue")


def action_results(ctx: StepContext) -> list[dict[str, Any]]:
    """What the latest ``bill`` recorded, one result per action, in order (for sync and notify)."""
    results: dict[int, dict[str, Any]] = {}
    # A re-run of bill records the same actions again: keep the latest of each.
    for output in ctx.step_outputs("actions"):
        if (output or {}).get("result"):
            results[int(output["index"])] = output["result"]
    return [results[i] for i in sorted(results)]


def _describe(result: dict[str, Any]) -> str:
    text = result.get("number") or result.get("summary") or result["kind"]
    if result.get("rounding"):
        r = result["rounding"]
        text += f" (POS paid {r['pos_paid']}, Vendus total {r['vendus_total']}: rounding {r['difference']})"
    if result.get("warnings"):
        text += f" [warning: {'; '.join(result['warnings'])}]"
    return text


def sync(ctx: StepContext) -> StepResult:
    from kapta_vendus.tasks.dispatch import enqueue_notification

    results = action_results(ctx)
    if _wants_notification(ctx, results):
        event_id = ctx.event_id
        on_commit(ctx.session, lambda: enqueue_notification(event_id))
    issued = [r for r in results if r.get("number")]
    # What the notification is written from: the documents, and the notices the rules asked for.
    output = {"results": results, "notify": [dict(n) for n in decision(ctx).notices]}
    return StepResult(f"{len(issued)} document(s) recorded", output=output, finish="done")


def _wants_notification(ctx: StepContext, results: list[dict[str, Any]]) -> bool:
    channels = (c.facts(ctx).config.get("notifications") or {}).get("channels") or []
    # A client or product written into Vendus is not news for the channels (they never were told).
    billing = [r for r in results if r.get("kind") not in MASTERDATA_KINDS]
    return bool(channels) and bool(billing or decision(ctx).notices)


STEPS: dict[str, StepFn] = {
    "validate": validate,
    "normalise": normalise,
    "map": map_step,
    "rules": rules,
    "actions": actions,
    "sync": sync,
}
