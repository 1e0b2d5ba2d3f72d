"""CSV downloads (the users list, the audit log): streamed, and safe to open
in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from flask import Response, stream_with_context

from webapp.extensions import db

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value) -> str:
    """A cell value a spreadsheet shows as text, never evaluates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_chunks(header: Iterable[str], batches: Iterable[Iterable[Iterable]]) -> Iterator[str]:
    """The CSV text of `header` and the rows of each batch, a chunk per batch
    (so a download streams as its rows are fetched)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for rows in batches:
        for values in rows:
            writer.writerow(csv_cell(value) for value in values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def csv_download(filename: str, chunks) -> Response:
    """A response streaming `chunks(session)` as a CSV download named `filename`."""

    def generate():
        # A session of its own, closed when the stream ends or the client leaves.
        with db.new_session() as session:
            yield from chunks(session)

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
