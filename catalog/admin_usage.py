"""The admin page that imports usage records from CSV (iccid,time,bytes): one upload, all or
nothing. A file with any bad line is refused with a message per line and changes nothing."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import AdminSite, ModelAdmin
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views import View

from .forms import UsageImportForm
from .models import UsageRecord
from .services.usage import usage_record, usage_rows_from_csv

PERMISSION = "catalog.add_usagerecord"
MAX_LISTED_ERRORS = 200

IMPORT_TITLE = _("Import usage records")


def import_done_message(*, added: int, known: int) -> str:
    return ngettext(
        "%(added)d record added (%(known)d already known).",
        "%(added)d records added (%(known)d already known).",
        added,
    ) % {"added": added, "known": known}


class UsageImportView(View):
    """Upload a usage CSV; store it whole or show what is wrong with it.

    Mounted by UsageRecordAdmin.get_urls() through `admin_site.admin_view`."""

    admin_site: AdminSite = admin.site
    model_admin: "ModelAdmin[UsageRecord] | None" = None
    template_name = "admin/catalog/usagerecord/import.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, form=UsageImportForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = UsageImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form=form)
        upload: UploadedFile = form.cleaned_data["file"]
        file_name = upload.name or ""
        rows, errors = usage_rows_from_csv(b"".join(upload.chunks()))
        if not errors:
            result = usage_record(rows=rows, source=UsageRecord.Source.IMPORT)
            errors = result.errors
        if errors:
            return self._render(
                request, form=UsageImportForm(), errors=sorted(errors), file_name=file_name
            )
        messages.success(
            request, import_done_message(added=result.added, known=result.received - result.added)
        )
        return HttpResponseRedirect(reverse("admin:catalog_usagerecord_changelist"))

    def _render(
        self,
        request: HttpRequest,
        *,
        form: UsageImportForm,
        errors: list[tuple[int, str]] | None = None,
        file_name: str = "",
    ) -> HttpResponse:
        opts = UsageRecord._meta
        errors = errors or []
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
            "errors": errors[:MAX_LISTED_ERRORS],
            "error_count": len(errors),
            "unlisted_errors": max(0, len(errors) - MAX_LISTED_ERRORS),
            "file_name": file_name,
        }
        return TemplateResponse(request, self.template_name, context)
