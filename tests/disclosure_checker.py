"""An independent, exact check of DESIGN section 3.3: may any weights isolate a small group?

Written apart from the production audit (nothing here comes from ``app.analysis``), so the
two cannot share a mistake. It knows nothing of teams, places or segments: a published cell
is just the set of respondents it sums over. Each cell gives three linear equations over
the respondents (its n, sum and sum of squares: its 0/1 membership vector dotted with 1, x
and x squared), so what a reader can learn is the row space of the cell x respondent
incidence matrix. The publication is safe iff every nonzero vector of that row space has
support 0 or at least k respondents.

A published number need not be a plain cell: the evidence of a warning sign can give the
mean of a place less one of its teams, or of a team pooled over earlier pulses. Such a row
is given as a mapping of respondents to integer weights (a cell is the same with every
weight 1), and takes part in the row space like any other.

How it decides, exactly (integers only, no floating point):

1. Respondents in the same published cells, with the same weights, form an *atom*; every
   row-space vector is constant on an atom, so supports are unions of atoms and the matrix
   is taken over atoms, each weighing its number of respondents.
2. Cells that share no respondent (another place) share no equation: each connected
   group of cells and atoms is checked on its own.
3. A support lighter than k is made of atoms lighter than k. Echelon form with the heavy
   atoms' columns first gives a basis of W, the row-space vectors that vanish on every
   heavy atom; if W is zero, nothing small can be isolated.
4. Otherwise a branch and bound finds the lightest support in W: each atom is either
   zero (the subspace shrinks by that equation) or allowed (its weight is paid); a branch
   ends when the subspace is empty, when some vector of it lives on the allowed atoms
   alone (a support found), or when disjoint bases of what is left show it cannot beat
   the lightest support found so far.

``exposes`` is the definition itself (a set is exposed iff deleting its columns lowers the
rank of the incidence matrix), kept plain so tests can check the search against it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping
from math import gcd

Vector = dict[int, int]  # sparse: column -> nonzero entry (a vector up to a nonzero factor)
# A published row: the respondents of a cell (each weighing 1), or respondents and weights.
Row = Collection[Hashable] | Mapping[Hashable, int]


def weights(row: Row) -> dict[Hashable, int]:
    """A row's respondents and their nonzero weights."""
    if isinstance(row, Mapping):
        return {person: int(weight) for person, weight in row.items() if weight}
    return dict.fromkeys(row, 1)


def find_exposure(cells: Iterable[Row], k: int) -> frozenset[Hashable] | None:
    """A lightest set of 1..k-1 respondents that some weighting of the cells isolates, or None.

    The set returned is the support of a combination of the cells (any real weights): the
    published numbers determine the total, and the total of squares, of exactly these people.
    """
    atoms = _atoms(cells)
    best: frozenset[int] | None = None
    best_weight = k
    for component in _components(atoms):
        weight = {a: len(atoms[a][1]) for a in component}
        basis = _small_part(atoms, component, weight, k)
        found = _lightest_support(basis, weight, best_weight)
        if found is not None:
            best, best_weight = found, sum(weight[a] for a in found)
    if best is None:
        return None
    return frozenset(person for a in best for person in atoms[a][1])


def exposes(cells: Iterable[Row], group: Collection[Hashable]) -> bool:
    """Whether some weighting of the cells is nonzero only on (some of) ``group``.

    That is: deleting the group's columns lowers the rank of the incidence matrix.
    """
    rows = [weights(cell) for cell in cells]
    everyone = sorted({p for row in rows for p in row}, key=repr)
    inside = set(group)
    number = {p: i for i, p in enumerate(everyone)}
    full = [{number[p]: w for p, w in row.items()} for row in rows]
    outside = [{number[p]: w for p, w in row.items() if p not in inside} for row in rows]
    return rank(full) > rank(outside)


def rank(rows: Iterable[Vector]) -> int:
    """The rank of a matrix given by sparse rows."""
    return len(_echelon(rows, order={}))


# -- atoms and components ------------------------------------------------------------------


Column = frozenset[tuple[int, int]]  # an atom's (row, weight) pairs: its column of the matrix
Atoms = list[tuple[Column, list[Hashable]]]


