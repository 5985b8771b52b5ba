"""Settings of `make bench`: the base stack against the harness's private PostgreSQL.

Same middleware, templates and apps as the site so the figures are realistic; only what a
benchmark must not depend on (secrets, the cache, log output) is fixed here. Celery publishes
to a real Redis, as in production: REDIS_URL, the private one scripts/bench.sh starts.
"""

from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import BASE_DIR, env

DEBUG = False
SECRET_KEY = "bench-only-3f9a1c7e5b2d4086a1e9c3f7b5d2e8a04c6b1f9d7e3a5c28"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

DATABASES = {"default": env.db("DATABASE_URL")}
# Persistent connections as in production: reconnecting per request would dominate the figures.
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# The webhook endpoint asks for a drain task through the shared cache and queues it in Redis,
# as in production (no worker runs). Without REDIS_URL `webhook_events` refuses to run, and the
# other figures keep a per-process cache (allauth's rate limits only count POSTs anyway).
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL.rsplit("/", 1)[0] + "/1",
            "KEY_PREFIX": "simdesk-bench",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = False

# Set here, not taken from the environment: bench.webhooks signs its events with it.
SANDBOX_WEBHOOK_SECRET = "whsec_bench_only_8c1e4f2a9b7d3065"
STRIPE_SECRET_KEY = ""  # the sandbox gateway, whatever the shell exports

STAFF_MFA_REQUIRED = False

# The emails the figures cause (auto_renewals' worker sends receipts) are built, not sent: an
# SMTP server or var/mail files would be measured instead.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Production's static storage, so `{% static %}` costs what it costs there; `bench.run`
# collects into its scratch directory (BENCH_STATIC_ROOT).
STATIC_ROOT = Path(env("BENCH_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

ROOT_URLCONF = "bench.urls"

# Log lines under load would cost time and bury the table.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
