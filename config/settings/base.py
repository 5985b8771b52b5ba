"""Settings shared by every environment. Values come from the environment (django-environ)."""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

# --- Core -----------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.SimdeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "djmoney",
    "django_countries",
    "simple_history",
    "accounts",
    "catalog",
    "billing",
    "storefront",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a signed-in user's saved language wins over the cookie.
    "accounts.middleware.UserLocaleMiddleware",
    # After authentication: change history records who made each change.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.StaffMFARequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.shop",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# The embedded default is a SQLite file under var/; production and tests use PostgreSQL.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'simdesk.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share the file: WAL and immediate
    # transactions avoid "database is locked" between them.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # Persistent connections: a one-query view is several times faster under load.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, worker heartbeat) ----------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("CACHE_URL", default=REDIS_URL),
            "KEY_PREFIX": "simdesk",
        }
    }
else:
    # Shared between the web server and the worker of the embedded default.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Anonymous visitors' catalog pages (home, destinations, country, region, plan, help, devices)
# are served from the cache for up to this many seconds (storefront/cache.py); a catalog change
# refreshes them within a second. 0 switches the page cache off.
SIMDESK_PAGE_CACHE_SECONDS = env.int("SIMDESK_PAGE_CACHE_SECONDS", default=300)

# --- Accounts and authentication --------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "storefront:home"

ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Nobody signs in (so nobody buys) before proving the address.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_RATE_LIMITS = {
    # allauth's defaults, stated so they are visible and cannot be switched off by accident.
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reset_password": "20/m/ip,5/m/key",
    "reauthenticate": "10/m/user",
    "reset_password_from_key": "20/m/ip",
    "signup": "20/m/ip",
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "confirm_email": "1/3m/key",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Simdesk] "

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Simdesk"
# Staff must enrol a TOTP authenticator before reaching the admin (on in production).
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=False)

# --- Languages --------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Destination names as the shop writes them, in both languages (django-countries' own names
# are used for every other country).
COUNTRIES_OVERRIDE = {
    "CN": _("Mainland China"),
    "HK": _("Hong Kong"),
    "MO": _("Macao"),
    "TW": _("Taiwan"),
    "US": _("United States"),
}
LANGUAGE_COOKIE_NAME = "simdesk_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
USE_I18N = True
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_TZ = True

# --- Money ------------------------------------------------------------------
SIMDESK_CURRENCIES: list[str] = env.list("SIMDESK_CURRENCIES", default=["USD", "CNY", "HKD", "EUR"])
SIMDESK_DEFAULT_CURRENCY = env("SIMDESK_DEFAULT_CURRENCY", default=SIMDESK_CURRENCIES[0])
CURRENCIES = SIMDESK_CURRENCIES

# --- Payments ---------------------------------------------------------------
# Stripe is on when a secret key is set; otherwise the local sandbox gateway takes payments.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Only for tests against localstripe: where the stripe library sends its requests.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# The sandbox signs its events like Stripe; the secret only has to match on this server.
SANDBOX_WEBHOOK_SECRET = env("SANDBOX_WEBHOOK_SECRET", default="whsec_sandbox_local")
# Where the sandbox posts its events; empty means this site's own webhook URL.
SANDBOX_WEBHOOK_URL = env("SANDBOX_WEBHOOK_URL", default="")
SANDBOX_DELAY_SECONDS = env.int("SANDBOX_DELAY_SECONDS", default=120)
# The sweeper asks the gateway about payments still pending after this many seconds.
PAYMENT_LOOKUP_AFTER = env.int("PAYMENT_LOOKUP_AFTER", default=5 * 60)
# Wallet top-ups (充值): minimum, maximum and preset amounts per currency.
SIMDESK_TOPUP_LIMITS: dict[str, dict] = env.json(
    "SIMDESK_TOPUP_LIMITS",
    default={
        "USD": {"min": "5", "max": "500", "presets": ["10", "20", "50", "100"]},
        "CNY": {"min": "10", "max": "3000", "presets": ["50", "100", "200", "500"]},
        "HKD": {"min": "50", "max": "4000", "presets": ["100", "200", "500", "1000"]},
        "EUR": {"min": "5", "max": "500", "presets": ["10", "20", "50", "100"]},
        "JPY": {"min": "1000", "max": "80000", "presets": ["2000", "5000", "10000"]},
    },
)

