"""What a rulebook would flag in a closed pulse, from its kept cells, without saving anything.

Only published cells are read (the kept ``ScoreCell`` rows that are not suppressed), with
the structure and k the pulse was published from, so a preview can say nothing about a
withheld cell that the published numbers do not already say.
"""

from datetime import datetime

from sqlalchemy.orm import Session

from app.analysis.published import KeptCells
from app.analysis.signs import Rulebook, assess
from app.analysis.snapshot import Flag, Snapshot
from app.analysis.snapshot import Pulse as PulseFacts
from app.errors import ResultsComputing
from app.models import Pulse, System
from app.services.aggregation import response_counts
from app.services.results import ledger
from app.services.results.publish import (
    EARLIER,
    Kept,
    _kept_cells,
    _publication,
    closed_pulses,
    closes_on,
)


def preview(
    session: Session, system: System, pulse: Pulse, book: Rulebook, now: datetime
) -> list[Flag]:
    """The flags ``book`` would raise for a closed pulse, read from its kept cells."""
    record = _publication(session, system.id, pulse.id)
    if record is None or record.structure is None or record.k is None:
        raise ResultsComputing(
            f"The results of pulse {pulse.key!r} are not kept yet; retry shortly."
        )
    closed = closed_pulses(session, system.id, now)
    earlier = [p for p in closed if (p.opens_on, p.key) < (pulse.opens_on, pulse.key)][-EARLIER:]
    structure = ledger.Structure.from_json(record.structure)
    team_place = structure.team_place()
    kept: Kept = {}
    for each in [*earlier, pulse]:
        kept.update(_kept_cells(session, each, whole_only=each is not pulse))
    # Team cells of earlier pulses are read at the team's place in this pulse, as publish does.
    for (pulse_key, dimension, place), cells in list(kept.items()):
        for key, moments in list(cells.items()):
            if key.scope == "team" and team_place.get(key.subject, place) != place:
                del cells[key]
                kept.setdefault((pulse_key, dimension, team_place[key.subject]), {})[key] = moments
    pulses = [*earlier, pulse]
    counts = response_counts(session, system.id, [p.id for p in pulses])
    key_of = {p.id: p.key for p in pulses}
    snapshot = Snapshot(
        system=system.slug,
        pulse=PulseFacts(pulse.key, closes_on(pulse)),
        earlier=tuple(PulseFacts(p.key, closes_on(p)) for p in earlier),
        teams=tuple(structure.facts()),
        responses={(key_of[p], team): n for (p, team), n in counts.items()},
        scores={},
        k=record.k,
        adoption_months=system.adoption_months,
    )
    flags, _ = assess(snapshot, book, KeptCells(kept, team_place))
    return flags
