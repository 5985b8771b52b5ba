"""The ledger in the staff console: read-only pages, statements, Finance's wallet adjustments."""

import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse
from djmoney.money import Money

from accounts.roles import FINANCE, RESELLER_STAFF
from billing.forms import CUSTOMER_UNKNOWN, REASON_REQUIRED
from billing.models import JournalEntry, LedgerAccount, Posting
from billing.services.ledger import system_account_get
from billing.services.wallets import wallet_debit, wallet_get
from tests.billing.conftest import balance_of, fund, key
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Kind = JournalEntry.Kind
Purpose = LedgerAccount.Purpose

CHANGELIST = "/admin/billing/ledgeraccount/"
OPEN_WALLET_URL = "/admin/billing/ledgeraccount/adjust/"


def staff(role: str | None = None, **kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def statement_url(account: LedgerAccount, page: int | None = None) -> str:
    url = f"/admin/billing/ledgeraccount/{account.pk}/statement/"
    return f"{url}?p={page}" if page else url


def adjust_url(account: LedgerAccount) -> str:
    return f"/admin/billing/ledgeraccount/{account.pk}/adjust/"


def adjustment(direction: str, amount: str, reason: str = "Goodwill", token: str = "") -> dict:
    return {
        "direction": direction,
        "amount": amount,
        "reason": reason,
        "token": token or str(uuid.uuid4()),
    }


def adjustments() -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(kind=Kind.ADJUSTMENT))


@pytest.fixture
def finance():
    return staff(FINANCE, email="finance@example.com")


@pytest.fixture
def reseller():
    return staff(RESELLER_STAFF, email="clerk@example.com")


# --- Read-only pages -------------------------------------------------------------------------
def test_the_pages_have_their_admin_urls(wallet):
    assert reverse("admin:billing_ledgeraccount_statement", args=[wallet.pk]) == statement_url(
        wallet
    )
    assert reverse("admin:billing_ledgeraccount_adjust", args=[wallet.pk]) == adjust_url(wallet)
    assert reverse("admin:billing_ledgeraccount_open_wallet") == OPEN_WALLET_URL


