"""Embedded default of `make run`: SQLite, filesystem broker, sandbox gateway, emails as files."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
# Only for the demo on 127.0.0.1; production demands its own.
SECRET_KEY = env("SECRET_KEY", default="local-demo-only-8b2f4c1e9d7a4f63b0e5c2a1d8f7e6b5a4c3d2e1")
EMAIL_FILE_PATH = VAR_DIR / "mail"
