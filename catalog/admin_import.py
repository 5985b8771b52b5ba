"""The admin page that imports eSIM profiles from CSV: upload, preview, confirm.

Between the preview and the confirmation the uploaded file waits on the server, under
VAR_DIR/imports with a random name; the session holds that name and the original file name,
and the confirmation form repeats the name, so a stale browser tab cannot import a different
file than the one it previewed. The file is deleted once imported or refused, or after a day.
It holds matching IDs: it is readable by the server's user only.
"""

import os
import re
import secrets
import time
from pathlib import Path
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import AdminSite, ModelAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django.views import View

from accounts.models import User

from .importing import (
    ImportPreview,
    ProfileImportRejected,
    profiles_import,
    profiles_import_preview,
)
from .models import EsimProfile

PERMISSION = "catalog.add_esimprofile"
SESSION_KEY = "catalog_profile_import"
IMPORTS_DIR_NAME = "imports"
MAX_UPLOAD_MB = 50  # 100,000 rows are about 12 MB
PENDING_MAX_AGE_SECONDS = 24 * 60 * 60
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")

IMPORT_TITLE = _("Import eSIM profiles")
FILE_LABEL = _("CSV file")
FILE_HELP = _(
    "UTF-8 CSV with a header line. Columns: iccid; activation_code, or smdp_address and "
    "matching_id (and optionally oid); confirmation_code (optional); plan (the plan code); "
    "cost and currency (optional: without them, the plan's wholesale cost)."
)
UPLOAD_TOO_LARGE = _("The file is larger than %(max)d MB. Split it into smaller files.")
PREVIEW_EXPIRED = _("This preview has expired. Upload the file again.")
IMPORT_DONE = ngettext_lazy(
    "Imported %(count)d eSIM profile from “%(file)s”.",
    "Imported %(count)d eSIM profiles from “%(file)s”.",
    "count",
)


class ProfileImportForm(forms.Form):
    file = forms.FileField(label=FILE_LABEL, help_text=FILE_HELP)

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if (upload.size or 0) > MAX_UPLOAD_MB * 1024 * 1024:
            raise ValidationError(UPLOAD_TOO_LARGE, code="too_large", params={"max": MAX_UPLOAD_MB})
        return upload


def _imports_dir() -> Path:
    return Path(settings.VAR_DIR) / IMPORTS_DIR_NAME


def _pending_path(token: object) -> Path | None:
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    return _imports_dir() / f"{token}.csv"


def _pending_purge_stale() -> None:
    cutoff = time.time() - PENDING_MAX_AGE_SECONDS
    for path in _imports_dir().glob("*.csv"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:  # another request removed it first
            pass


def _pending_save(request: HttpRequest, *, data: bytes, file_name: str) -> str:
    """Keep the previewed file until it is confirmed; returns its token."""
    directory = _imports_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _pending_purge_stale()
    token = secrets.token_urlsafe(24)  # 32 characters
    path = _pending_path(token)
    assert path is not None
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    request.session[SESSION_KEY] = {"token": token, "file_name": file_name}
    return token


def _pending_discard(request: HttpRequest) -> None:
    pending = request.session.pop(SESSION_KEY, None)
    path = _pending_path(pending.get("token")) if isinstance(pending, dict) else None
    if path is not None:
        path.unlink(missing_ok=True)


class ProfileImportView(View):
    """Upload a CSV of profiles, preview what it would import, then confirm.

    Mounted by EsimProfileAdmin.get_urls() through `admin_site.admin_view`, which passes
    `admin_site` and `model_admin` to `as_view`.
    """

    admin_site: AdminSite = admin.site
    model_admin: "ModelAdmin[EsimProfile] | None" = None
    template_name = "admin/catalog/esimprofile/import.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, form=ProfileImportForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("action") == "confirm":
            return self._confirm(request)
        return self._preview(request)

    def _preview(self, request: HttpRequest) -> HttpResponse:
        form = ProfileImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form=form)
        upload: UploadedFile = form.cleaned_data["file"]
        data = b"".join(upload.chunks())
        file_name = upload.name or ""
        preview = profiles_import_preview(data=data)
        _pending_discard(request)  # a new upload replaces the one waiting
        token = _pending_save(request, data=data, file_name=file_name) if preview.ok else ""
        return self._render(
            request, form=ProfileImportForm(), preview=preview, file_name=file_name, token=token
        )

    def _confirm(self, request: HttpRequest) -> HttpResponse:
        pending = request.session.get(SESSION_KEY)
        token = request.POST.get("token", "")
        path = _pending_path(token)
        if (
            not isinstance(pending, dict)
            or pending.get("token") != token
            or path is None
            or not path.is_file()
        ):
            messages.error(request, PREVIEW_EXPIRED)
            return HttpResponseRedirect(reverse("admin:catalog_esimprofile_import"))
        file_name = str(pending.get("file_name", ""))
        data = path.read_bytes()
        try:
            batch = profiles_import(data=data, file_name=file_name, actor=cast(User, request.user))
        except ProfileImportRejected as rejected:
            return self._render(
                request, form=ProfileImportForm(), preview=rejected.preview, file_name=file_name
            )
        finally:
            _pending_discard(request)
        messages.success(request, IMPORT_DONE % {"count": batch.rows, "file": file_name})
        changelist = reverse("admin:catalog_esimprofile_changelist")
        return HttpResponseRedirect(f"{changelist}?batch__id__exact={batch.pk}")

    def _render(
        self,
        request: HttpRequest,
        *,
        form: ProfileImportForm,
        preview: ImportPreview | None = None,
        file_name: str = "",
        token: str = "",
    ) -> HttpResponse:
        opts = EsimProfile._meta
        context = {
            **self.admin_site.each_context(request),
            "title": IMPORT_TITLE,
            "opts": opts,
            "app_label": opts.app_label,
            "has_view_permission": (
                self.model_admin.has_view_permission(request)
                if self.model_admin is not None
                else request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}")
            ),
            "form": form,
            "media": form.media,
            "preview": preview,
            "file_name": file_name,
            "token": token,
        }
        return TemplateResponse(request, self.template_name, context)
