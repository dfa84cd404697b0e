"""Pure domain rules that need no database: pulse status."""

from datetime import date, datetime

from app.vocab import PulseStatus


def pulse_status(
    opens_on: date, closes_on: date, closed_at: datetime | None, now: datetime
) -> PulseStatus:
    """Scheduled before ``opens_on``, open to the end of ``closes_on`` (UTC), then closed.

    A pulse closed early (``closed_at`` set) is closed from then on, whatever its dates.
    """
    if closed_at is not None and closed_at <= now:
        return PulseStatus.closed
    today = now.date()
    if today < opens_on:
        return PulseStatus.scheduled
    if today <= closes_on:
        return PulseStatus.open
    return PulseStatus.closed
