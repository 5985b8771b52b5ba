"""Imported stock enters the books: eSIM inventory against supplier payable, per currency."""

import csv
import io
from decimal import Decimal

import pytest

from billing.models import JournalEntry, LedgerAccount
from billing.services.inventory import inventory_receive
from billing.services.ledger import system_account_get
from catalog.importing import profiles_import
from catalog.models import EsimProfile, ImportBatch
from tests.catalog.factories import PlanFactory, iccid
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose


def csv_of(rows: list[tuple[int, str, str]]) -> bytes:
    """Rows of (number, plan code, "cost[ currency]")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["iccid", "activation_code", "confirmation_code", "plan", "cost", "currency"])
    for n, plan_code, cost in rows:
        amount, _, currency = cost.partition(" ")
        code = f"LPA:1$smdp.example.com$MATCH-{n:06d}"
        writer.writerow([iccid(n), code, "", plan_code, amount, currency])
    return out.getvalue().encode()


def balances(currency: str) -> tuple[Decimal, Decimal]:
    inventory = system_account_get(purpose=Purpose.ESIM_INVENTORY, currency=currency)
    payable = system_account_get(purpose=Purpose.SUPPLIER_PAYABLE, currency=currency)
    inventory.refresh_from_db()
    payable.refresh_from_db()
    return inventory.balance, payable.balance


def test_an_import_posts_its_cost_per_currency_in_the_same_transaction():
    plan = PlanFactory()
    clerk = UserFactory(is_staff=True)
    rows = [(n, plan.code, "3.20") for n in range(3)] + [(10, plan.code, "20.00 CNY")]
    batch = profiles_import(data=csv_of(rows), file_name="march.csv", actor=clerk)

    entries = JournalEntry.objects.filter(import_batch=batch).order_by("idempotency_key")
    assert [(e.kind, e.created_by) for e in entries] == [("inventory_receipt", clerk)] * 2
    assert balances("USD") == (Decimal("9.60"), Decimal("9.60"))
    assert balances("CNY") == (Decimal("20.00"), Decimal("20.00"))
    assert "4 eSIM profiles from march.csv" in entries[0].memo


def test_receiving_a_batch_twice_posts_once():
    plan = PlanFactory()
    batch = profiles_import(
        data=csv_of([(1, plan.code, "3.20")]), file_name="a.csv", actor=UserFactory(is_staff=True)
    )
    again = inventory_receive(batch=batch)
    assert len(again) == 1 and JournalEntry.objects.filter(import_batch=batch).count() == 1
    assert balances("USD") == (Decimal("3.20"), Decimal("3.20"))


def test_free_profiles_post_nothing():
    plan = PlanFactory()
    batch = profiles_import(
        data=csv_of([(1, plan.code, "0")]), file_name="free.csv", actor=UserFactory(is_staff=True)
    )
    assert not JournalEntry.objects.filter(import_batch=batch).exists()


def test_when_the_posting_fails_the_import_is_undone(monkeypatch):
    import billing.receivers

    def broken(**kwargs):
        raise RuntimeError("ledger down")

    monkeypatch.setattr(billing.receivers, "inventory_receive", broken)
    plan = PlanFactory()
    with pytest.raises(RuntimeError):
        profiles_import(
            data=csv_of([(1, plan.code, "3.20")]),
            file_name="a.csv",
            actor=UserFactory(is_staff=True),
        )
    assert not ImportBatch.objects.exists() and not EsimProfile.objects.exists()
