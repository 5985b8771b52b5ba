import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clean_cache():
    # allauth's rate limits live in the (Redis) cache: each test starts with none used.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db):
    from tests.factories import UserFactory

    return UserFactory()
