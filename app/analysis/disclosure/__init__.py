"""Disclosure control (DESIGN section 3): which aggregates may be published, pure.

    atoms      respondents whom every published cell treats alike
    audit      the exact test: no weighted combination of cells isolates 1..k-1 people
    split      the same test on a place, split by team (fast on places of many teams)
    decision   threshold, a quick test, then the exact one, in the order publishing most
    layout     the cells a place can have, laid out once for many decisions
    place      the decision on a place's cells, and the cells' sums
    ledger     revisions: what may be added to a pulse's first publication

Everything else imports these names from this package, not from its modules; the cells
and profiles they decide about are ``app.analysis.cells``.
"""

from app.analysis.disclosure.audit import Exposure, exposure
from app.analysis.disclosure.layout import Layout
from app.analysis.disclosure.ledger import Edition, revision_cells
from app.analysis.disclosure.place import (
    PlaceCells,
    disclose,
    place_cells,
    place_problem,
    publishable,
)
from app.analysis.disclosure.split import SplitTest

__all__ = [
    "Edition",
    "Exposure",
    "Layout",
    "PlaceCells",
    "SplitTest",
    "disclose",
    "exposure",
    "place_cells",
    "place_problem",
    "publishable",
    "revision_cells",
]