def _atoms(cells: Iterable[Row]) -> Atoms:
    """The atoms: (their column, their respondents), people in no row left out."""
    given = (frozenset(weights(cell).items()) for cell in cells)
    distinct = list(dict.fromkeys(row for row in given if row))
    column: dict[Hashable, set[tuple[int, int]]] = defaultdict(set)
    for number, row in enumerate(distinct):
        # In a fixed order, so that the same cells always give the same answer.
        for person, weight in sorted(row, key=repr):
            column[person].add((number, weight))
    grouped: dict[Column, list[Hashable]] = defaultdict(list)
    for person, entries in column.items():
        grouped[frozenset(entries)].append(person)
    return list(grouped.items())


def _components(atoms: Atoms) -> list[list[int]]:
    """Atoms grouped by the connected parts of the cell-atom graph."""
    parent = list(range(len(atoms)))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    first_atom_of_row: dict[int, int] = {}
    for a, (entries, _) in enumerate(atoms):
        for row, _weight in entries:
            other = first_atom_of_row.setdefault(row, a)
            parent[root(a)] = root(other)
    parts: dict[int, list[int]] = defaultdict(list)
    for a in range(len(atoms)):
        parts[root(a)].append(a)
    return list(parts.values())


def _small_part(
    atoms: Atoms,
    component: list[int],
    weight: dict[int, int],
    k: int,
) -> list[Vector]:
    """A basis of the row-space vectors of a component that vanish on its heavy atoms."""
    rows: dict[int, Vector] = defaultdict(dict)
    for a in component:
        for row, entry in atoms[a][0]:
            rows[row][a] = entry
    # Heavy atoms first: echelon rows led by a light atom are zero on every heavy one.
    ordered = sorted(component, key=lambda a: (weight[a] < k, a))
    order = {a: position for position, a in enumerate(ordered)}
    echelon = _echelon(rows.values(), order)
    return [vector for lead, vector in echelon.items() if weight[lead] < k]


# -- exact linear algebra ------------------------------------------------------------------
# Vectors are kept as integers, each divided by the gcd of its entries (fraction-free
# elimination): as exact as Fractions, and several times faster. Only spans and supports
# matter here, and a nonzero multiple of a vector has the same span and support.


def _echelon(rows: Iterable[Vector], order: dict[int, int]) -> dict[int, Vector]:
    """Echelon form in the given column order (unlisted columns after, by number): lead -> row."""

    def position(column: int) -> tuple[int, int]:
        return (order.get(column, len(order)), column)

    basis: dict[int, Vector] = {}
    for given in rows:
        vector = {c: v for c, v in given.items() if v}
        while vector:
            lead = min(vector, key=position)
            pivot = basis.get(lead)
            if pivot is None:
                basis[lead] = _primitive(vector)
                break
            vector = _cancel(vector, pivot, lead)
    return basis


def _cancel(vector: Vector, pivot: Vector, column: int) -> Vector:
    """pivot[column] * vector - vector[column] * pivot: zero in ``column``, made primitive."""
    times, scale = vector[column], pivot[column]
    out = {c: scale * v for c, v in vector.items()}
    for c, v in pivot.items():
        new = out.get(c, 0) - times * v
        if new:
            out[c] = new
        else:
            out.pop(c, None)
    return _primitive(out)


