"""The usage CSV import in the admin and the read-only usage record list."""

from datetime import UTC, datetime

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import MB, Bundle, EsimProfile, Plan, UsageRecord
from catalog.services.usage import (
    MSG_BYTES_INVALID,
    MSG_HEADER,
    MSG_NOT_UTF8,
    MSG_TIME_INVALID,
    MSG_UNKNOWN_CARD,
)
from tests.billing.order_support import (
    bought_esim,
    funded_customer,
    plan_for_sale,
    reseller_staff_user,
)
from tests.catalog.factories import iccid
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = "/admin/catalog/usagerecord/import/"
LIST_URL = "/admin/catalog/usagerecord/"
NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def card() -> EsimProfile:
    plan = plan_for_sale(
        data_mb=100, validity_days=30, activation_policy=Plan.ActivationPolicy.ON_FIRST_USE
    )
    return bought_esim(funded_customer(), plan)[1]


@pytest.fixture
def clerk(client):
    user = reseller_staff_user(email="usage-clerk@example.com")
    client.force_login(user)
    return user


def good_csv(card: EsimProfile) -> bytes:
    return (
        "iccid,time,bytes\n"
        f"{card.iccid},2026-05-09T10:00:00Z,{2 * MB}\n"
        f"{card.iccid},2026-05-09T19:00:00+08:00,{3 * MB}\n"
    ).encode()


def upload(client, data: bytes, name: str = "usage.csv"):
    return client.post(IMPORT_URL, {"file": SimpleUploadedFile(name, data, "text/csv")})


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_import_page_has_its_admin_url():
    assert reverse("admin:catalog_usagerecord_import") == IMPORT_URL


def test_the_list_links_to_the_import(client, clerk):
    page = client.get(LIST_URL)
    assert page.status_code == 200
    assert IMPORT_URL in page.content.decode()
    assert client.get(IMPORT_URL).status_code == 200


def test_a_good_file_is_imported_and_a_repeat_counts_what_is_known(client, clerk, card):
    done = upload(client, good_csv(card))

    assert done.status_code == 302
    assert done["Location"] == LIST_URL
    assert flash(done) == ["2 records added (0 already known)."]
    listed = client.get(done["Location"])  # shows (and uses up) the message
    assert "2 records added (0 already known)." in listed.content.decode()
    assert listed.context["cl"].result_count == 2
    bundle = card.bundles.get()
    assert bundle.status == Bundle.Status.ACTIVE
    assert bundle.data_used_bytes == 5 * MB
    assert set(UsageRecord.objects.values_list("source", flat=True)) == {"import"}

    again = upload(client, good_csv(card))
    assert flash(again) == ["0 records added (2 already known)."]
    assert UsageRecord.objects.count() == 2
    bundle.refresh_from_db()
    assert bundle.data_used_bytes == 5 * MB


def test_bad_lines_are_listed_and_nothing_is_stored(client, clerk, card):
    data = (
        "iccid,time,bytes\n"
        f"{card.iccid},2026-05-09T10:00:00Z,100\n"
        f"{card.iccid},2026-05-09 11:00,100\n"
        f"{card.iccid},2026-05-09T12:00:00Z,lots\n"
    ).encode()

    response = upload(client, data)

    assert response.status_code == 200
    assert response.context["errors"] == [(3, str(MSG_TIME_INVALID)), (4, str(MSG_BYTES_INVALID))]
    html = response.content.decode()
    assert "nothing was imported" in html
    assert str(MSG_BYTES_INVALID) in html
    assert not UsageRecord.objects.exists()
    assert card.bundles.get().status == Bundle.Status.QUEUED


def test_an_unknown_card_refuses_the_file(client, clerk, card):
    data = good_csv(card) + f"{iccid(424_242)},2026-05-09T12:00:00Z,5\n".encode()
    response = upload(client, data)
    assert response.status_code == 200
    assert response.context["errors"] == [(4, str(MSG_UNKNOWN_CARD))]
    assert not UsageRecord.objects.exists()
    card.refresh_from_db()
    assert card.status == EsimProfile.Status.ASSIGNED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", MSG_NOT_UTF8),
        (b"card,when,size\n1,2,3\n", MSG_HEADER),
        (b"", MSG_HEADER),
    ],
)
def test_a_file_that_is_not_a_usage_csv_gets_a_clear_message(client, clerk, data, message):
    response = upload(client, data, name="photo.png")
    assert response.status_code == 200
    if data:
        assert response.context["errors"] == [(1, str(message))]
    else:  # an empty upload is refused by the form itself
        assert response.context["form"].errors["file"]
    assert not UsageRecord.objects.exists()


def test_staff_without_the_permission_cannot_import(client, card):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, good_csv(card)).status_code == 403
    assert not UsageRecord.objects.exists()


def test_the_list_is_read_only_searchable_by_iccid_and_filterable_by_source(client, clerk, card):
    upload(client, good_csv(card))
    number = card.iccid
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))

    found = client.get(LIST_URL, {"q": spaced})
    assert found.context["cl"].result_count == 2
    assert client.get(LIST_URL, {"q": iccid(5)}).context["cl"].result_count == 0
    assert client.get(LIST_URL, {"source__exact": "api"}).context["cl"].result_count == 0
    assert client.get(LIST_URL, {"source__exact": "import"}).context["cl"].result_count == 2

    record = UsageRecord.objects.first()
    assert record is not None
    detail = client.get(reverse("admin:catalog_usagerecord_change", args=[record.pk]))
    assert detail.status_code == 200
    assert 'name="bytes_used"' not in detail.content.decode()  # read-only
    assert client.get(reverse("admin:catalog_usagerecord_add")).status_code == 403
