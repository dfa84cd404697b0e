"""The exact test of ``audit`` on a place's cells, split by team: fast on places of many teams.

Every cell of a place is a team's (its whole or one of its segments) or the place's. Every
group of respondents belongs to one team, and a team's cells are zero outside it. So a
combination of the published cells, with any weights, is ``θ·P + Σ u_t``: θ weighs the
place cells, and u_t lies in the span U_t of team t's own cells. Write P_t for the place
cells restricted to team t's groups.

On a team t where the combination is zero, P_t θ is cancelled by team t's cells: P_t θ is
in U_t, that is, θ is orthogonal to the *residual* R_t of P_t off U_t. A combination over
fewer than k people is nonzero on fewer than k teams (each weighs at least its smallest
group), so for such a combination with nonzero teams T', θ lies in

    Θ(T') = {θ : R_t θ = 0 for every team t outside T'}

and on T' the combination is a vector of V(T') = {(P_t θ + u_t), t in T' : θ in Θ(T')}.
Let K = Θ(no team): the θ that every team cancels. If θ is in K, the combination is a sum
of team-own vectors (P_t θ + u_t in U_t on every team), and one of them is itself nonzero
and over fewer than k people. Hence, exactly:

1. no team's own cells U_t hold a nonzero vector over 1..k-1 people (a small audit per
   team); and
2. no set T' of teams weighing less than k (at its smallest groups) with Θ(T') larger
   than K has a nonzero vector of V(T') over 1..k-1 people (the audit on T' only).

Step 2 is needed only for teams whose residual is not zero (a team whose own cells explain
the place cells on it splits off any combination as in step 1), and is skipped altogether
when those teams fall into k disjoint groups, each of whose residuals span as much as all
of them do: a θ outside K is then seen by a whole group outside any k-1 teams. On a place
of many teams that is the usual case, and the test costs a few small audits. A group's
rank is worked out only when it can span as much: R_t is orthogonal to U_t, so it spans
at most team t's groups less the rank of U_t; and a group whose residuals are all zero on
a place cell where another team's is not spans less (θ on that cell alone is cancelled
by the group and not by all).

The sets a decision tests follow one another, mostly a cell apart: the test keeps each
team's own published cells, its verdict in step 1 and its residual from one set to the
next, and works them out again only for the teams whose cells changed. Step 1 fails at
once when a team's cell, or its cell less another cell inside it, is over 1..k-1 people
(a combination the audit finds too); teams whose own cells have the same atoms, with the
same weights below k, share the audit's verdict.

Where a search would be too long, the test reports an exposure: in doubt, suppress more.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

from app.analysis.disclosure.atoms import atoms, weights
from app.analysis.disclosure.audit import TOLERANCE, column_basis, exposure, rank

# Past this many sets of teams, step 2 stops and reports an exposure.
MAX_TEAM_SETS = 400

Matrix = NDArray[np.float64]


class _Residual:
    """A team's residual on all the place cells (place cells x the team's groups), with a
    number that names it, each row's largest entry, and at most what its rows span: the
    groups less the rank of the team's own cells, whose span they are orthogonal to."""

    __slots__ = ("largest", "matrix", "most", "number")

    def __init__(self, number: int, matrix: Matrix, own: int) -> None:
        self.number = number
        self.matrix = matrix
        self.largest = np.abs(matrix).max(axis=1, initial=0.0)
        self.most = matrix.shape[1] - own


