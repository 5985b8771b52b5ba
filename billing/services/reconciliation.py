"""Gateway reconciliation: the gateway's payments, refunds and payouts for a day or a range,
matched with the ledger's entries on the gateway clearing account.

The ledger's side:
- a capture, the entry keyed "payment:<pk>:capture" (a top-up or an order's payment), matched
  on its Payment.gateway_payment_id; only payments through the reconciled gateway count;
- a refund to the original method, the entry keyed "refund:<pk>", matched on the
  Refund.gateway_refund_id;
- a refund made at the gateway only and booked by finance from a run's page, the entry keyed
  "gateway-refund:<gateway>:<gateway refund id>" (billing.services.gateway_refunds);
- a payout recorded by finance (GatewayPayout), matched on the gateway's payout id.

An entry can be posted a moment after the gateway's midnight (a capture at 23:59:59 at the
gateway is posted at 00:00:02 by the webhook): both sides are read with a day's margin on
each side, matched, and an item is reported when either side falls in the range.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import FINANCE
from billing.gateways import (
    GatewayError,
    GatewayTransaction,
    UnknownGateway,
    checkout_gateway,
    gateway_get,
)
from billing.models import (
    GatewayPayout,
    JournalEntry,
    LedgerAccount,
    Payment,
    Posting,
    ReconciliationItem,
    ReconciliationRun,
    Refund,
)
from billing.money import quantum
from billing.selectors.reports import day_end, day_start
from billing.services.emails import email_send

logger = logging.getLogger(__name__)

Result = ReconciliationItem.Result
Kind = ReconciliationItem.Kind
MARGIN = timedelta(days=1)
ERROR_NO_GATEWAY = "The {gateway} gateway is not configured here."
GATEWAY_REFUND_PREFIX = "gateway-refund"


def gateway_refund_key(gateway: str, refund_id: str) -> str:
    """The ledger entry's key for a refund made at the gateway only and booked by finance."""
    return f"{GATEWAY_REFUND_PREFIX}:{gateway}:{refund_id}"


@dataclass
class Side:
    """One side's figure for a key: summed when a key appears more than once."""

    currency: str
    amount: Decimal
    occurred_at: datetime
    fee: Decimal = Decimal(0)
    payment_id: int | None = None
    refund_id: int | None = None
    entry_id: int | None = None
    payout_id: int | None = None
    payment_ref: str = ""  # the gateway's payment a refund belongs to (gateway side)


@dataclass
class Sides:
    ledger: dict[tuple[str, str], Side] = field(default_factory=dict)
    gateway: dict[tuple[str, str], Side] = field(default_factory=dict)


def reconciliation_run(
    *, gateway: str, start: date, end: date, run_by: User | None
) -> ReconciliationRun:
    """Compare and store a run; a gateway that cannot be reached makes a failed run."""
    lo, hi = day_start(start), day_end(end)
    sides = Sides()
    try:
        # No transaction is open while the gateway is asked.
        transactions = gateway_get(gateway).transactions_list(start=lo - MARGIN, end=hi + MARGIN)
    except (GatewayError, UnknownGateway) as exc:
        message = (
            ERROR_NO_GATEWAY.format(gateway=gateway)
            if isinstance(exc, UnknownGateway)
            else str(exc)
        )
        logger.warning("Reconciliation of %s %s..%s failed: %s", gateway, start, end, message)
        return ReconciliationRun.objects.create(
            gateway=gateway,
            start=start,
            end=end,
            run_by=run_by,
            status=ReconciliationRun.Status.FAILED,
            error=message,
        )
    _gateway_side(sides, transactions)
    _ledger_side(sides, gateway, lo - MARGIN, hi + MARGIN)
    _payouts_side(sides, gateway, start - MARGIN, end + MARGIN)
    items = _compare(sides, lo, hi)
    _link_unbooked(items, gateway, sides)
    with transaction.atomic():
        run = ReconciliationRun.objects.create(
            gateway=gateway,
            start=start,
            end=end,
            run_by=run_by,
            status=ReconciliationRun.Status.CLEAN,
        )
        counts: dict[str, int] = defaultdict(int)
        for item in items:
            item.run = run
            counts[item.result] += 1
        ReconciliationItem.objects.bulk_create(items)
        run.matched_count = counts[Result.MATCHED]
        run.missing_in_ledger_count = counts[Result.MISSING_IN_LEDGER]
        run.missing_at_gateway_count = counts[Result.MISSING_AT_GATEWAY]
        run.mismatch_count = counts[Result.AMOUNT_MISMATCH]
        run.totals = _totals(items)
        if run.discrepancy_count:
            run.status = ReconciliationRun.Status.DISCREPANCIES
        run.save()
    return run


# --- The daily run and finance's email ---------------------------------------------------

DISCREPANCIES_TEMPLATE = "billing/email/reconciliation_discrepancies"


