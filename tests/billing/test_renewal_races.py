"""Auto-renewal under real concurrency on PostgreSQL: threads, each on its own connection,
with committed transactions. Two sweeps at once, one attempt delivered to several workers,
and a card charge raced: each period is charged once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.models import JournalEntry, Order, OrderLine, Payment, Renewal, SandboxCharge
from billing.services.renewals import renewal_attempt, renewals_open
from billing.services.wallets import wallet_get
from billing.tasks import renewals_sweep_task
from catalog.models import Bundle
from tests.billing.order_support import funded_customer, plan_for_sale
from tests.billing.renewal_support import renewable_card
from tests.billing.test_order_races import outcomes, race
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
Status = Renewal.Status


def test_two_sweeps_at_once_charge_each_of_20_cards_once():
    plan = plan_for_sale(price="10.00", stock=20)
    customers = [funded_customer("30.00") for _ in range(20)]
    cards = [
        renewable_card(c, plan, ends_in=timedelta(hours=5 + n % 7))[0]
        for n, c in enumerate(customers)
    ]

    results = race(2, lambda n: renewals_sweep_task.run())
    assert outcomes(results)["int"] == 2, results

    assert Renewal.objects.count() == 20
    assert Renewal.objects.filter(status=Status.SUCCEEDED, paid_with="wallet").count() == 20
    charges = JournalEntry.objects.filter(idempotency_key__startswith="renew:")
    assert charges.count() == 20
    assert set(charges.values_list("idempotency_key", flat=True)) == set(
        Renewal.objects.values_list("key", flat=True)
    )
    assert Order.objects.filter(lines__kind=OrderLine.Kind.RENEWAL).count() == 20
    queued = Bundle.objects.filter(status=Bundle.Status.QUEUED, profile__in=cards)
    assert queued.count() == 20
    assert queued.values("profile").distinct().count() == 20
    for customer in customers:
        assert wallet_get(user=customer, currency="USD").balance == Decimal("10.00")
    # A third sweep afterwards finds nothing.
    assert renewals_sweep_task.run() == 0
    assert charges.count() == 20


def test_one_attempt_run_by_4_workers_at_once_charges_once():
    plan = plan_for_sale(price="10.00")
    customer = funded_customer("50.00")
    profile, _bundle = renewable_card(customer, plan)
    assert renewals_open() == 1
    renewal = Renewal.objects.get()

    results = race(4, lambda n: renewal_attempt(renewal_id=renewal.pk))
    assert outcomes(results)["Renewal"] == 4, results
    renewal.refresh_from_db()
    assert (renewal.status, renewal.attempts) == (Status.SUCCEEDED, 1)
    assert JournalEntry.objects.filter(idempotency_key=renewal.key).count() == 1
    assert wallet_get(user=customer, currency="USD").balance == Decimal("30.00")
    assert Order.objects.filter(lines__kind=OrderLine.Kind.RENEWAL).count() == 1
    assert Bundle.objects.filter(profile=profile, status=Bundle.Status.QUEUED).count() == 1


@pytest.mark.parametrize("threads", [2, 4])
def test_a_card_charge_raced_is_made_once(threads):
    from tests.billing.renewal_support import auto_on, card_bought_esim, run_bundle

    plan = plan_for_sale(price="15.00")
    customer = UserFactory()
    _order, profile = card_bought_esim(customer, plan)
    run_bundle(profile, ends_in=timedelta(hours=10))
    auto_on(customer, profile)
    assert renewals_open() == 1
    renewal = Renewal.objects.get()

    results = race(threads, lambda n: renewal_attempt(renewal_id=renewal.pk))
    assert outcomes(results)["Renewal"] == threads, results
    renewal.refresh_from_db()
    assert (renewal.status, renewal.paid_with) == (Status.SUCCEEDED, Renewal.PaidWith.CARD)
    payments = Payment.objects.filter(order__lines__kind=OrderLine.Kind.RENEWAL)
    assert payments.count() == 1
    payment = payments.get()
    assert payment.status == Payment.Status.SUCCEEDED
    assert SandboxCharge.objects.filter(reference=str(payment.public_id)).count() == 1
    # The purchase and the renewal: two charges at the sandbox, 30.00 in all.
    assert SandboxCharge.objects.count() == 2
    assert SandboxCharge.objects.aggregate(total=Sum("amount"))["total"] == Decimal("30.00")
    assert JournalEntry.objects.filter(idempotency_key=f"payment:{payment.pk}:capture").count() == 1
    assert Bundle.objects.filter(profile=profile, status=Bundle.Status.QUEUED).count() == 1
    assert wallet_get(user=customer, currency="USD").balance == 0
