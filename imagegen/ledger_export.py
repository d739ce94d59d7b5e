"""The ledger as CSV, streamed: any number of rows in pages of PAGE, newest first, never all in memory.

The rows come from a queryset the caller has filtered (the admin's changelist with its filters, search
and date). Pages are read by primary key (``pk < last``), each through ``run_db``, so the response is an
async iterator the ASGI server sends as it goes. A text cell that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterable
from datetime import datetime

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from core.db import run_db

PAGE = 2000
COLUMNS = (
    "id",
    "created_at",
    "status",
    "endpoint",
    "client_label",
    "end_user",
    "model",
    "served_model",
    "vendor_name",
    "key_label",
    "n",
    "image_count",
    "requested_size",
    "size",
    "generated_size",
    "optimizer_prompt_tokens",
    "optimizer_completion_tokens",
    "vendor_cost",
    "optimizer_cost",
    "cost_currency",
    "error_code",
    "latency_ms",
    "user_prompt",
    "prompt",
    "notes",
    "request_id",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    """What csv.writer writes to: it hands each line back instead of keeping it."""

    def write(self, text: str) -> str:
        return text


def cell(value: object) -> object:
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _page(rows: QuerySet, after: int | None) -> list[tuple]:
    if after is not None:
        rows = rows.filter(pk__lt=after)
    return list(rows.values_list(*COLUMNS)[:PAGE])


async def csv_lines(rows: QuerySet) -> AsyncIterator[bytes]:
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS).encode()
    rows, after = rows.order_by("-pk"), None
    while page := await run_db(_page, rows, after):
        yield "".join(writer.writerow(cells(row)) for row in page).encode()
        after = page[-1][0]


def cells(row: Iterable[object]) -> list[object]:
    return [cell(value) for value in row]


def csv_response(rows: QuerySet, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