def test_finance_sees_accounts_entries_and_postings(client, finance, customer, wallet):
    entry = fund(wallet, "1234.50")
    posting = entry.postings.get(account=wallet)
    client.force_login(finance)

    accounts = client.get(CHANGELIST, {"q": customer.email})
    assert accounts.status_code == 200
    assert list(accounts.context["cl"].result_list) == [wallet]
    html = accounts.content.decode()
    assert '<span class="money">1,234.50 USD</span>' in html
    assert statement_url(wallet) in html  # the list links each statement
    assert customer.email in html

    page = client.get(f"{CHANGELIST}{wallet.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "1,234.50 USD" in html
    assert statement_url(wallet) in html  # object-tools buttons
    assert adjust_url(wallet) in html

    entries = client.get("/admin/billing/journalentry/", {"q": entry.idempotency_key})
    assert entries.status_code == 200
    assert list(entries.context["cl"].result_list) == [entry]
    assert '<span class="money">1,234.50 USD</span>' in entries.content.decode()

    detail = client.get(f"/admin/billing/journalentry/{entry.pk}/change/")
    assert detail.status_code == 200
    inline = detail.context["inline_admin_formsets"][0]
    assert sorted(
        (form.original.account.code, form.original.debit, form.original.credit) for form in inline
    ) == [
        ("1000-USD", Decimal("1234.50"), None),
        (wallet.code, None, Decimal("1234.50")),
    ]
    assert detail.content.decode().count('<span class="money">1,234.50 USD</span>') == 2

    postings = client.get("/admin/billing/posting/", {"q": customer.email})
    assert postings.status_code == 200
    assert list(postings.context["cl"].result_list) == [posting]
    assert client.get(f"/admin/billing/posting/{posting.pk}/change/").status_code == 200


def test_filters_tell_wallets_from_business_accounts(client, finance, wallet):
    client.force_login(finance)

    wallets = client.get(CHANGELIST, {"holder": "wallet"}).context["cl"].result_list
    business = client.get(CHANGELIST, {"holder": "business"}).context["cl"].result_list

    assert list(wallets) == [wallet]
    assert wallet not in business
    assert {account.purpose for account in business} >= {Purpose.CASH_ON_HAND, Purpose.ADJUSTMENTS}
    assert all(account.owner_id is None for account in business)


@pytest.mark.parametrize("role", [FINANCE, "superuser"])
def test_nobody_adds_changes_or_deletes_ledger_rows(client, wallet, role):
    user = staff(is_superuser=True) if role == "superuser" else staff(role)
    entry = fund(wallet, "10.00")
    posting = entry.postings.first()
    client.force_login(user)

    for model, obj in [("ledgeraccount", wallet), ("journalentry", entry), ("posting", posting)]:
        base = f"/admin/billing/{model}/"
        assert client.get(f"{base}add/").status_code == 403
        assert client.post(f"{base}add/", {"memo": "x"}).status_code == 403
        assert client.post(f"{base}{obj.pk}/change/", {"memo": "x", "name": "x"}).status_code == 403
        assert client.get(f"{base}{obj.pk}/delete/").status_code == 403
        assert client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    assert balance_of(wallet) == Decimal("10.00")
    assert JournalEntry.objects.count() == 1
    entry.refresh_from_db()
    assert entry.memo == ""


# --- Statements ------------------------------------------------------------------------------
def test_statement_shows_each_posting_with_the_balance_it_left(client, finance, wallet):
    first = fund(wallet, "100.00")
    spent = wallet_debit(
        wallet=wallet,
        amount=Money("30.00", "USD"),
        destination=Purpose.SALES_REVENUE,
        idempotency_key=key(),
        kind=Kind.PURCHASE,
        memo="Japan 5 GB",
    )
    last = fund(wallet, "5.50")
    client.force_login(finance)

    response = client.get(statement_url(wallet))

    assert response.status_code == 200
    rows = [
        (row.line.entry.pk, row.debit, row.credit, row.balance) for row in response.context["rows"]
    ]
    assert rows == [
        (last.pk, "", "5.50 USD", "75.50 USD"),
        (spent.pk, "30.00 USD", "", "70.00 USD"),
        (first.pk, "", "100.00 USD", "100.00 USD"),
    ]
    html = response.content.decode()
    assert "Japan 5 GB" in html
    assert "Purchase" in html
    assert reverse("admin:billing_journalentry_change", args=[spent.pk]) in html
    assert adjust_url(wallet) in html


def test_statement_of_a_debit_normal_account_counts_debits_up(client, finance, wallet):
    fund(wallet, "20.00")
    fund(wallet, "2.25")
    cash = system_account_get(purpose=Purpose.CASH_ON_HAND, currency="USD")
    client.force_login(finance)

    response = client.get(statement_url(cash))

    rows = [(row.debit, row.credit, row.balance) for row in response.context["rows"]]
    assert rows == [("2.25 USD", "", "22.25 USD"), ("20.00 USD", "", "20.00 USD")]
    assert adjust_url(cash) not in response.content.decode()  # not a wallet


def test_statement_pages_by_fifty_and_carries_the_balance_across_pages(client, finance, wallet):
    for n in range(1, 56):  # 55 top-ups of 1.00 .. 55.00
        fund(wallet, f"{n}.00")
    client.force_login(finance)

    first = client.get(statement_url(wallet))
    second = client.get(statement_url(wallet, page=2))

    first_rows = first.context["rows"]
    assert len(first_rows) == 50
    assert (first_rows[0].credit, first_rows[0].balance) == ("55.00 USD", "1,540.00 USD")
    assert (first_rows[-1].credit, first_rows[-1].balance) == ("6.00 USD", "21.00 USD")
    assert [(row.credit, row.balance) for row in second.context["rows"]] == [
        ("5.00 USD", "15.00 USD"),
        ("4.00 USD", "10.00 USD"),
        ("3.00 USD", "6.00 USD"),
        ("2.00 USD", "3.00 USD"),
        ("1.00 USD", "1.00 USD"),
    ]
    assert "Page 2 of 2" in second.content.decode()
    assert balance_of(wallet) == Decimal("1540.00")


# --- Adjusting a wallet ----------------------------------------------------------------------
def test_finance_credits_a_wallet(client, finance, customer, wallet):
    fund(wallet, "5.00")
    client.force_login(finance)
    page = client.get(adjust_url(wallet))
    assert page.status_code == 200
    token = str(page.context["form"]["token"].value())
    uuid.UUID(token)  # drawn when the page was served

    response = client.post(
        adjust_url(wallet), adjustment("credit", "12.50", "  Refund of a failed install  ", token)
    )

    assert response.status_code == 302
    assert response["Location"] == statement_url(wallet)
    (entry,) = adjustments()
    assert (entry.memo, entry.created_by, entry.idempotency_key) == (
        "Refund of a failed install",
        finance,
        f"adjust:{token}",
    )
    assert sorted(entry.postings.values_list("account__code", "amount")) == [
        (wallet.code, Decimal("-12.50")),
        ("5900-USD", Decimal("12.50")),
    ]
    assert balance_of(wallet) == Decimal("17.50")
    statement = client.get(response["Location"])
    assert [str(m) for m in get_messages(statement.wsgi_request)] == [
        f"Credited 12.50 USD to the wallet {wallet.code} of {customer.email}."
    ]
    assert statement.context["rows"][0].balance == "17.50 USD"


def test_finance_debits_a_wallet(client, finance, wallet):
    fund(wallet, "20.00")
    client.force_login(finance)

    response = client.post(adjust_url(wallet), adjustment("debit", "7.25", "Duplicate top-up"))

    assert response.status_code == 302
    (entry,) = adjustments()
    assert entry.postings.get(account=wallet).amount == Decimal("7.25")
    assert balance_of(wallet) == Decimal("12.75")
    assert balance_of(system_account_get(purpose=Purpose.ADJUSTMENTS, currency="USD")) == Decimal(
        "-7.25"
    )


def test_debit_beyond_the_balance_states_it_and_writes_nothing(client, finance, wallet):
    fund(wallet, "5.00")
    client.force_login(finance)

    response = client.post(adjust_url(wallet), adjustment("debit", "8.00"))

    assert response.status_code == 200
    message = "The wallet holds 5.00 USD; this debit is 3.00 USD more than that."
    assert response.context["form"].errors["amount"] == [message]
    assert message in response.content.decode()
    assert adjustments() == []
    assert balance_of(wallet) == Decimal("5.00")


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        (adjustment("credit", "10.00", reason="   "), "reason", str(REASON_REQUIRED)),
        (adjustment("credit", "0"), "amount", "Enter an amount greater than zero."),
        (adjustment("credit", "-3.00"), "amount", "Enter an amount greater than zero."),
        (adjustment("credit", "1.005"), "amount", "A USD amount has at most 2 decimal places."),
        (adjustment("sideways", "1.00"), "direction", None),
        ({**adjustment("credit", "1.00"), "token": ""}, "token", None),
    ],
)
def test_invalid_adjustments_are_refused_and_write_nothing(
    client, finance, wallet, data, field, error
):
    fund(wallet, "5.00")
    client.force_login(finance)

    response = client.post(adjust_url(wallet), data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    if error:
        assert errors[field] == [error]
    assert adjustments() == []
    assert balance_of(wallet) == Decimal("5.00")


def test_yen_amounts_are_whole(client, finance, customer, settings):
    settings.SIMDESK_CURRENCIES = [*settings.SIMDESK_CURRENCIES, "JPY"]
    yen = wallet_get(user=customer, currency="JPY")
    client.force_login(finance)

    refused = client.post(adjust_url(yen), adjustment("credit", "500.50"))
    done = client.post(adjust_url(yen), adjustment("credit", "500"))

    assert refused.context["form"].errors["amount"] == [
        "A JPY amount has at most 0 decimal places."
    ]
    assert done.status_code == 302
    assert balance_of(yen) == Decimal("500")


def test_the_same_form_posted_twice_makes_one_entry(client, finance, wallet):
    client.force_login(finance)
    data = adjustment("credit", "40.00", token=str(uuid.uuid4()))

    first = client.post(adjust_url(wallet), data)
    second = client.post(adjust_url(wallet), data)

    assert first.status_code == second.status_code == 302
    assert len(adjustments()) == 1
    assert balance_of(wallet) == Decimal("40.00")


def test_the_same_token_with_other_figures_is_refused_with_a_fresh_token(client, finance, wallet):
    client.force_login(finance)
    data = adjustment("credit", "40.00")
    client.post(adjust_url(wallet), data)

    response = client.post(adjust_url(wallet), {**data, "amount": "45.00"})

    assert response.status_code == 200
    form = response.context["form"]
    assert "already submitted with other figures" in form.non_field_errors()[0]
    assert form["token"].value() != data["token"]
    assert len(adjustments()) == 1
    assert balance_of(wallet) == Decimal("40.00")
    again = client.post(
        adjust_url(wallet), {**data, "amount": "45.00", "token": form["token"].value()}
    )
    assert again.status_code == 302
    assert balance_of(wallet) == Decimal("85.00")


def test_only_wallets_have_an_adjustment_page(client, finance):
    cash = system_account_get(purpose=Purpose.CASH_ON_HAND, currency="USD")
    client.force_login(finance)

    assert client.get(adjust_url(cash)).status_code == 404
    assert client.post(adjust_url(cash), adjustment("credit", "1.00")).status_code == 404
    page = client.get(f"{CHANGELIST}{cash.pk}/change/").content.decode()
    assert statement_url(cash) in page
    assert adjust_url(cash) not in page
    assert JournalEntry.objects.count() == 0


def test_superuser_may_adjust(client, wallet):
    admin = staff(is_superuser=True)
    client.force_login(admin)

    response = client.post(adjust_url(wallet), adjustment("credit", "3.00"))

    assert response.status_code == 302
    assert [entry.created_by for entry in adjustments()] == [admin]


def test_reseller_staff_cannot_see_the_ledger_or_adjust(client, reseller, customer, wallet):
    fund(wallet, "5.00")
    client.force_login(reseller)

    for model in ("ledgeraccount", "journalentry", "posting"):
        assert client.get(f"/admin/billing/{model}/").status_code == 403
    assert client.get(f"{CHANGELIST}{wallet.pk}/change/").status_code == 403
    assert client.get(statement_url(wallet)).status_code == 403
    assert client.get(adjust_url(wallet)).status_code == 403
    assert client.post(adjust_url(wallet), adjustment("credit", "100.00")).status_code == 403
    assert client.get(OPEN_WALLET_URL).status_code == 403
    opening = {**adjustment("credit", "100.00"), "email": customer.email, "currency": "EUR"}
    assert client.post(OPEN_WALLET_URL, opening).status_code == 403
    assert adjustments() == []
    assert balance_of(wallet) == Decimal("5.00")
    assert not LedgerAccount.objects.filter(owner=customer, currency="EUR").exists()


def test_viewing_the_ledger_is_not_enough_to_adjust(client, wallet):
    from django.contrib.auth.models import Permission

    viewer = staff()
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_ledgeraccount"))
    client.force_login(viewer)

    assert client.get(statement_url(wallet)).status_code == 200
    assert client.get(adjust_url(wallet)).status_code == 403
    changelist = client.get(CHANGELIST).content.decode()
    assert OPEN_WALLET_URL not in changelist


# --- Opening a customer's wallet -------------------------------------------------------------
def test_finance_opens_a_wallet_for_a_customer_by_email(client, finance):
    customer = UserFactory(email="traveller@example.com")
    client.force_login(finance)
    assert OPEN_WALLET_URL in client.get(CHANGELIST).content.decode()
    page = client.get(OPEN_WALLET_URL)
    assert page.status_code == 200
    assert [code for code, _label in page.context["form"].fields["currency"].choices] == [
        "USD",
        "CNY",
        "HKD",
        "EUR",
    ]

    response = client.post(
        OPEN_WALLET_URL,
        {
            **adjustment("credit", "20.00", "Welcome credit"),
            "email": "Traveller@Example.com",
            "currency": "HKD",
        },
    )

    wallet = LedgerAccount.objects.get(owner=customer)
    assert (wallet.currency, wallet.purpose, wallet.balance) == (
        "HKD",
        Purpose.CUSTOMER_WALLET,
        Decimal("20.00"),
    )
    assert response.status_code == 302
    assert response["Location"] == statement_url(wallet)
    (entry,) = adjustments()
    assert (entry.memo, entry.created_by) == ("Welcome credit", finance)
    assert Posting.objects.get(entry=entry, account=wallet).amount == Decimal("-20.00")


def test_the_opening_page_adjusts_a_wallet_the_customer_already_has(client, finance, customer):
    wallet = wallet_get(user=customer, currency="USD")
    fund(wallet, "9.00")
    client.force_login(finance)

    response = client.post(
        OPEN_WALLET_URL,
        {**adjustment("debit", "4.00"), "email": customer.email, "currency": "USD"},
    )

    assert response.status_code == 302
    assert LedgerAccount.objects.filter(owner=customer).count() == 1
    assert balance_of(wallet) == Decimal("5.00")


def test_unknown_email_is_a_form_error(client, finance):
    client.force_login(finance)

    response = client.post(
        OPEN_WALLET_URL,
        {**adjustment("credit", "20.00"), "email": "nobody@example.com", "currency": "USD"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        str(CUSTOMER_UNKNOWN) % {"email": "nobody@example.com"}
    ]
    assert "No customer has the email address nobody@example.com." in response.content.decode()
    assert not LedgerAccount.objects.filter(owner__isnull=False).exists()
    assert adjustments() == []


def test_a_first_debit_opens_no_wallet(client, finance, customer):
    client.force_login(finance)

    response = client.post(
        OPEN_WALLET_URL,
        {**adjustment("debit", "1.00"), "email": customer.email, "currency": "EUR"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["direction"] == [
        f"{customer.email} has no EUR wallet yet: the first adjustment must be a credit."
    ]
    assert not LedgerAccount.objects.filter(owner=customer).exists()
    assert adjustments() == []


def test_a_currency_the_shop_does_not_sell_is_refused(client, finance, customer):
    client.force_login(finance)

    response = client.post(
        OPEN_WALLET_URL,
        {**adjustment("credit", "1.00"), "email": customer.email, "currency": "GBP"},
    )

    assert list(response.context["form"].errors) == ["currency"]
    assert not LedgerAccount.objects.filter(owner=customer).exists()
