"""Change history in the admin (django-simple-history): who changed what, and each change's
fields from old to new, on the object's "History" page.

History is a record, not an undo button: reverting is off. A revert would save an old
version through the admin and skip the services (a plan's prices, a profile's status rules),
and a profile's history holds no secrets, so reverting one would wipe its matching ID.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin


class HistoryAdmin(SimpleHistoryAdmin):
    """A ModelAdmin whose History page lists simple-history's records, read-only."""

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # simple-history saves a POST here even when the Revert button is hidden.
        if request.method != "GET":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