def reconciliation_daily(*, today: date | None = None) -> ReconciliationRun | None:
    """Yesterday (the shop's time zone) for the gateway taking payments now, once a day.

    Safe to run twice: when the task already ran that day's range and the gateway answered,
    the second call does nothing (a clean day stays recorded once and finance are not emailed
    twice); after a failed run it tries again. Staff re-run any range from the admin.
    """
    day = (today or timezone.localdate()) - timedelta(days=1)
    gateway = checkout_gateway().name
    done = ReconciliationRun.objects.filter(
        gateway=gateway, start=day, end=day, run_by__isnull=True
    ).exclude(status=ReconciliationRun.Status.FAILED)
    if done.exists():
        return None
    run = reconciliation_run(gateway=gateway, start=day, end=day, run_by=None)
    if run.status != ReconciliationRun.Status.CLEAN:
        reconciliation_notify(run=run)
    return run


def finance_recipients() -> list[User]:
    """Every active member of the Finance group with an address, and SIMDESK_FINANCE_EMAIL."""
    people = list(
        User.objects.filter(groups__name=FINANCE, is_active=True)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )
    inbox = settings.SIMDESK_FINANCE_EMAIL
    if inbox and inbox.lower() not in {p.email.lower() for p in people}:
        # The inbox has no account: an unsaved user carries its address and the shop's language.
        people.append(User(email=inbox, preferred_language=settings.LANGUAGE_CODE))
    return people


def run_admin_url(run: ReconciliationRun) -> str:
    path = reverse("admin:billing_reconciliationrun_change", args=[run.pk])
    return f"{settings.SIMDESK_SITE_URL}{path}"


def reconciliation_notify(*, run: ReconciliationRun) -> int:
    """Tell finance what did not match (counts and a link, never ids or amounts of
    customers); returns how many were emailed."""
    sent = 0
    context = {"run": run, "run_url": run_admin_url(run)}
    for person in finance_recipients():
        try:
            email_send(to=person, template=DISCREPANCIES_TEMPLATE, context=context)
        except OSError:
            logger.warning("Reconciliation run %s: %s was not told", run.pk, person.email)
            continue
        sent += 1
    return sent


def _add(into: dict[tuple[str, str], Side], key: tuple[str, str], side: Side) -> None:
    known = into.get(key)
    if known is None:
        into[key] = side
        return
    known.amount += side.amount
    known.fee += side.fee
    known.occurred_at = min(known.occurred_at, side.occurred_at)


def _gateway_side(sides: Sides, transactions: list[GatewayTransaction]) -> None:
    for txn in transactions:
        _add(
            sides.gateway,
            (txn.kind, txn.key or txn.id),
            Side(
                currency=str(txn.amount.currency),
                amount=txn.amount.amount,
                fee=txn.fee.amount,
                occurred_at=txn.created,
                payment_ref=txn.payment_ref,
            ),
        )


def _ledger_side(sides: Sides, gateway: str, lo: datetime, hi: datetime) -> None:
    """Captures and refunds to the original method on the clearing account, by gateway."""
    postings = (
        Posting.objects.filter(
            account__purpose=LedgerAccount.Purpose.GATEWAY_CLEARING,
            account__owner__isnull=True,
            entry__payment__gateway=gateway,
            entry__created_at__gte=lo,
            entry__created_at__lt=hi,
        )
        .exclude(entry__kind=JournalEntry.Kind.PAYOUT)
        .select_related("entry", "entry__payment")
        .order_by("entry__created_at", "entry_id", "pk")
    )
    refund_ids: dict[int, int] = {}  # entry id -> refund pk, read in one query below
    booked: dict[int, str] = {}  # entry id -> the gateway's refund id, booked by finance
    rows: list[tuple[Posting, str]] = []
    booked_prefix = gateway_refund_key(gateway, "")
    for posting in postings:
        key = posting.entry.idempotency_key
        parts = key.split(":")
        if len(parts) == 3 and parts[0] == "payment" and parts[2] == "capture":
            rows.append((posting, Kind.PAYMENT))
        elif len(parts) == 2 and parts[0] == "refund" and parts[1].isdigit():
            refund_ids[posting.entry_id] = int(parts[1])
            rows.append((posting, Kind.REFUND))
        elif key.startswith(booked_prefix) and len(key) > len(booked_prefix):
            booked[posting.entry_id] = key[len(booked_prefix) :]
            rows.append((posting, Kind.REFUND))
    refunds = Refund.objects.in_bulk(list(refund_ids.values()))
    for posting, kind in rows:
        entry = posting.entry
        payment = entry.payment
        assert payment is not None
        side = Side(
            currency=posting.currency,
            amount=posting.amount,
            occurred_at=entry.created_at,
            payment_id=payment.pk,
            entry_id=entry.pk,
        )
        if kind == Kind.PAYMENT:
            reference = payment.gateway_payment_id or payment.receipt_number
        elif entry.pk in booked:
            reference = booked[entry.pk]
        else:
            refund = refunds.get(refund_ids[entry.pk])
            side.refund_id = refund.pk if refund is not None else None
            reference = (
                (refund.gateway_refund_id or refund.number) if refund else entry.idempotency_key
            )
        _add(sides.ledger, (kind, reference), side)