class SplitTest:
    """The exact test for sets of one place's cells, remembering what it learnt per team.

    ``incidence`` is groups x cells; ``team`` gives each group's team (0..T-1) and
    ``owner`` each cell's team, or -1 for a place cell.
    """

    def __init__(
        self,
        incidence: NDArray[np.bool_],
        sizes: NDArray[np.int64],
        team: NDArray[np.intp],
        owner: NDArray[np.intp],
        k: int,
    ) -> None:
        self.incidence = incidence
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.k = k
        self.owner = owner
        count = int(max(team.max(initial=-1), owner.max(initial=-1))) + 1
        self.groups = [np.flatnonzero(team == t) for t in range(count)]
        self.cells = [np.flatnonzero(owner == t) for t in range(count)]
        self.place = np.flatnonzero(owner < 0)
        self._rows: dict[int, NDArray[np.bool_]] = {}  # a team's groups' rows of incidence
        self._local: dict[tuple[int, bytes], bool] = {}
        self._verdicts: dict[tuple[tuple[int, ...], bytes, bytes], bool] = {}
        self._residual: dict[tuple[int, bytes], _Residual] = {}
        self._ranks: dict[tuple[bytes, tuple[int, ...]], int] = {}
        # The last set tested: each team's own published cells, its verdict in step 1
        # (None: not yet known) and its residual, laid out team by team in ``_wide``.
        self._published = np.zeros(len(owner), dtype=bool)
        self._mine = [cells[:0] for cells in self.cells]
        self._passing: list[bool | None] = [True] * count
        self._current: list[_Residual | None] = [None] * count  # None: not laid out yet
        widths = [len(rows) for rows in self.groups]
        self._start = np.concatenate([[0], np.cumsum(widths)]).astype(np.intp)
        self._column_team = np.repeat(np.arange(count), widths)
        self._wide = np.zeros((len(self.place), int(self._start[-1])))
        self._largest = np.zeros((count, len(self.place)))

    def passes(self, published: NDArray[np.bool_]) -> bool:
        """Whether no combination of the published cells involves 1..k-1 people."""
        published = np.array(published, dtype=bool)
        changed = self.owner[np.flatnonzero(published != self._published)]
        self._published = published
        teams = sorted(set(changed[changed >= 0].tolist()))
        for t in teams:
            cells = self.cells[t]
            self._mine[t] = cells[published[cells]]
            self._passing[t] = None
            self._current[t] = None
        # Step 1, the changed teams first: the others' verdicts are known already.
        for t in itertools.chain(teams, range(len(self._mine))):
            if self._passing[t] is None:
                chosen = self._mine[t]
                self._passing[t] = chosen.size == 0 or self._team_passes(t, chosen)
            if not self._passing[t]:
                return False
        rows = np.flatnonzero(published[self.place])
        if rows.size == 0:
            return True
        for t, residual in enumerate(self._current):
            if residual is None:
                self._lay_out(t)
        # A team is coupled when its residual is not zero on the published place cells.
        seen = self._largest[:, rows] > TOLERANCE
        coupled = np.flatnonzero(seen.any(axis=1))
        if coupled.size == 0:
            return True
        columns = np.flatnonzero(self._coupled(coupled)[self._column_team])
        matrix = self._wide[rows][:, columns]  # the coupled teams' residuals side by side
        which = rows.tobytes()
        teams = coupled.tolist()
        spanned = self._rank(matrix, which, teams)
        # Each coupled team's place cells where its residual is not zero, as bits.
        nonzero = [int.from_bytes(bits.tobytes()) for bits in np.packbits(seen[coupled], axis=1)]
        if self._groups(matrix, which, teams, nonzero, spanned) >= self.k:
            return True
        residuals = [matrix[:, :0]] * len(self._mine)
        for t in teams:
            residuals[t] = self._wide[rows][:, self._start[t] : self._start[t + 1]]
        place = self.place[rows]
        return self._coupled_pass(published, self._mine, place, residuals, teams, spanned)

    def _coupled(self, coupled: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Each team: whether it is one of these."""
        mask = np.zeros(len(self._mine), dtype=bool)
        mask[coupled] = True
        return mask

    def _team_passes(self, t: int, chosen: NDArray[np.intp]) -> bool:
        """Step 1: a team's own published cells alone."""
        key = (t, chosen.tobytes())
        if key not in self._local:
            rows = self.groups[t]
            member = self._team_rows(t)[:, chosen]
            if _light_difference(member, self.sizes[rows], self.k):
                self._local[key] = False
                return False
            matrix, classes = atoms(member)
            # The audit reads only which atoms weigh less than k, and what they weigh.
            light = np.minimum(weights(classes, self.sizes[rows], matrix.shape[1]), self.k)
            alike = (matrix.shape, matrix.tobytes(), light.tobytes())
            if alike not in self._verdicts:
                self._verdicts[alike] = exposure(matrix, light, self.k) is None
            self._local[key] = self._verdicts[alike]
        return self._local[key]

    def _team_rows(self, t: int) -> NDArray[np.bool_]:
        """The rows of incidence of team t's groups."""
        if t not in self._rows:
            self._rows[t] = self.incidence[self.groups[t]]
        return self._rows[t]

    def _lay_out(self, t: int) -> None:
        """Puts team t's residual, for its own published cells, in place in ``_wide``."""
        residual = self._team_residual(t, self._mine[t])
        self._wide[:, self._start[t] : self._start[t + 1]] = residual.matrix
        self._largest[t] = residual.largest
        self._current[t] = residual

    def _team_residual(self, t: int, chosen: NDArray[np.intp]) -> _Residual:
        """The place cells on team t off the span of its own cells (all the place cells x
        the team's groups): θ is cancelled on t iff, on the published place cells, θ is
        orthogonal to them."""
        key = (t, chosen.tobytes())
        if key not in self._residual:
            team = self._team_rows(t)
            p = team[:, self.place].T.astype(np.float64)
            own = 0
            if chosen.size:
                q = column_basis(team[:, chosen].astype(np.float64))
                p = p - (p @ q) @ q.T
                own = q.shape[1]
            self._residual[key] = _Residual(len(self._residual), p, own)
        return self._residual[key]

    def _rank(self, matrix: Matrix, which: bytes, teams: list[int]) -> int:
        """The rank of these teams' residuals side by side on these place cells, remembered
        by the residuals' numbers."""
        numbers = []
        for t in teams:
            residual = self._current[t]
            assert residual is not None
            numbers.append(residual.number)
        key = (which, tuple(numbers))
        if key not in self._ranks:
            self._ranks[key] = rank(matrix)
        return self._ranks[key]

    def _groups(
        self, matrix: Matrix, which: bytes, coupled: list[int], nonzero: list[int], spanned: int
    ) -> int:
        """How many disjoint groups of teams each span all the residuals span (greedily, up
        to k), given the coupled teams' residuals side by side in ``matrix``.

        A group's rank is worked out only when it may reach ``spanned``: when its teams'
        residuals may span as much (each spans at most its groups less the rank of its
        own cells), and are not all zero on a place cell where another team's is not (θ
        that place cell alone would then be cancelled by the group and not by all)."""
        every = 0
        for bits in nonzero:
            every |= bits
        full = 0
        first = start = width = most = reach = 0  # the group's first team and column, ...
        for i, t in enumerate(coupled):
            residual = self._current[t]
            assert residual is not None
            width += len(self.groups[t])
            most += residual.most  # what the group's residuals span at most
            reach |= nonzero[i]  # the place cells where they are not all zero
            if most < spanned or reach != every:
                continue
            group = matrix[:, start : start + width]
            if self._rank(group, which, coupled[first : i + 1]) >= spanned:
                full += 1
                if full >= self.k:
                    break
                first, start, width, most, reach = i + 1, start + width, 0, 0, 0
        return full

    def _coupled_pass(
        self,
        published: NDArray[np.bool_],
        mine: list[NDArray[np.intp]],
        place: NDArray[np.intp],
        residuals: list[Matrix],
        coupled: list[int],
        spanned: int,
    ) -> bool:
        """Step 2, by trying every light set of coupled teams."""
        smallest = {}
        for t in coupled:
            rows = self.groups[t]
            seen = self.incidence[np.ix_(rows, np.flatnonzero(published))].any(axis=1)
            smallest[t] = int(self.sizes[rows][seen].min())
        # dim Θ(T') by T'. A T' holding a team t with Θ(T') = Θ(T' - t) needs no audit:
        # P_t θ is then in U_t, so a vector of V(T') splits into one of V(T' - t) and one
        # of U_t, and the lighter nonzero part is found there (or by step 1).
        dimension: dict[tuple[int, ...], int] = {(): len(place) - spanned}
        tried = 0
        for size in range(1, self.k):
            for chosen in itertools.combinations(coupled, size):
                if sum(smallest[t] for t in chosen) >= self.k:
                    continue
                tried += 1
                if tried > MAX_TEAM_SETS:
                    return False
                outside = [residuals[t] for t in coupled if t not in chosen]
                thetas = (
                    _left_null(np.hstack(outside), len(place)) if outside else np.eye(len(place))
                )
                dimension[chosen] = thetas.shape[1]
                smaller = (chosen[:i] + chosen[i + 1 :] for i in range(size))
                if any(dimension[rest] >= thetas.shape[1] for rest in smaller):
                    continue
                if not self._teams_pass(list(chosen), mine, place, thetas):
                    return False
        return True

    def _teams_pass(
        self,
        chosen: list[int],
        mine: list[NDArray[np.intp]],
        place: NDArray[np.intp],
        thetas: Matrix,
    ) -> bool:
        """Whether V(T') for these teams holds no nonzero vector over 1..k-1 people."""
        rows = np.concatenate([self.groups[t] for t in chosen])
        own = np.concatenate([mine[t] for t in chosen])
        member = self.incidence[np.ix_(rows, np.concatenate([own, place]))]
        # Groups in the same cells are one atom: every vector of V(T') is equal on them.
        _, classes = atoms(member)
        seen = classes >= 0
        count = int(classes.max(initial=-1)) + 1
        first = np.zeros(count, dtype=np.intp)
        first[classes[seen][::-1]] = np.flatnonzero(seen)[::-1]
        signature = member[first].astype(np.float64)  # atoms x (own cells, place cells)
        vectors = np.vstack(
            [signature[:, : own.size].T, (signature[:, own.size :] @ thetas).T]
        )  # rows spanning V(T'), over atoms
        found = exposure(vectors, weights(classes, self.sizes[rows], count), self.k)
        return found is None


def _light_difference(member: NDArray[np.bool_], sizes: NDArray[np.int64], k: int) -> bool:
    """Whether a cell, or a cell less another cell inside it, is over 1..k-1 people: a
    combination that the audit would find (``member`` is groups x cells)."""
    counts = member.astype(np.int64)
    people = sizes @ counts
    both = (counts * sizes[:, None]).T @ counts  # people in cells a and b
    more = people[:, None] - people[None, :]  # people in a, less those in b
    inside = both == people[None, :]  # b's people are all in a
    return bool(((people > 0) & (people < k)).any() or (inside & (more > 0) & (more < k)).any())


def _left_null(matrix: Matrix, dimension: int) -> Matrix:
    """Columns spanning {θ : θ·matrix = 0} (an orthonormal basis, dimension x d)."""
    # The right singular vectors of the transpose; only the D x D factor is needed in full.
    _, values, vt = np.linalg.svd(matrix.T, full_matrices=matrix.shape[1] < dimension)
    top = float(values[0]) if values.size else 0.0
    r = int((values > TOLERANCE * max(1.0, top)).sum())
    return np.asarray(vt[r:dimension].T)
