"""POST /api/usage/: bearer token, all-or-nothing batches, JSON answers, no token in logs."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from catalog.models import MB, Bundle, EsimProfile, Plan, UsageRecord
from catalog.services.usage import MSG_BYTES_INVALID, MSG_TIME_INVALID, MSG_UNKNOWN_CARD
from catalog.views import MAX_RECORDS
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.catalog.factories import iccid

pytestmark = pytest.mark.django_db

TOKEN = "usage-api-T0k3n-9f2c1d7e5b"
URL = "/api/usage/"
NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def setup(settings, time_machine):
    settings.SIMDESK_USAGE_API_TOKEN = TOKEN
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def card() -> EsimProfile:
    plan = plan_for_sale(
        data_mb=100, validity_days=30, activation_policy=Plan.ActivationPolicy.ON_FIRST_USE
    )
    return bought_esim(funded_customer(), plan)[1]


def post(client, body: object, *, token: str | None = TOKEN, raw: bytes | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(
        URL,
        data=raw if raw is not None else json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def records(card: EsimProfile, *hours: int, mb: int = 1) -> dict:
    return {
        "records": [
            {
                "iccid": card.iccid,
                "time": (NOW - timedelta(hours=h)).isoformat().replace("+00:00", "Z"),
                "bytes": mb * MB,
            }
            for h in hours
        ]
    }


def test_the_url_is_named():
    assert reverse("catalog:usage-create") == URL


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": TOKEN},
    ],
)
def test_without_the_right_token_it_is_401_and_nothing_is_stored(client, card, headers):
    response = client.post(
        URL, data=json.dumps(records(card, 1)), content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["added"] == 0
    assert not UsageRecord.objects.exists()


def test_with_no_token_configured_the_endpoint_is_off(client, card, settings):
    settings.SIMDESK_USAGE_API_TOKEN = ""
    response = post(client, records(card, 1), token="")
    assert response.status_code == 404
    assert response.json()["errors"][0]["message"]
    assert not UsageRecord.objects.exists()


def test_a_good_batch_is_stored_and_a_repeat_adds_nothing(client, card):
    response = post(client, records(card, 3, 2))

    assert response.status_code == 200
    assert response.json() == {"received": 2, "added": 2, "errors": []}
    bundle = card.bundles.get()
    assert bundle.status == Bundle.Status.ACTIVE
    assert bundle.data_used_bytes == 2 * MB
    assert set(UsageRecord.objects.values_list("source", flat=True)) == {"api"}

    again = post(client, records(card, 3, 2, 1))
    assert again.status_code == 200
    assert again.json() == {"received": 3, "added": 1, "errors": []}
    bundle.refresh_from_db()
    assert bundle.data_used_bytes == 3 * MB


def test_the_token_is_not_checked_by_csrf(card, settings):
    from django.test import Client

    response = post(Client(enforce_csrf_checks=True), records(card, 1))
    assert response.status_code == 200


def test_a_bad_record_refuses_the_batch_with_its_index(client, card):
    body = records(card, 3, 2, 1)
    body["records"][1]["bytes"] = -1
    body["records"][2]["time"] = "2026-05-10 11:00"  # no time zone

    response = post(client, body)

    assert response.status_code == 400
    assert response.json() == {
        "received": 3,
        "added": 0,
        "errors": [
            {"index": 1, "message": str(MSG_BYTES_INVALID)},
            {"index": 2, "message": str(MSG_TIME_INVALID)},
        ],
    }
    assert not UsageRecord.objects.exists()
    assert card.bundles.get().status == Bundle.Status.QUEUED


def test_an_unknown_card_refuses_the_batch(client, card):
    body = records(card, 2, 1)
    body["records"][1]["iccid"] = iccid(987_654)

    response = post(client, body)

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 1, "message": str(MSG_UNKNOWN_CARD)}]
    assert not UsageRecord.objects.exists()


@pytest.mark.parametrize(
    "bad", [{"bytes": "-12"}, {"bytes": True}, {"bytes": 1.5}, {"iccid": 89}, {"time": None}]
)
def test_values_of_the_wrong_type_are_refused(client, card, bad):
    body = records(card, 1)
    body["records"][0].update(bad)
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["index"] == 0
    assert not UsageRecord.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"records": {}}', b'{"rows": []}', b'{"records": [1]}', b"\xff"],
)
def test_a_malformed_body_is_400(client, card, raw):
    response = post(client, None, raw=raw)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]
    assert not UsageRecord.objects.exists()


def test_too_many_records_are_refused(client, card):
    body = {"records": [{"iccid": card.iccid, "time": "x", "bytes": 0}] * (MAX_RECORDS + 1)}
    response = post(client, body)
    assert response.status_code == 413
    assert str(MAX_RECORDS) in response.json()["errors"][0]["message"]
    assert not UsageRecord.objects.exists()


def test_only_post_is_allowed(client):
    assert client.get(URL, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405


def test_the_token_never_appears_in_the_logs(client, card, caplog):
    caplog.set_level(logging.DEBUG)
    post(client, records(card, 1), token="Wrong-" + TOKEN)
    post(client, records(card, 1), token=None)
    post(client, records(card, 2))
    bad = records(card, 3)
    bad["records"][0]["bytes"] = -1
    post(client, bad)

    assert caplog.records  # the 4xx answers are logged...
    for record in caplog.records:  # ...without the token, in the message or its extras
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.__dict__)
    assert TOKEN not in caplog.text
