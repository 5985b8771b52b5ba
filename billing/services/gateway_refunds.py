"""Resolving a reconciliation run's discrepancies from its page in the staff console.

- A payment missing in the ledger whose webhook was lost: ask the gateway now
  (`reconciliation_payment_ask`). The sweeper's `payment_refresh` asks with no lock held and the
  capture path posts the entry exactly once; nothing is posted here.
- A refund made at the gateway only (in its dashboard): finance book it
  (`gateway_refund_book`), one entry keyed "gateway-refund:<gateway>:<refund id>", which the
  next run matches with the gateway's refund. Payment.refunded_amount is left to the gateway's
  own event.

Each resolution is recorded on the item: the entry, who, when and why.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from accounts.models import User
from billing.exceptions import InsufficientFunds, ReconciliationRefused
from billing.models import (
    JournalEntry,
    LedgerAccount,
    Payment,
    ReconciliationItem,
    Refund,
)
from billing.money import quantum
from billing.services.ledger import Line, ledger_post, system_account_get
from billing.services.payments import payment_refresh
from billing.services.reconciliation import gateway_refund_key
from billing.services.wallets import wallet_get

logger = logging.getLogger(__name__)

Result = ReconciliationItem.Result
Kind = ReconciliationItem.Kind
Purpose = LedgerAccount.Purpose

ERROR_NOT_MISSING_PAYMENT = _("Only a payment missing in the ledger can be asked about.")
ERROR_NOT_MISSING_REFUND = _("Only a refund missing in the ledger can be booked.")
ERROR_NO_PAYMENT = _("This item is not linked to one of our payments.")
ERROR_OURS = _("This refund is one of ours (%(number)s): finish it from the refund's page.")
ERROR_CURRENCY = _("The gateway refunded %(refunded)s, but the payment is in %(currency)s.")
ERROR_AMOUNT = _("The gateway's figure for this item is not a refund.")
ERROR_TOO_MUCH = _("The gateway refunded %(refunded)s, more than the payment's %(paid)s.")
ERROR_NO_NOTE = _("Say why this refund is booked.")
ERROR_WALLET = _(
    "The customer's wallet holds %(balance)s, less than the %(refunded)s refunded. "
    "Adjust the wallet first, then book the refund."
)


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount.quantize(quantum(currency))} {currency}"


def reconciliation_payment_ask(*, item_id: int, asked_by: User) -> Payment:
    """Ask the gateway about a payment missing in the ledger (a lost webhook) and apply the
    answer. When the payment is now captured, the item records who asked and the capture's
    entry. Raises ReconciliationRefused, GatewayError or PaymentError (nothing written then)."""
    item = ReconciliationItem.objects.get(pk=item_id)
    if item.kind != Kind.PAYMENT or item.result != Result.MISSING_IN_LEDGER:
        raise ReconciliationRefused(str(ERROR_NOT_MISSING_PAYMENT))
    if item.payment_id is None:
        raise ReconciliationRefused(str(ERROR_NO_PAYMENT))
    payment = payment_refresh(payment_id=item.payment_id)  # no transaction open: it asks
    logger.info(
        "Reconciliation item %s: %s asked the gateway about payment %s, now %s",
        item.pk,
        asked_by.pk,
        payment.pk,
        payment.status,
    )
    if payment.is_captured:
        entry = JournalEntry.objects.filter(idempotency_key=f"payment:{payment.pk}:capture").first()
        ReconciliationItem.objects.filter(pk=item.pk, resolved_at__isnull=True).update(
            resolved_entry=entry, resolved_by=asked_by, resolved_at=timezone.now()
        )
    return payment


def gateway_refund_book(*, item_id: int, booked_by: User, note: str) -> JournalEntry:
    """Post a refund made at the gateway only: an order's to sales refunds, a top-up's out of
    the customer's wallet, against gateway clearing. Once per gateway refund: a second call,
    or a concurrent one, returns the first entry. Raises ReconciliationRefused (nothing
    written) for an item that is not such a refund, a wallet holding less, or no note."""
    note = note.strip()
    if not note:
        raise ReconciliationRefused(str(ERROR_NO_NOTE))
    item = ReconciliationItem.objects.select_related("run", "payment", "payment__customer").get(
        pk=item_id
    )
    payment = _refund_check(item)
    key = gateway_refund_key(item.run.gateway, item.reference)
    existing = JournalEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        _resolved(item, existing, booked_by, note)
        return existing
    assert item.gateway_amount is not None
    refunded = Money(-item.gateway_amount, payment.currency)
    clearing = system_account_get(purpose=Purpose.GATEWAY_CLEARING, currency=payment.currency)
    if payment.purpose == Payment.Purpose.ORDER:
        debit = system_account_get(purpose=Purpose.SALES_REFUNDS, currency=payment.currency)
    else:  # the customer got the money back on the card: it leaves their wallet
        debit = wallet_get(user=payment.customer, currency=payment.currency)
    with transaction.atomic():
        try:
            entry = ledger_post(
                lines=[Line(debit, refunded), Line(clearing, -refunded)],
                idempotency_key=key,
                kind=JournalEntry.Kind.REFUND,
                memo=f"Refund {item.reference} made at {item.run.gateway} of payment "
                f"{payment.receipt_number}: {note}",
                created_by=booked_by,
                payment=payment,
            )
        except InsufficientFunds as short:
            raise ReconciliationRefused(
                ERROR_WALLET
                % {
                    "balance": _money(short.balance.amount, payment.currency),
                    "refunded": _money(refunded.amount, payment.currency),
                }
            ) from short
        _resolved(item, entry, booked_by, note)
    logger.info(
        "Reconciliation item %s: gateway refund booked by %s as entry %s",
        item.pk,
        booked_by.pk,
        entry.pk,
    )
    return entry


def _refund_check(item: ReconciliationItem) -> Payment:
    if item.kind != Kind.REFUND or item.result != Result.MISSING_IN_LEDGER:
        raise ReconciliationRefused(str(ERROR_NOT_MISSING_REFUND))
    payment = item.payment
    if payment is None:
        raise ReconciliationRefused(str(ERROR_NO_PAYMENT))
    ours = Refund.objects.filter(gateway_refund_id=item.reference).first()
    if ours is not None:
        raise ReconciliationRefused(ERROR_OURS % {"number": ours.number})
    currency = item.gateway_currency or item.currency
    if item.gateway_amount is None or item.gateway_amount >= 0:
        raise ReconciliationRefused(str(ERROR_AMOUNT))
    refunded = _money(-item.gateway_amount, currency)
    if currency != payment.currency:
        raise ReconciliationRefused(
            ERROR_CURRENCY % {"refunded": refunded, "currency": payment.currency}
        )
    if -item.gateway_amount > payment.amount:
        raise ReconciliationRefused(
            ERROR_TOO_MUCH
            % {"refunded": refunded, "paid": _money(payment.amount, payment.currency)}
        )
    return payment


def _resolved(item: ReconciliationItem, entry: JournalEntry, user: User, note: str) -> None:
    """Record the resolution on the item once (the first booking stands)."""
    ReconciliationItem.objects.filter(pk=item.pk, resolved_at__isnull=True).update(
        resolved_entry=entry, resolved_by=user, resolved_at=timezone.now(), resolution_note=note
    )
