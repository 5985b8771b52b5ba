"""The usage endpoint for upstream systems: POST /api/usage/ with a bearer token.

The token is compared in constant time and never logged; with no token configured the
endpoint does not exist (404).
"""

import json
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from .models import UsageRecord
from .services.usage import UsageRow, usage_record, usage_row_parse

MAX_RECORDS = 5000

API_OFF = _("The usage API is not enabled.")
API_UNAUTHORIZED = _("Send a valid token: Authorization: Bearer <token>.")
BODY_INVALID = _('Send a JSON object: {"records": [{"iccid": ..., "time": ..., "bytes": ...}]}.')
RECORD_INVALID = _('Each record is an object with "iccid", "time" and "bytes".')
TOO_MANY_RECORDS = _("Send at most %(max)d records per request.")
TOO_LARGE = _("The request is too large. Send fewer records per request.")


def _reply(
    status: int, *, received: int = 0, added: int = 0, errors: list[dict[str, Any]] | None = None
) -> JsonResponse:
    return JsonResponse(
        {"received": received, "added": added, "errors": errors or []}, status=status
    )


def _refusal(status: int, message: object) -> JsonResponse:
    return _reply(status, errors=[{"index": None, "message": str(message)}])


def _token_ok(request: HttpRequest, token: str) -> bool:
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return secrets.compare_digest(given.strip().encode(), token.encode())


@method_decorator(csrf_exempt, name="dispatch")
class UsageCreateView(View):
    """Store a batch of usage records, all or nothing."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> JsonResponse:
        token = settings.SIMDESK_USAGE_API_TOKEN
        if not token:
            return _refusal(404, API_OFF)
        if not _token_ok(request, token):
            response = _refusal(401, API_UNAUTHORIZED)
            response["WWW-Authenticate"] = 'Bearer realm="simdesk"'
            return response
        try:
            payload = json.loads(request.body)
        except RequestDataTooBig:
            return _refusal(413, TOO_LARGE)
        except (ValueError, UnicodeDecodeError):
            return _refusal(400, BODY_INVALID)
        records = payload.get("records") if isinstance(payload, dict) else None
        if not isinstance(records, list):
            return _refusal(400, BODY_INVALID)
        if len(records) > MAX_RECORDS:
            return _refusal(413, TOO_MANY_RECORDS % {"max": MAX_RECORDS})
        rows: list[UsageRow] = []
        errors: list[dict[str, Any]] = []
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                errors.append({"index": index, "message": str(RECORD_INVALID)})
                continue
            try:
                rows.append(
                    usage_row_parse(
                        iccid=record.get("iccid"),
                        time=record.get("time"),
                        bytes_used=record.get("bytes"),
                        line=index,
                    )
                )
            except ValidationError as error:
                errors.extend({"index": index, "message": m} for m in error.messages)
        if errors:
            return _reply(400, received=len(records), errors=errors)
        result = usage_record(rows=rows, source=UsageRecord.Source.API)
        if not result.ok:
            return _reply(
                400,
                received=result.received,
                errors=[{"index": i, "message": m} for i, m in sorted(result.errors)],
            )
        return _reply(200, received=result.received, added=result.added)
