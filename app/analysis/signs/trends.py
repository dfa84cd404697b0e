"""Comparisons over time: ``falling`` and ``sustained_decline``."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from app.analysis.signs import rules
from app.analysis.signs.findings import Cells, Comparison, Subject, label, mean, shown, side
from app.analysis.signs.rulebook import Rulebook
from app.analysis.snapshot import Snapshot
from app.analysis.stats import Moments, WelchResult, welch


def falling(
    cells: Cells,
    snapshot: Snapshot,
    subject: Subject,
    dimension: str,
    whole: Moments,
    rulebook: Rulebook,
) -> list[Comparison]:
    """The subject against its pooled baseline: up to three earlier pulses it was published in.

    Of ``rulebook``, only ``baseline_pulses`` is read here; the thresholds grade it later.
    """
    # Pool only published pulses: pooling a suppressed one would let it be derived.
    cell = subject.cell()
    pooled: list[tuple[str, Moments]] = []
    for pulse in reversed(snapshot.earlier):
        if len(pooled) == rulebook.baseline_pulses:
            break
        earlier = cells(pulse.key, dimension).get(cell)
        if earlier is not None:
            pooled.append((pulse.key, earlier))
    if not pooled:
        return []
    pooled.reverse()
    baseline = sum((m for _, m in pooled), Moments())
    keys = [key for key, _ in pooled]
    span = keys[0] if len(keys) == 1 else f"{keys[0]} to {keys[-1]}"
    before, now = mean(baseline), mean(whole)
    fall = before - now

    def evidence() -> dict[str, Any]:
        now_n, now_mean, now_sd = side(whole)
        base_n, base_mean, base_sd = side(baseline)
        return {
            "n": now_n,
            "mean": now_mean,
            "sd": now_sd,
            "baseline_pulses": keys,
            "baseline_n": base_n,
            "baseline_mean": base_mean,
            "baseline_sd": base_sd,
            "fall": round(fall, 2),
        }

    return [
        Comparison(
            "falling",
            dimension,
            # One-sided: only a fall is a warning sign; a rise is not tested for.
            welch(baseline, whole, "greater"),
            fall,
            lambda book, p: rules.falling(
                fall,
                p,
                amber_fall=book.falling.amber_fall,
                red_fall=book.falling.red_fall,
                alpha=book.alpha,
            ),
            lambda book, p: (
                f"{label(dimension)} fell by {shown(fall, book.falling.red_fall)}, "
                f"from {before:.2f} ({span}, n={baseline.n}) to {now:.2f} (n={whole.n}, {p})"
            ),
            evidence,
        )
    ]


def sustained_decline(
    cells: Cells,
    snapshot: Snapshot,
    subject: Subject,
    dimension: str,
    whole: Moments,
    rulebook: Rulebook,
) -> list[Comparison]:
    """The first against the last of four reportable pulses in a row; fires when each mean fell."""
    run = snapshot.earlier[-3:]
    if len(run) < 3:
        return []
    series = [cells(pulse.key, dimension).get(subject.cell()) for pulse in run]
    moments = [m for m in series if m is not None] + [whole]
    means = [mean(m) for m in moments]
    if len(moments) < 4:
        return []
    if not all(rules.below(b, a) for a, b in pairwise(means)):
        # Not a run of falls: no flag, but the comparison still counts in the family. Which
        # comparisons a family holds must not depend on the scores, or picking the
        # promising ones would shrink the adjustment exactly when the data look alarming.
        return [_no_run(dimension)]
    first, last = moments[0], moments[-1]
    keys = [pulse.key for pulse in run] + [snapshot.pulse.key]
    fall = means[0] - means[-1]

    def steps() -> str:
        return ", ".join(
            f"{m:.2f} ({key}, n={moment.n})"
            for m, key, moment in zip(means, keys, moments, strict=True)
        )

    def evidence() -> dict[str, Any]:
        sds = [m.sd for m in moments]
        return {
            "pulses": keys,
            "n": [m.n for m in moments],
            "means": [round(x, 2) for x in means],
            "sds": [None if sd is None else round(sd, 2) for sd in sds],
            "fall": round(fall, 2),
        }

    return [
        Comparison(
            "sustained_decline",
            dimension,
            # The run of falls is the pattern; the test asks whether the first pulse is
            # credibly above the last, one-sided as only a decline is looked for.
            welch(first, last, "greater"),
            fall,
            lambda book, p: rules.sustained_decline(
                means,
                p,
                amber_fall=book.sustained_decline.amber_fall,
                red_fall=book.sustained_decline.red_fall,
                alpha=book.alpha,
            ),
            lambda _book, p: (
                f"{label(dimension)} fell in four pulses in a row, by {fall:.2f} in all: "
                f"{steps()} ({p})"
            ),
            evidence,
        )
    ]


def _no_run(dimension: str) -> Comparison:
    """A sustained_decline comparison counted in the family that cannot fire."""
    return Comparison(
        "sustained_decline",
        dimension,
        WelchResult(0.0, 0.0, 1.0, "greater"),
        0.0,
        lambda _book, _p: None,
        lambda _book, _p: "",
        dict,
    )
