import socket

import pytest
from django.db import connection

from config.celery_app import app


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_healthz_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "up"
    assert body["broker"] == "up"
    assert body["down"] == []


@pytest.mark.django_db
def test_healthz_names_the_broker_when_it_is_down(client, monkeypatch):
    monkeypatch.setitem(app.conf, "broker_url", f"redis://127.0.0.1:{closed_port()}/0")
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]
    assert response.json()["database"] == "up"


@pytest.mark.django_db(transaction=True)
def test_healthz_names_the_database_when_it_is_down(client):
    connection.close()
    real_port = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(closed_port())
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port

    assert response.status_code == 503
    assert response.json()["down"] == ["database"]
    assert response.json()["broker"] == "up"


@pytest.mark.django_db
def test_healthz_with_the_filesystem_broker(client, tmp_path, monkeypatch):
    queue = tmp_path / "queue"
    monkeypatch.setitem(app.conf, "broker_url", "filesystem://")
    monkeypatch.setitem(app.conf, "broker_transport_options", {"data_folder_in": str(queue)})

    assert client.get("/healthz").json()["down"] == ["broker"]
    queue.mkdir()
    assert client.get("/healthz").json()["broker"] == "up"