def _primitive(vector: Vector) -> Vector:
    divisor = gcd(*vector.values())
    return vector if divisor <= 1 else {c: v // divisor for c, v in vector.items()}


def _reduced(space: list[Vector], order: dict[int, int]) -> dict[int, Vector]:
    """Reduced echelon form in the given column order: each row zero in the others' leads."""
    echelon = _echelon(space, order)
    for lead in sorted(echelon, key=lambda c: (order.get(c, len(order)), c), reverse=True):
        pivot = echelon[lead]
        for other, vector in echelon.items():
            if other != lead and lead in vector:
                echelon[other] = _cancel(vector, pivot, lead)
    return echelon


def _vanishing_at(space: list[Vector], column: int) -> list[Vector]:
    """A basis of the vectors of span(space) that are zero in ``column``."""
    having = [v for v in space if column in v]
    if not having:
        return space
    pivot = min(having, key=len)
    return [_cancel(v, pivot, column) if column in v else v for v in space if v is not pivot]


# -- the lightest support ------------------------------------------------------------------


def _lightest_support(
    basis: list[Vector], weight: dict[int, int], limit: int
) -> frozenset[int] | None:
    """The support of a nonzero vector of span(basis) of least weight, if below ``limit``."""
    best: list[tuple[int, frozenset[int]]] = [(limit, frozenset())]

    def heft(columns: Iterable[int]) -> int:
        return sum(weight[c] for c in columns)

    def consider(supports: Iterable[Collection[int]]) -> None:
        for support in supports:
            if heft(support) < best[-1][0]:
                best.append((heft(support), frozenset(support)))

    def search(space: list[Vector], allowed: frozenset[int], cost: int) -> None:
        if not space:
            return
        undecided = {c for vector in space for c in vector} - allowed
        bases = _disjoint_bases(space, sorted(undecided, key=lambda c: (-weight[c], c)))
        if not bases:
            # Some vector of the space is zero on every undecided atom: it lives on the
            # allowed ones (the rows of an echelon form led by an allowed atom).
            echelon = _echelon(space, dict.fromkeys(undecided, 0))
            consider(v for lead, v in echelon.items() if lead not in undecided)
            return
        # A nonzero vector of the space is nonzero somewhere in every basis of the undecided
        # columns (where it is zero holds none), so at least once in each of these.
        room = best[-1][0] - cost  # what a lighter vector may weigh on the undecided atoms

        def meeting(times: int) -> int:
            """The least weight on the undecided atoms of a vector meeting each basis so often."""
            weights = [sorted(weight[c] for c in b) for b in bases]
            return sum(sum(w[:times]) if len(w) >= times else room for w in weights)

        if meeting(1) >= room:
            return
        # A vector meeting some basis B once is a row of the reduced echelon form led by B;
        # meeting it twice, a combination of two such rows.
        for times in (2, 3):
            if meeting(times) >= room:
                for b in bases:
                    rows = list(_reduced(space, dict.fromkeys(b, 0)).values())
                    consider(rows)
                    if times == 3:
                        consider(_pair_supports(rows))
                return
        column = max(undecided, key=lambda c: (weight[c], sum(c in v for v in space), -c))
        if weight[column] < room:
            search(space, allowed | {column}, cost + weight[column])
        search(_vanishing_at(space, column), allowed, cost)

    search(basis, frozenset(), 0)
    return best[-1][1] if len(best) > 1 else None


def _pair_supports(rows: list[Vector]) -> Iterator[set[int]]:
    """The supports of the combinations a + x b of two rows that cancel somewhere.

    Rows of a reduced echelon form share no lead, so a + x b cancels in a column c only
    where x = -a[c] / b[c]: each such ratio gives a candidate, any other x their union.
    """
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            cancelled: dict[tuple[int, int], set[int]] = defaultdict(set)
            for c in a.keys() & b.keys():
                divisor = gcd(a[c], b[c]) * (1 if b[c] > 0 else -1)
                cancelled[(a[c] // divisor, b[c] // divisor)].add(c)
            union = a.keys() | b.keys()
            for columns in cancelled.values():
                yield union - columns


def _disjoint_bases(space: list[Vector], ranked: list[int]) -> list[list[int]]:
    """Disjoint bases of the column space on ``ranked`` columns, taken greedily in that order.

    The leads of an echelon form are the first basis in its column order, so each basis
    is read off one echelon form with the columns already used put last. When the columns
    left do not span, the used columns they lacked go to the end and it tries again.
    """
    found: list[list[int]] = []
    for _ in range(4):
        bases, lacking = _greedy_bases(space, ranked)
        if len(bases) > len(found):
            found = bases
        if not lacking:
            break
        ranked = [c for c in ranked if c not in lacking] + [c for c in ranked if c in lacking]
    return found


def _greedy_bases(space: list[Vector], ranked: list[int]) -> tuple[list[list[int]], set[int]]:
    """Bases taken in turn in this order, and the used columns the next one lacked."""
    bases: list[list[int]] = []
    used: set[int] = set()
    pool = list(ranked)
    while len(pool) >= len(space):
        order = {c: i for i, c in enumerate(pool)}
        leads = list(_echelon(space, order))
        if not set(leads) <= set(pool):
            return bases, used.intersection(leads)
        bases.append(leads)
        used.update(leads)
        pool = [c for c in pool if c not in used]
    return bases, set()
