"""The demo's events: a realistic morning in two shops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def _when(minutes_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")


def _sale(event_id: str, store: int, sale_id: str, lines: list[dict], payments: list[dict], status: str,
          customer: dict | None = None, minutes_ago: int = 30) -> dict[str, Any]:
    return {"id": event_id, "type": "sale.completed", "occurred_at": _when(minutes_ago), "store_id": store,
            "data": {"sale_id": sale_id, "closed_at": _when(minutes_ago), "customer": customer,
                     "lines": lines, "payments": payments, "payment_status": status}}


def first_wave(run: str, lisbon: int, funchal: int) -> list[tuple[str, dict[str, Any]]]:
    """(label, envelope) pairs; ``run`` keeps ids unique when the demo runs against a shared database."""
    cafe = [{"reference": "CAFE", "title": "Café", "qty": "2", "unit_price": "0.80", "tax": "RED"},
            {"reference": "PASTEL", "title": "Pastel de nata", "qty": "1", "unit_price": "1.30", "tax": "INT"}]
    b2b = [{"reference": "CATER", "title": "Catering reunião", "qty": "1", "unit_price": "180.00", "tax": "NOR"},
           {"reference": "SUMO", "title": "Sumo natural", "qty": "10", "unit_price": "3.50", "tax": "NOR"}]
    book = [{"reference": "CAFE", "title": "Café", "qty": "1", "unit_price": "0.80", "tax": "RED"},
            {"reference": "CURSO", "title": "Workshop de pastelaria (formação)", "qty": "1",
             "unit_price": "45.00", "tax": "ISE", "exemption": "M07"}]
    madeira = [{"reference": "BOLO", "title": "Bolo do caco", "qty": "2", "unit_price": "2.50", "tax": "INT"},
               {"reference": "PONCHA", "title": "Poncha", "qty": "2", "unit_price": "3.00", "tax": "NOR"}]
    # A service over 100 EUR is never an FS (CIVA 40(1)), and a customer who gives name and address
    # without a NIF still gets them on the document (pt-invoicing-rules §3).
    service = [{"reference": "CATER-EVT", "title": "Serviço de catering (evento)", "qty": "1",
                "unit_price": "150.00", "tax": "NOR", "kind": "service"}]
    named = [{"reference": "BOLO-CASAM", "title": "Bolo de casamento", "qty": "1", "unit_price": "320.00",
              "tax": "INT"}]
    order = [{"reference": "BOLO-ANIV", "title": "Bolo de aniversário", "qty": "1", "unit_price": "60.00",
              "tax": "INT"}]
    return [
        ("B2B sale with NIF", _sale(f"evt_{run}_b2b", lisbon, f"{run}-L-0001", b2b,
                                    [{"method": "card", "amount": "215.00", "status": "paid"}], "paid",
                                    {"name": "Empresa Cliente, Lda", "fiscal_id": "508332745", "country": "PT"})),
        ("anonymous café sale", _sale(f"evt_{run}_cafe", lisbon, f"{run}-L-0002", cafe,
                                      [{"method": "cash", "amount": "2.90", "status": "paid"}], "paid")),
        ("sale with an exempt line", _sale(f"evt_{run}_exempt", lisbon, f"{run}-L-0003", book,
                                           [{"method": "mbway", "amount": "45.80", "status": "paid"}], "paid",
                                           {"name": "Ana Silva", "fiscal_id": "123456789"})),
        ("Madeira store sale", _sale(f"evt_{run}_madeira", funchal, f"{run}-F-0001", madeira,
                                     [{"method": "cash", "amount": "11.00", "status": "paid"}], "paid")),
        ("services sale over 100 €", _sale(f"evt_{run}_service", lisbon, f"{run}-L-0005", service,
                                           [{"method": "card", "amount": "150.00", "status": "paid"}], "paid")),
        ("named customer, no NIF", _sale(f"evt_{run}_named", lisbon, f"{run}-L-0006", named,
                                         [{"method": "card", "amount": "320.00", "status": "paid"}], "paid",
                                         {"name": "Maria Santos", "address": "Rua Augusta 10",
                                          "postalcode": "1100-053", "city": "Lisboa"})),
        ("order on credit", _sale(f"evt_{run}_credit", lisbon, f"{run}-L-0004", order,
                                  [{"method": "transfer", "amount": "60.00", "status": "pending"}], "pending",
                                  {"name": "Rui Costa", "fiscal_id": "100000002"})),
    ]


def second_wave(run: str, lisbon: int) -> list[tuple[str, dict[str, Any]]]:
    """Events that refer to documents of the first wave."""
    return [
        ("payment confirmed later", {
            "id": f"evt_{run}_paid", "type": "payment.confirmed", "occurred_at": _when(1), "store_id": lisbon,
            "data": {"sale_id": f"{run}-L-0004", "payment_id": f"{run}-P-0001", "method": "transfer",
                     "amount": "60.00", "confirmed_at": _when(1)}}),
        ("partial refund", {
            "id": f"evt_{run}_refund", "type": "sale.refunded", "occurred_at": _when(0), "store_id": lisbon,
            "data": {"sale_id": f"{run}-L-0001", "refund_id": f"{run}-R-0001",
                     "reason": "Devolução de 2 sumos", "lines": [{"reference": "SUMO", "qty": "2"}]}}),
    ]
