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
of many teams that is the usual case, and the test costs a few small audits.

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
        self._local: dict[tuple[int, bytes], bool] = {}
        self._residual: dict[tuple[int, bytes, bytes], Matrix] = {}
        self._own: dict[tuple[int, bytes], Matrix] = {}

    def passes(self, published: NDArray[np.bool_]) -> bool:
        """Whether no combination of the published cells involves 1..k-1 people."""
        mine = [cells[published[cells]] for cells in self.cells]
        for t, chosen in enumerate(mine):
            if chosen.size and not self._team_passes(t, chosen):
                return False
        place = self.place[published[self.place]]
        if place.size == 0:
            return True
        residuals = [self._team_residual(t, mine[t], place) for t in range(len(mine))]
        coupled = [t for t, r in enumerate(residuals) if r.shape[1]]
        if not coupled:
            return True
        spanned = rank(np.hstack([residuals[t] for t in coupled]))
        if _groups(residuals, coupled, spanned, self.k) >= self.k:
            return True
        return self._coupled_pass(published, mine, place, residuals, coupled, spanned)

    def _team_passes(self, t: int, chosen: NDArray[np.intp]) -> bool:
        """Step 1: a team's own published cells alone."""
        key = (t, chosen.tobytes())
        if key not in self._local:
            rows = self.groups[t]
            matrix, classes = atoms(self.incidence[np.ix_(rows, chosen)])
            found = exposure(matrix, weights(classes, self.sizes[rows], matrix.shape[1]), self.k)
            self._local[key] = found is None
        return self._local[key]

    def _team_residual(self, t: int, chosen: NDArray[np.intp], place: NDArray[np.intp]) -> Matrix:
        """The place cells on team t off the span of its own cells (place cells x groups;
        no columns when nothing is left): θ is cancelled on t iff θ is orthogonal to them."""
        key = (t, chosen.tobytes(), place.tobytes())
        if key not in self._residual:
            rows = self.groups[t]
            p = self.incidence[np.ix_(rows, place)].T.astype(np.float64)
            if chosen.size:
                own = (t, chosen.tobytes())
                if own not in self._own:
                    mine = self.incidence[np.ix_(rows, chosen)].astype(np.float64)
                    self._own[own] = column_basis(mine)
                q = self._own[own]
                p = p - (p @ q) @ q.T
            self._residual[key] = p if np.abs(p).max(initial=0.0) > TOLERANCE else p[:, :0]
        return self._residual[key]

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


def _groups(residuals: list[Matrix], coupled: list[int], spanned: int, k: int) -> int:
    """How many disjoint groups of teams each span all the residuals span (greedily, up to k)."""
    full = 0
    group: list[Matrix] = []
    width = 0
    for t in coupled:
        group.append(residuals[t])
        width += residuals[t].shape[1]
        if width >= spanned and rank(np.hstack(group)) >= spanned:
            full += 1
            if full >= k:
                break
            group, width = [], 0
    return full


def _left_null(matrix: Matrix, dimension: int) -> Matrix:
    """Columns spanning {θ : θ·matrix = 0} (an orthonormal basis, dimension x d)."""
    # The right singular vectors of the transpose; only the D x D factor is needed in full.
    _, values, vt = np.linalg.svd(matrix.T, full_matrices=matrix.shape[1] < dimension)
    top = float(values[0]) if values.size else 0.0
    r = int((values > TOLERANCE * max(1.0, top)).sum())
    return np.asarray(vt[r:dimension].T)
