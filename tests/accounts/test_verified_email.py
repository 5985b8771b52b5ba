import pytest
from django.core import mail

from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.accounts.urls_purchase")]


def test_purchase_page_refuses_an_unverified_email(client):
    client.force_login(UserFactory(email="unverified@example.com", verified=False))

    response = client.get("/buy/")

    assert response.status_code == 200
    assert b"checkout" not in response.content
    assert "verify" in response.content.decode().lower()
    assert mail.outbox[0].to == ["unverified@example.com"]


def test_purchase_page_sends_visitors_to_sign_in(client):
    response = client.get("/buy/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_purchase_page_serves_a_verified_customer(client):
    client.force_login(UserFactory())
    assert client.get("/buy/").content == b"checkout"
