"""ISO-8601 timestamps as stored in records and index answers, parsed to aware datetimes."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_iso(text: object) -> datetime | None:
    """An aware datetime (UTC when the text names no zone), or None for anything unparseable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
