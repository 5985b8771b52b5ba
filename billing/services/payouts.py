"""Gateway payouts: the gateway sends what it holds for us to the bank, less its fees.

One entry per payout: bank (the amount that arrived) and gateway fees (what the gateway kept)
against gateway clearing (their sum). The idempotency key is the gateway's payout id, so the
same payout recorded twice is one entry; the same id with other figures is refused.
"""

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from djmoney.money import Money

from accounts.models import User
from billing.exceptions import IdempotencyConflict, InvalidLines, PayoutRefused
from billing.models import GatewayPayout, JournalEntry, LedgerAccount, Payment
from billing.money import UnsupportedCurrency, is_exact, minor_exponent
from billing.services.ledger import Line, ledger_post, system_account_get

Purpose = LedgerAccount.Purpose

# Gateways that pay out to the bank (the counter's money is already in cash or the bank).
PAYOUT_GATEWAYS = (Payment.Gateway.STRIPE, Payment.Gateway.SANDBOX)
REFERENCE_MAX_LENGTH = 150


def payout_key(gateway: str, reference: str) -> str:
    return f"payout:{gateway}:{reference}"


def payout_record(
    *,
    gateway: str,
    reference: str,
    currency: str,
    paid_on: date,
    amount_to_bank: Money,
    fees: Money,
    recorded_by: User,
    note: str,
) -> GatewayPayout:
    """Record a payout once; a second call with the same figures returns the first."""
    reference = reference.strip()
    _check(gateway, reference, currency, amount_to_bank, fees)
    existing = _existing(gateway, reference)
    if existing is not None:
        return _same_or_refuse(existing, currency, amount_to_bank, fees)
    total = amount_to_bank + fees
    lines = [
        Line(system_account_get(purpose=Purpose.BANK, currency=currency), amount_to_bank),
        Line(system_account_get(purpose=Purpose.GATEWAY_CLEARING, currency=currency), -total),
    ]
    if fees.amount:
        lines.insert(
            1, Line(system_account_get(purpose=Purpose.GATEWAY_FEES, currency=currency), fees)
        )
    try:
        with transaction.atomic(durable=True):
            entry = ledger_post(
                lines=lines,
                idempotency_key=payout_key(gateway, reference),
                kind=JournalEntry.Kind.PAYOUT,
                memo=f"Payout {reference} from {gateway} on {paid_on.isoformat()}"
                + (f": {note}" if note else ""),
                created_by=recorded_by,
            )
            return GatewayPayout.objects.create(
                gateway=gateway,
                reference=reference,
                currency=currency,
                amount=amount_to_bank.amount,
                fees=fees.amount,
                paid_on=paid_on,
                entry=entry,
                recorded_by=recorded_by,
                note=note,
            )
    except (IntegrityError, IdempotencyConflict):
        # Recorded at the same moment by someone else: theirs stands if the figures agree.
        existing = _existing(gateway, reference)
        if existing is None:
            raise
        return _same_or_refuse(existing, currency, amount_to_bank, fees)
    except InvalidLines as exc:
        raise PayoutRefused(str(exc)) from exc


def _check(gateway: str, reference: str, currency: str, amount: Money, fees: Money) -> None:
    if gateway not in PAYOUT_GATEWAYS:
        raise PayoutRefused(_("Payouts are recorded for Stripe or the sandbox only."))
    if not reference or len(reference) > REFERENCE_MAX_LENGTH:
        raise PayoutRefused(
            _("The payout reference must have 1 to %(max)s characters.")
            % {"max": REFERENCE_MAX_LENGTH}
        )
    if str(amount.currency) != currency or str(fees.currency) != currency:
        raise PayoutRefused(_("The amount and the fees must be in the payout's currency."))
    for money in (amount, fees):
        try:
            exact = is_exact(money)
        except UnsupportedCurrency as exc:
            raise PayoutRefused(str(exc)) from exc
        if not exact:
            raise PayoutRefused(
                _("%(currency)s amounts have at most %(places)s decimal places.")
                % {"currency": currency, "places": minor_exponent(currency)}
            )
    if amount.amount <= 0:
        raise PayoutRefused(_("The amount paid to the bank must be more than zero."))
    if fees.amount < 0:
        raise PayoutRefused(_("The fees cannot be negative."))


def _existing(gateway: str, reference: str) -> GatewayPayout | None:
    return GatewayPayout.objects.filter(gateway=gateway, reference=reference).first()


def _same_or_refuse(
    payout: GatewayPayout, currency: str, amount: Money, fees: Money
) -> GatewayPayout:
    same = (
        payout.currency == currency
        and payout.amount == amount.amount
        and payout.fees == (fees.amount or Decimal(0))
    )
    if not same:
        raise PayoutRefused(
            _(
                "Payout %(reference)s was already recorded with %(amount)s %(currency)s to the "
                "bank and %(fees)s in fees. A payout is recorded once; correct a mistake with "
                "an adjustment."
            )
            % {
                "reference": payout.reference,
                "amount": payout.amount,
                "currency": payout.currency,
                "fees": payout.fees,
            }
        )
    return payout
