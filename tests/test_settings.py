"""Production settings demand their secrets and pass Django's deployment checklist."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "p7Yq2vN9xL4mK8rT1wZ6sB3hJ5dF0gC7aE2uI9oP4yR6tQ1nM8kV3xW5zS0jH2lD",
    "DATABASE_URL": "postgres://simdesk:secret@db.internal:5432/simdesk",
    "ALLOWED_HOSTS": "shop.example.com",
    "SIMDESK_SITE_URL": "https://shop.example.com",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "DEBUG"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_no_warnings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "DATABASE_URL",
        "ALLOWED_HOSTS",
        "SIMDESK_SITE_URL",
        "REDIS_URL",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
    ],
)
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_production_is_never_in_debug_and_requires_mfa_for_staff():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.STAFF_MFA_REQUIRED, s.CELERY_BROKER_URL)",
        env={**PRODUCTION_ENV, "DEBUG": "true"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False True redis://redis.internal:6379/0"


def test_production_takes_the_sandbox_only_when_asked_and_with_its_own_secret():
    env = {k: v for k, v in PRODUCTION_ENV.items() if not k.startswith("STRIPE_")}
    env["SIMDESK_SANDBOX_PAYMENTS"] = "true"
    refused = run_manage("check", env=env)
    assert refused.returncode != 0
    assert "Set the SANDBOX_WEBHOOK_SECRET environment variable" in refused.stderr
    result = run_manage(
        "shell",
        "-c",
        "from billing.gateways import checkout_gateway; print(checkout_gateway().name)",
        env={**env, "SANDBOX_WEBHOOK_SECRET": "whsec_staging"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "sandbox"
