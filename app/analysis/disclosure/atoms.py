"""Atoms: the groups of respondents that every published cell treats alike."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def atoms(incidence: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """The cells x atoms matrix of groups x cells membership, and each group's atom (-1: none).

    ``incidence`` says which published cells each group of respondents (a profile) counts
    in; groups in the same cells share an atom, and groups in no published cell have none.
    """
    if incidence.shape[1] == 0:
        return np.zeros((0, 0), np.int64), np.full(incidence.shape[0], -1, dtype=np.intp)
    packed = np.ascontiguousarray(np.packbits(incidence, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    signatures = incidence[first]
    seen: NDArray[np.bool_] = np.asarray(signatures.any(axis=1), dtype=bool)
    renumber = np.cumsum(seen) - 1
    classes = np.where(seen[inverse.ravel()], renumber[inverse.ravel()], -1).astype(np.intp)
    return signatures[seen].T.astype(np.int64), classes


def weights(classes: NDArray[np.intp], sizes: NDArray[np.int64], count: int) -> NDArray[np.int64]:
    """The respondents of each of ``count`` atoms, given each group's atom and size."""
    seen = classes >= 0
    return np.bincount(classes[seen], sizes[seen], count).astype(np.int64)
