"""Tests: PostgreSQL and Redis started by `make test` (DATABASE_URL and REDIS_URL)."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-only-5d0c3b7e2a914f8e96b1c4d7e0a2f5b8c9d6e3f1a4b7c0d2"  # noqa: S105
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STAFF_MFA_REQUIRED = False
# Tasks queued with .delay() run in the test process (tests use captureOnCommitCallbacks);
# tests that need the real worker publish with send_task, which always goes to Redis.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# Pages are rendered fresh in tests; tests/storefront/test_page_cache.py switches the cache on.
SIMDESK_PAGE_CACHE_SECONDS = 0
