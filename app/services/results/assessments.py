"""Assessments of recent pulses kept in memory, so that a rule change reads no cell.

An assessment (``app.analysis.signs.Assessment``) is every comparison a pulse's published
cells allow, made whatever the thresholds; grading it by a rulebook is a small part of a
rule run. A rule change, or a preview, grades the assessment kept here for each pulse,
rather than reading the pulse's kept cells and making every Welch test again.

An assessment is kept under a key naming every input it was made from: the pulse and the
pulses before it that it read, each with its closing day, responses revision and the
state of its ledger (editions written, the responses revision the last one covered), the
adoption window, and the statistical settings of the rules. It is made from kept cells
as committed, or from the cells of an edition being written, kept here only once that
edition is committed (under the key of the ledger as it then stands), so no key can name
cells that were not kept. A changed input makes a new key; the old entry ages out.

Kept per process, a bounded number of teams and places in all, least recently used
first out. A publication fills it with the pulse it publishes (``results.publish``), the
publisher with the other recent pulses when it has nothing due (``results.publisher``).
"""

import threading
from collections import OrderedDict
from collections.abc import Hashable

from app.analysis.signs import Assessment

# About six pulses of a system of 8,000 teams, or of forty systems of 200: a few hundred
# bytes a subject, most of it the comparisons that could fire.
SUBJECTS = 60_000


class Assessments:
    """A bounded, thread-safe map from an assessment's inputs to the assessment."""

    def __init__(self, subjects: int = SUBJECTS) -> None:
        self._budget = subjects
        self._held = 0
        self._entries: OrderedDict[Hashable, Assessment] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Assessment | None:
        """The assessment kept under ``key``, if any (now the most recently used)."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def put(self, key: Hashable, assessed: Assessment) -> None:
        """Keep an assessment, letting the least recently used go beyond the budget."""
        size = assessed.subjects
        if size > self._budget:
            return  # larger than everything kept together: made again when needed
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._held -= old.subjects
            self._entries[key] = assessed
            self._held += size
            while self._held > self._budget:
                _, dropped = self._entries.popitem(last=False)
                self._held -= dropped.subjects

    def clear(self) -> None:
        """Forget every assessment (tests, and a process that wants its memory back)."""
        with self._lock:
            self._entries.clear()
            self._held = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# The process's assessments: the publisher and every request of the process share them.
KEPT = Assessments()
