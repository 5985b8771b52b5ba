import pytest
from django.core.cache import cache

DB_FIXTURES = {"db", "transactional_db"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """After every test that used the database and passed, the ledger must still verify: what
    `manage.py ledger_verify` checks, over what the test leaves behind (before its rollback)."""
    result = yield
    uses_db = item.get_closest_marker("django_db") or DB_FIXTURES & set(
        getattr(item, "fixturenames", ())
    )
    if uses_db and not item.get_closest_marker("ledger_unverified"):
        from django.db import connection

        from billing.selectors.ledger import ledger_problems

        if connection.needs_rollback:
            return result  # the test broke its own transaction on purpose: nothing to read
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # The test's transaction never commits: run the deferred checks now.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        problems = ledger_problems()
        if problems:
            pytest.fail("ledger_verify after the test:\n" + "\n".join(map(str, problems)))
    return result


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