def _payouts_side(sides: Sides, gateway: str, first: date, last: date) -> None:
    for payout in GatewayPayout.objects.filter(
        gateway=gateway, paid_on__gte=first, paid_on__lte=last
    ).order_by("paid_on", "pk"):
        _add(
            sides.ledger,
            (Kind.PAYOUT, payout.reference),
            Side(
                currency=payout.currency,
                amount=-payout.amount,
                occurred_at=day_start(payout.paid_on),
                entry_id=payout.entry_id,
                payout_id=payout.pk,
            ),
        )


def _compare(sides: Sides, lo: datetime, hi: datetime) -> list[ReconciliationItem]:
    def in_range(side: Side | None) -> bool:
        return side is not None and lo <= side.occurred_at < hi

    items = []
    keys = sorted(
        set(sides.ledger) | set(sides.gateway),
        key=lambda k: (
            min(s.occurred_at for s in (sides.ledger.get(k), sides.gateway.get(k)) if s),
            k,
        ),
    )
    for key in keys:
        ledger, gateway = sides.ledger.get(key), sides.gateway.get(key)
        if not (in_range(ledger) or in_range(gateway)):
            continue
        if ledger is None:
            result = Result.MISSING_IN_LEDGER
        elif gateway is None:
            result = Result.MISSING_AT_GATEWAY
        elif (ledger.currency, ledger.amount) != (gateway.currency, gateway.amount):
            result = Result.AMOUNT_MISMATCH
        else:
            result = Result.MATCHED
        either = ledger or gateway
        assert either is not None
        items.append(
            ReconciliationItem(
                result=result,
                kind=key[0],
                reference=key[1][:255],
                payment_id=ledger.payment_id if ledger else None,
                refund_id=ledger.refund_id if ledger else None,
                entry_id=ledger.entry_id if ledger else None,
                payout_id=ledger.payout_id if ledger else None,
                currency=either.currency,
                ledger_amount=ledger.amount if ledger else None,
                gateway_amount=gateway.amount if gateway else None,
                gateway_currency=gateway.currency if gateway else "",
                gateway_fee=gateway.fee if gateway else None,
                occurred_at=gateway.occurred_at if gateway else either.occurred_at,
            )
        )
    return items


def _link_unbooked(items: list[ReconciliationItem], gateway: str, sides: Sides) -> None:
    """A payment or refund missing in the ledger still links to our record when there is one
    (a payment never confirmed, a refund whose entry failed, a refund made at the gateway only
    links to the payment it refunded): two queries for the run."""
    missing = [i for i in items if i.result == Result.MISSING_IN_LEDGER]
    refunded: dict[int, str] = {}  # id(item) -> the gateway's payment a refund belongs to
    for item in missing:
        side = sides.gateway.get((item.kind, item.reference))
        if item.kind == Kind.REFUND and side is not None and side.payment_ref:
            refunded[id(item)] = side.payment_ref
    payment_refs = [i.reference for i in missing if i.kind == Kind.PAYMENT]
    payments = {
        p.gateway_payment_id: p.pk
        for p in Payment.objects.filter(
            gateway=gateway, gateway_payment_id__in=payment_refs + list(refunded.values())
        ).only("pk", "gateway_payment_id")
    }
    refunds = {
        r.gateway_refund_id: (r.pk, r.order.payment_id)
        for r in Refund.objects.filter(
            gateway_refund_id__in=[i.reference for i in missing if i.kind == Kind.REFUND]
        ).select_related("order")
    }
    for item in missing:
        if item.kind == Kind.PAYMENT:
            item.payment_id = payments.get(item.reference)
        elif item.kind == Kind.REFUND and item.reference in refunds:
            item.refund_id, item.payment_id = refunds[item.reference]
        elif item.kind == Kind.REFUND and id(item) in refunded:
            item.payment_id = payments.get(refunded[id(item)])


def _totals(items: list[ReconciliationItem]) -> dict[str, dict[str, str]]:
    """Per currency: the gateway's gross and fees and the ledger's figure for payments and
    refunds, and each side's payouts."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for item in items:
        payout = item.kind == Kind.PAYOUT
        if item.gateway_amount is not None:
            figures = sums[item.gateway_currency or item.currency]
            figures["gateway_payouts" if payout else "gateway_gross"] += item.gateway_amount
            figures["gateway_fees"] += item.gateway_fee or Decimal(0)
        if item.ledger_amount is not None:
            sums[item.currency]["ledger_payouts" if payout else "ledger"] += item.ledger_amount
    names = ("gateway_gross", "gateway_fees", "ledger", "gateway_payouts", "ledger_payouts")
    return {
        currency: {name: str(figures[name].quantize(quantum(currency))) for name in names}
        for currency, figures in sorted(sums.items())
    }
