"""Comparisons over time: ``falling`` and ``sustained_decline``."""

from __future__ import annotations

from itertools import pairwise

from app.analysis.signs import rules
from app.analysis.signs.findings import Cells, Comparison, Subject, label, mean
from app.analysis.signs.rulebook import Rulebook
from app.analysis.snapshot import Snapshot
from app.analysis.stats import Moments, welch


def falling(
    cells: Cells,
    snapshot: Snapshot,
    subject: Subject,
    dimension: str,
    whole: Moments,
    rulebook: Rulebook,
) -> list[Comparison]:
    """The subject against its pooled baseline: up to three earlier pulses it was published in."""
    settings = rulebook.falling
    if not settings.enabled:
        return []
    # Pool only published pulses: pooling a suppressed one would let it be derived.
    cell = subject.cell()
    pooled = [
        (pulse.key, cells(pulse.key, dimension)[cell])
        for pulse in reversed(snapshot.earlier)
        if cell in cells(pulse.key, dimension)
    ][: rulebook.baseline_pulses][::-1]
    if not pooled:
        return []
    baseline = sum((m for _, m in pooled), Moments())
    keys = [key for key, _ in pooled]
    span = keys[0] if len(keys) == 1 else f"{keys[0]} to {keys[-1]}"
    before, now = mean(baseline), mean(whole)
    fall = before - now
    return [
        Comparison(
            "falling",
            dimension,
            welch(baseline, whole).p,
            fall,
            lambda p: rules.falling(
                fall,
                p,
                amber_fall=settings.amber_fall,
                red_fall=settings.red_fall,
                alpha=rulebook.alpha,
            ),
            lambda p: (
                f"{label(dimension)} fell from {before:.1f} ({span}) to {now:.1f} "
                f"(n={whole.n}, {p})"
            ),
            {
                "n": whole.n,
                "mean": round(now, 2),
                "baseline_pulses": keys,
                "baseline_n": baseline.n,
                "baseline_mean": round(before, 2),
                "fall": round(fall, 2),
            },
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
    """The first against the last of four pulses in a row, when each mean fell."""
    settings = rulebook.sustained_decline
    run = snapshot.earlier[-3:]
    if not settings.enabled or len(run) < 3:
        return []
    series = [cells(pulse.key, dimension).get(subject.cell()) for pulse in run]
    moments = [m for m in series if m is not None] + [whole]
    means = [mean(m) for m in moments]
    # Only a run of four reportable, strictly falling means is put to the test.
    if len(moments) < 4 or not all(rules.below(b, a) for a, b in pairwise(means)):
        return []
    first, last = moments[0], moments[-1]
    keys = [pulse.key for pulse in run] + [snapshot.pulse.key]
    return [
        Comparison(
            "sustained_decline",
            dimension,
            welch(first, last).p,
            means[0] - means[-1],
            lambda p: rules.sustained_decline(
                means,
                p,
                amber_fall=settings.amber_fall,
                red_fall=settings.red_fall,
                alpha=rulebook.alpha,
            ),
            lambda p: (
                f"{label(dimension)} fell in four pulses in a row, from {means[0]:.1f} "
                f"({keys[0]}) to {means[-1]:.1f} ({keys[-1]}) (n={whole.n}, {p})"
            ),
            {"pulses": keys, "n": [m.n for m in moments], "means": [round(x, 2) for x in means]},
        )
    ]
