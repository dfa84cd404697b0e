"""What a rulebook would flag in a closed pulse, from its kept cells, without saving anything.

Only published cells are read (the kept ``ScoreCell`` rows that are not suppressed), with
the structure and k the pulse was published from, so a preview can say nothing about a
withheld cell that the published numbers do not already say.
"""

from datetime import datetime

from sqlalchemy.orm import Session

from app.analysis.signs import Rulebook, grade
from app.analysis.snapshot import Flag
from app.models import Pulse, System
from app.services.results.publish import (
    _earlier,
    closed_pulses,
    kept_assessment,
    publication_records,
)


def preview(
    session: Session, system: System, pulse: Pulse, book: Rulebook, now: datetime
) -> list[Flag]:
    """The flags ``book`` would raise for a closed pulse, read from its kept cells.

    The pulse's assessment (its comparisons) is the one kept in memory when there is one,
    as a rule change's is: a preview grades it, and reads no cell. Raises
    ``ResultsComputing`` when the pulse's results are not kept yet.
    """
    closed = closed_pulses(session, system.id, now)
    earlier = _earlier(closed, pulse)
    pulses = [*earlier, pulse]
    records = publication_records(session, system.id, pulses)
    assessed = kept_assessment(
        session, system, pulse, earlier, records, system.adoption_months, book
    )
    return grade(assessed, book)