# --- Orders, refunds, receipts ----------------------------------------------
# An order not paid within this many minutes is canceled and its coupon use given back.
SIMDESK_ORDER_PAYMENT_MINUTES = env.int("SIMDESK_ORDER_PAYMENT_MINUTES", default=60)
# An order waiting for stock this long is refunded to the customer's wallet.
SIMDESK_AWAITING_STOCK_HOURS = env.int("SIMDESK_AWAITING_STOCK_HOURS", default=24)
# Customers may ask for a refund of an eSIM not yet installed within this many days.
SIMDESK_REFUND_WINDOW_DAYS = env.int("SIMDESK_REFUND_WINDOW_DAYS", default=14)
# The same add-on for the same card within this many minutes asks for confirmation first.
SIMDESK_REPEAT_PURCHASE_MINUTES = env.int("SIMDESK_REPEAT_PURCHASE_MINUTES", default=10)
# The seller printed on receipts.
SIMDESK_SELLER: dict = env.json(
    "SIMDESK_SELLER",
    default={
        "name": "Simdesk eSIM",
        "address": "",
        "tax_id": "",
        "email": "support@simdesk.localhost",
        "website": "",
    },
)
# Prices include tax; with a rate set, receipts show the tax included, e.g.
# SIMDESK_TAX='{"label": "VAT", "rate": "20"}'. Empty rate: no tax line.
SIMDESK_TAX: dict = env.json("SIMDESK_TAX", default={"label": "", "rate": ""})

# --- Renewals, reminders, usage ---------------------------------------------
# Auto-renewal charges a card's next period this many hours before the current one ends.
SIMDESK_RENEWAL_LEAD_HOURS = env.int("SIMDESK_RENEWAL_LEAD_HOURS", default=24)
# After a failed auto-renewal, try again after each of these delays (hours); after the last
# failure auto-renewal is turned off and the customer gets a final notice.
SIMDESK_RENEWAL_RETRY_HOURS: list[int] = [
    int(hours) for hours in env.list("SIMDESK_RENEWAL_RETRY_HOURS", default=["6", "18"])
]
# Upstream systems post usage to /api/usage/ with "Authorization: Bearer <token>"; empty:
# the endpoint is off (staff can still import usage CSV files in the admin).
SIMDESK_USAGE_API_TOKEN = env("SIMDESK_USAGE_API_TOKEN", default="")
# Where customers reach the site: links in emails (the one-click renew link) start with it.
SIMDESK_SITE_URL = env("SIMDESK_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Support requests from the contact form are announced here too; empty: only in the admin.
SIMDESK_SUPPORT_EMAIL = env("SIMDESK_SUPPORT_EMAIL", default="")
# The daily gateway reconciliation's discrepancies go to the Finance group and, when set,
# to this address too.
SIMDESK_FINANCE_EMAIL = env("SIMDESK_FINANCE_EMAIL", default="")

# --- Static files -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Email ------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Simdesk <no-reply@simdesk.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = VAR_DIR / "mail"

# --- Celery -----------------------------------------------------------------
# The embedded default needs no broker server: kombu's filesystem transport under var/.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
BROKER_DIR = Path(env("BROKER_DIR", default=str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "visibility_timeout": 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers keep their database connection across tasks: Celery's Django fix-up otherwise closes
# it after every task, which makes each task open a new PostgreSQL connection (half the time of
# an auto-renewal). config/celery_app.py still closes broken or expired connections per task.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "simdesk.heartbeat", "schedule": 30.0},
    "low-stock-check": {"task": "catalog.plans_low_stock_check_task", "schedule": 3600.0},
    "payments-pending-sweep": {"task": "billing.payments_pending_sweep_task", "schedule": 60.0},
    "gateway-events-sweep": {"task": "billing.gateway_events_sweep_task", "schedule": 60.0},
    "orders-sweep": {"task": "billing.orders_sweep_task", "schedule": 300.0},
    "bundles-advance": {"task": "catalog.bundles_advance_task", "schedule": 300.0},
    "renewals-sweep": {"task": "billing.renewals_sweep_task", "schedule": 600.0},
    "reminders-sweep": {"task": "billing.reminders_sweep_task", "schedule": 900.0},
    # Yesterday's gateway transactions against the ledger, in the shop's time zone.
    "reconciliation-daily": {
        "task": "billing.reconciliation_daily_task",
        "schedule": crontab(hour=2, minute=30),
    },
}

# --- Logging ----------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
