"""The six steps of the event chain: validate → normalise → map → rules → actions → sync.

Steps re-derive what they need from the stored raw event (cheap and pure) instead of passing
payloads between tasks; only the rules step's decision is carried forward, in its step output,
so that a retried or replayed actions step executes exactly what was decided.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from kapta_vendus.db.session import on_commit
from kapta_vendus.events.catalogue import MASTERDATA_TYPES
from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.config import skip_reason
from kapta_vendus.masterdata.upsert import apply_masterdata
from kapta_vendus.pipeline import context as c
from kapta_vendus.pipeline.actions import EXECUTORS
from kapta_vendus.pipeline.rules import plan_actions
from kapta_vendus.pipeline.runner import StepContext, StepFn, StepResult


def validate(ctx: StepContext) -> StepResult:
    facts = c.facts(ctx)
    skipped = skip_reason(facts.config, json.loads(facts.raw))
    if skipped:
        return StepResult(f"{facts.type} not selected by this integration: {skipped}", finish="done")
    event = c.validated(ctx)
    if event.type.value in MASTERDATA_TYPES:  # into Vendus as a client/product, not a document
        return apply_masterdata(ctx)
    return StepResult(f"{event.type} {event.id} valid")


def normalise(ctx: StepContext) -> StepResult:
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


def _jsonable(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: _jsonable(v) for k, v in params.items()}
    return str(params) if isinstance(params, Decimal) else params


def rules(ctx: StepContext) -> StepResult:
    outcome = plan_actions(c.normalised(ctx), c.rules(ctx), c.mapping(ctx))
    actions = [{"kind": str(a.kind), "params": _jsonable(dict(a.params))} for a in outcome.actions]
    label = ", ".join(outcome.matched) if outcome.matched else "defaults"
    return StepResult(f"{label}: {', '.join(a['kind'] for a in actions) or 'no action'}",
                      output={"matched": outcome.matched, "used_defaults": outcome.used_defaults,
                              "actions": actions})


def actions(ctx: StepContext) -> StepResult:
    decided = ctx.step_output("rules")
    if decided is None:
        raise Rejection(["no decision recorded by the rules step; replay the event from the start"])
    results, notices = [], []
    for action in decided["actions"]:
        kind, params = action["kind"], action.get("params") or {}
        if kind == "notify":
            notices.append(params)
            continue
        results.append(EXECUTORS[kind](ctx, params))
    summary = "; ".join(_describe(r) for r in results) or "nothing to issue"
    return StepResult(summary, output={"results": results, "notify": notices})


def _describe(result: dict[str, Any]) -> str:
    text = result.get("number") or result["kind"]
    if result.get("rounding"):
        r = result["rounding"]
        text += f" (POS paid {r['pos_paid']}, Vendus total {r['vendus_total']}: rounding {r['difference']})"
    if result.get("warnings"):
        text += f" [warning: {'; '.join(result['warnings'])}]"
    return text


def sync(ctx: StepContext) -> StepResult:
    from kapta_vendus.tasks.dispatch import enqueue_notification

    done = ctx.step_output("actions") or {}
    # run_step has already recorded "sync" as the event's current step; a transaction is needed only
    # to enqueue the notification after a commit.
    if _wants_notification(ctx, done):
        with ctx.db.unit_of_work() as session:
            on_commit(session, lambda: enqueue_notification(ctx.event_id))
    issued = [r for r in done.get("results", []) if r.get("number")]
    return StepResult(f"{len(issued)} document(s) recorded", finish="done")


def _wants_notification(ctx: StepContext, done: dict[str, Any]) -> bool:
    channels = (c.facts(ctx).config.get("notifications") or {}).get("channels") or []
    return bool(channels) and bool(done.get("results") or done.get("notify"))


STEPS: dict[str, StepFn] = {
    "validate": validate,
    "normalise": normalise,
    "map": map_step,
    "rules": rules,
    "actions": actions,
    "sync": sync,
}
