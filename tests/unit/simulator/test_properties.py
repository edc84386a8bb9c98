"""Property tests: random sequences of sales, credits, receipts and cancellations keep the books straight.

Checked after every step, against the simulator's own API shapes and an independent model of what
each invoice should have been paid:

* numbering is gapless (1..n) per (mode, type, series);
* amount_gross = sum of line totals = sum of taxes totals; amount_net = sum of tax bases;
* debt.paid + debt.unpaid = debt.total, and debt.paid is what the model expects (RG splits in
  listed order, each up to its unpaid; cancelling an RG gives its payments back);
* per invoice row: qty - qty_nc = the qty credited by NCs, never above qty, and the credited value
  never exceeds the row's total.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from simulator_testkit import NOW

from kapta_vendus.simulator import ApiError, SimClock, SimulatorState

KEY = "prop"
CENT = Decimal("0.01")

ISLAND_RATES = [  # pt-invoicing-rules §2, charged per item through tax_custom (vendus-api §3.4)
    {"country": "PT-MA", "rate": 22, "code": "NOR", "type": "IVA"},
    {"country": "PT-MA", "rate": 4, "code": "RED", "type": "IVA"},
    {"country": "PT-AC", "rate": 9, "code": "INT", "type": "IVA"},
]
line_strategy = st.fixed_dictionaries(
    {
        "reference": st.just("ARTIGO"),  # an item needs id or reference (vendus-api §3.4)
        "title": st.just("Artigo"),
        # small and sub-cent prices make rounding collide often (e.g. 0.10 credited in thirds)
        "gross_price": st.one_of(
            st.integers(1, 50_000).map(lambda c: str(Decimal(c) / 100)),
            st.integers(1, 2_000).map(lambda c: str(Decimal(c) / 10_000)),
        ),
        "qty": st.sampled_from(["1", "2", "3", "6", "7"]),
        "tax_id": st.sampled_from(["NOR", "INT", "RED"]),
        "discount_percentage": st.sampled_from(["0", "5", "12.5", "33"]),
    },
    optional={"tax_custom": st.sampled_from(ISLAND_RATES)},
)


def d(value: str) -> Decimal:
    return Decimal(value)


class Books(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.state = SimulatorState(api_keys=[KEY], clock=SimClock(NOW, frozen=True))
        account = self.state.accounts[KEY]
        self.methods = [m["id"] for m in account.payment_methods.values() if m["type"] in ("CD", "MBWAY", "TR")]
        self.paid: dict[int, Decimal] = defaultdict(Decimal)  # model: invoice id -> expected paid
        self.receipts: dict[int, list[tuple[int, Decimal]]] = {}  # model: live RG -> allocations
        self.invoices: list[tuple[int, str]] = []  # (id, mode)
        # a scratch account prices a sale before it is paid in part (its numbering is irrelevant)
        self.scratch = SimulatorState(api_keys=["scratch"], clock=SimClock(NOW, frozen=True))

    def _detail(self, doc_id: int, mode: str) -> dict:
        return self.state.get_document(KEY, doc_id, mode)

    # -- operations ---------------------------------------------------------------------------
    @rule(
        doc_type=st.sampled_from(["FT", "FT", "FR", "FS"]),
        lines=st.lists(line_strategy, min_size=1, max_size=4),
        pay=st.sampled_from(["none", "part", "full"]),
        share=st.integers(min_value=1, max_value=99),
        mode=st.sampled_from(["normal", "normal", "tests"]),
    )
    def sell(self, doc_type, lines, pay, share, mode):
        body = {"type": doc_type, "items": lines, "mode": mode}
        if doc_type in ("FR", "FS"):
            pay = "full"
        if pay != "none":
            body["payments"] = [{"id": self.methods[share % len(self.methods)]}]
        if pay == "part":
            total = d(self.scratch.create_document("scratch", {"items": lines})["amount_gross"])
            body["payments"][0]["amount"] = str((total * share / 100).quantize(CENT))
        created = self.state.create_document(KEY, body)
        doc_id = created["id"]
        self.invoices.append((doc_id, mode))
        detail = self._detail(doc_id, mode)
        if doc_type in ("FR", "FS"):  # receipts themselves: paid at issue, no automatic RG (§7.2)
            assert detail["related_docs"] == []
            self.paid[doc_id] = d(detail["amount_gross"])
        for link in detail["related_docs"]:
            receipt = self._detail(link["id"], mode)
            amount = d(receipt["amount_gross"])
            self.paid[doc_id] += amount
            self.receipts[link["id"]] = [(doc_id, amount)]

    @precondition(lambda self: self.invoices)
    @rule(pick=st.integers(min_value=0), row_pick=st.integers(min_value=0), fraction=st.sampled_from([1, 2, 3]))
    def credit(self, pick, row_pick, fraction):
        doc_id, mode = self.invoices[pick % len(self.invoices)]
        detail = self._detail(doc_id, mode)
        row = row_pick % len(detail["items"]) + 1
        available = d(detail["items"][row - 1]["qty_nc"])
        qty = (available / fraction).quantize(Decimal("0.001"))
        ref = {"document_number": detail["number"], "document_row": row}
        body = {
            "type": "NC",
            "notes": "devolução",
            "mode": mode,
            # the original line's product (vendus-api §3.4, §7.4)
            "items": [{"qty": str(qty), "reference": detail["items"][row - 1]["reference"], "reference_document": ref}],
        }
        if qty <= 0:
            try:
                self.state.create_document(KEY, body)
            except ApiError as exc:
                assert exc.code == "P001"
            else:
                raise AssertionError("a zero or exhausted credit must be refused")
            return
        self.state.create_document(KEY, body)

    @precondition(lambda self: self.invoices)
    @rule(picks=st.lists(st.integers(min_value=0), min_size=1, max_size=3, unique=True), share=st.integers(1, 100))
    def pay_with_receipt(self, picks, share):
        mode = self.invoices[picks[0] % len(self.invoices)][1]
        chosen, seen = [], set()
        for pick in picks:
            doc_id, doc_mode = self.invoices[pick % len(self.invoices)]
            if doc_mode == mode and doc_id not in seen:
                detail = self._detail(doc_id, mode)
                if d(detail["debt"]["unpaid"]) > 0:
                    chosen.append(detail)
                    seen.add(doc_id)
        if not chosen:
            return
        owed = sum(d(doc["debt"]["unpaid"]) for doc in chosen)
        amount = max(CENT, (owed * share / 100).quantize(CENT))
        body = {
            "type": "RG",
            "mode": mode,
            "payments": [{"id": self.methods[0], "amount": str(amount)}],
            "invoices": [{"document_number": doc["number"]} for doc in chosen],
        }
        receipt = self.state.create_document(KEY, body)
        left, allocations = amount, []
        for doc in chosen:  # the documented split: in order, each up to its unpaid
            take = min(left, d(doc["debt"]["unpaid"]))
            if take > 0:
                allocations.append((doc["id"], take))
                self.paid[doc["id"]] += take
            left -= take
        self.receipts[receipt["id"]] = allocations

    @precondition(lambda self: self.receipts)
    @rule(pick=st.integers(min_value=0))
    def cancel_receipt(self, pick):
        receipt_id = sorted(self.receipts)[pick % len(self.receipts)]
        mode = self.state.accounts[KEY].docs[receipt_id]["mode"]
        assert self.state.patch_document(KEY, receipt_id, {"status": "A"}, mode) == {"id": receipt_id, "status": "A"}
        for invoice_id, amount in self.receipts.pop(receipt_id):
            self.paid[invoice_id] -= amount

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def numbering_is_gapless(self):
        by_series = defaultdict(list)
        for doc in self.state.accounts[KEY].docs.values():
            by_series[(doc["mode"], doc["type"], doc["series"])].append(doc["seq"])
            assert doc["number"] == f"{doc['type']} {doc['series']}/{doc['seq']}"
        for seqs in by_series.values():
            assert sorted(seqs) == list(range(1, len(seqs) + 1))

    @invariant()
    def totals_debts_and_credits_are_consistent(self):
        account = self.state.accounts[KEY]
        credited_qty = defaultdict(Decimal)
        credited_gross = defaultdict(Decimal)
        for doc in account.docs.values():
            detail = self._detail(doc["id"], doc["mode"])
            gross = d(detail["amount_gross"])
            if detail["type"] != "RG":
                assert gross == sum(d(i["amounts"]["gross_total"]) for i in detail["items"])
                assert gross == sum(d(t["total"]) for t in detail["taxes"])
                assert d(detail["amount_net"]) == sum(d(t["base"]) for t in detail["taxes"])
                # vendus-api §4 / pt-invoicing-rules §5: the net is the sum of the lines' nets
                assert d(detail["amount_net"]) == sum(d(i["amounts"]["net_total"]) for i in detail["items"])
            elif doc["id"] in self.receipts:  # an RG shows the net part of what it pays
                expected = Decimal(0)
                for invoice_id, share in self.receipts[doc["id"]]:
                    invoice = account.docs[invoice_id]
                    expected += d(invoice["amount_net"]) * share / d(invoice["amount_gross"])
                assert d(detail["amount_net"]) == expected.quantize(CENT, rounding=ROUND_HALF_UP)
                for tax in detail["taxes"]:
                    assert d(tax["base"]) + d(tax["amount"]) == d(tax["total"])
            debt = detail["debt"]
            if detail["type"] in ("FT", "FR", "FS"):
                assert d(debt["total"]) == gross
                assert d(debt["paid"]) + d(debt["unpaid"]) == d(debt["total"])
                assert d(debt["paid"]) == self.paid[detail["id"]]
                assert Decimal(0) <= d(debt["paid"]) <= gross
                assert detail["payment_status"] == ("paid" if d(debt["unpaid"]) == 0 else "pending")
            if detail["type"] == "NC" and detail["status"]["id"] == "N":
                for line in doc["items"]:
                    credited_qty[(line["ref_doc_id"], line["ref_row"])] += d(line["qty"])
                    credited_gross[(line["ref_doc_id"], line["ref_row"])] += d(line["gross_total"])
        for doc_id, mode in self.invoices:
            detail = self._detail(doc_id, mode)
            for row, item in enumerate(detail["items"], start=1):
                qty, qty_nc = d(item["qty"]), d(item["qty_nc"])
                assert Decimal(0) <= qty_nc <= qty
                assert qty - qty_nc == credited_qty[(doc_id, row)]
                assert credited_gross[(doc_id, row)] <= d(item["amounts"]["gross_total"])
                if qty_nc == 0:
                    assert credited_gross[(doc_id, row)] == d(item["amounts"]["gross_total"])


Books.TestCase.settings = settings(
    max_examples=100, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_books_stay_consistent = Books.TestCase
