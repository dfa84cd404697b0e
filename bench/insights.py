"""Warning signs through the API against pandas computing team means, on PostgreSQL.

    python bench/insights.py [--teams 500 2000 8000]

For each size: a system of that many teams (20 per place), six pulses and about 12
responses per team per pulse. Five pulses closed last months (their results are computed
before the service starts); the sixth is open while its responses arrive. With the service
running, an admin closes the sixth pulse; the service's publisher computes its results in
the background (``publish_s``: from the close until they are kept). Then every warning
sign of that pulse is pulled through the HTTP API (``first_s``, the first pull after the
close; ``repeat_s``, the best of five more), side by side with pandas reading the same
responses from CSV and computing the team means. A pull made within ``publish_s`` of the
close waits for the computation. Targets: first pull no slower than pandas, repeated pulls
>= 3x faster.

Before the close, the benchmark waits until the service's log says it keeps the
assessments of the five closed pulses (``warm_s``, what a service up a few seconds has).
After the pulls it changes the rulebook twice: ``rules_s`` and ``again_s`` are the seconds
until the new flags of all six pulses are readable, ``(pulled)`` until every flag of the
six has been pulled too. Then a team moves to another place, and ``before_s`` / ``moved_s``
are the slowest read of the places' scores and the pulses' warning signs before and after.
Needs PostgreSQL on 127.0.0.1:5432 (or PULSE_BENCH_SERVER) and pandas (`.[bench]`).
"""

import argparse
import csv
import random
import re
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import psycopg
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import make_engine, make_sessionmaker
from app.schemas.responses import ResponseCreate
from app.services.responses import ingest
from app.services.results.publisher import pending, publish_pending
from app.vocab import DIMENSIONS
from bench.common import dsn, live_server, make_structure, scratch_database

PROFESSIONS = ("nursing", "social_work", "therapy", "medical", "care_support", "admin", "other")
KINDS = ("nhs_trust", "local_authority", "primary_care")


def monthly_pulses(count: int) -> list[tuple[str, date, date]]:
    """``count`` whole months before this one, oldest first."""
    end = datetime.now(UTC).date().replace(day=1) - timedelta(days=1)
    months = []
    for _ in range(count):
        start = end.replace(day=1)
        months.append((f"{start:%Y-%m}", start, end))
        end = start - timedelta(days=1)
    return months[::-1]


def six_pulses() -> list[tuple[str, date, date]]:
    """Five closed monthly pulses, and one open today that closes in two weeks."""
    today = datetime.now(UTC).date()
    return [*monthly_pulses(5), ("current", today - timedelta(days=14), today + timedelta(days=14))]


def wait_until_published(url: str, timeout: float = 3600) -> None:
    """Return once every closed pulse's results are kept (read from the database)."""
    engine = make_engine(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with Session(engine) as session:
                if not pending(session, datetime.now(UTC)):
                    return
            time.sleep(0.02)
        raise RuntimeError("the results were not published in time")
    finally:
        engine.dispose()


def wait_until_warm(log: Path, pulses: int, timeout: float = 300) -> float:
    """Seconds until the service's log says it keeps the assessments of ``pulses`` pulses.

    What a service that has been up a while has: its publisher makes them when it has
    nothing due (``results.publisher.warm_recent``), about a second a pulse here.
    """
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        made = re.findall(r"kept in memory the assessments of (\d+) pulses", log.read_text())
        if sum(map(int, made)) >= pulses:
            return time.monotonic() - start
        time.sleep(0.05)
    raise RuntimeError("the service did not keep the assessments in time")


def load(url: str, teams: int, pulses: list[tuple[str, date, date]], csv_path: Path) -> int:
    """Responses for every team and pulse, stored through the service and written as CSV."""
    rng = random.Random(teams)
    engine = make_engine(url)
    rows = 0
    with csv_path.open("w", newline="") as handle, Session(engine) as session:
        writer = csv.writer(handle)
        writer.writerow(["pulse", "team", *DIMENSIONS])
        for key, _opens, _closes in pulses:
            items = []
            for t in range(teams):
                level = 3.8 + (t % 7) * 0.05
                for _ in range(rng.randint(8, 17)):
                    scores = {d: min(5, max(1, round(rng.gauss(level, 0.8)))) for d in DIMENSIONS}
                    item = {
                        "pulse": key,
                        "team": f"team-{t:05d}",
                        "scores": scores,
                        "role": "frontline" if rng.random() < 0.8 else "manager",
                        "profession": rng.choice(PROFESSIONS),
                        "organisation": f"org-{rng.choice(KINDS)}",
                    }
                    items.append((len(items), ResponseCreate.model_validate(item)))
                    writer.writerow([key, item["team"], *scores.values()])
            for start in range(0, len(items), 5000):
                chunk = items[start : start + 5000]
                ingest(session, 1, chunk, datetime.now(UTC), True, lambda p: str(p))
            rows += len(items)
        session.commit()
    engine.dispose()
    return rows


def pandas_means(csv_path: Path, pulse: str) -> float:
    start = time.perf_counter()
    frame = pd.read_csv(csv_path)
    latest = frame[frame["pulse"] == pulse]
    means = latest.groupby("team")[list(DIMENSIONS)].mean()
    assert len(means) > 0
    return time.perf_counter() - start


def pull_all(client: httpx.Client, base: str, key: str) -> tuple[float, int]:
    """Every warning sign of the latest pulse, following `next`: seconds and count."""
    start = time.perf_counter()
    count = len(pull_pulse(client, base, key, None))
    return time.perf_counter() - start, count


def pull_pulse(
    client: httpx.Client, base: str, key: str, pulse: str | None
) -> list[dict[str, object]]:
    """Every warning sign of one pulse (None: the latest), following `next`."""
    flags: list[dict[str, object]] = []
    chosen = "" if pulse is None else f"pulse={pulse}&"
    url: str | None = f"{base}/v1/warning-signs?{chosen}limit=1000"
    while url:
        response = client.get(url, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        body = response.json()
        flags += body["data"]
        url = body["next"]
    return flags


def rule_change(
    client: httpx.Client, base: str, key: str, pulses: list[tuple[str, date, date]], url: str
) -> tuple[float, float]:
    """Seconds from a rulebook change until the new flags of all six pulses are readable,
    and until every flag of the six has been pulled.

    Readable: no pulse is due any more (read from the database: each one's flags are kept
    at the new rulebook), and then a read of each pulse's warning signs answers. Pulled:
    every pulse's flags then pulled in full (what a BI refresh does), the changed ones at
    the new version (a flag the change leaves as it was keeps the version it was raised at;
    feeds re-stamp only what changed).
    """
    headers = {"Authorization": f"Bearer {key}"}
    book = client.get(f"{base}/v1/rules", headers=headers).json()
    rules = book["rules"]
    # More teams flagged, each change: 3.5 at the first, then 0.1 more.
    low = rules["low_score"]
    low["amber_below"] = 3.5 if low["amber_below"] < 3.5 else round(low["amber_below"] + 0.1, 2)
    start = time.perf_counter()
    changed = client.put(
        f"{base}/v1/rules", headers=headers, json={"version": book["version"], "rules": rules}
    )
    assert changed.status_code == 200, changed.text
    version = changed.json()["version"]
    wait_until_published(url)
    for pulse, _opens, _closes in pulses:
        read = client.get(f"{base}/v1/warning-signs?pulse={pulse}&limit=100", headers=headers)
        assert read.status_code == 200, read.text
    readable = time.perf_counter() - start
    for pulse, _opens, _closes in pulses:
        flags = pull_pulse(client, base, key, pulse)
        assert any(f["rules_version"] == version for f in flags), pulse
    return readable, time.perf_counter() - start


def structure_change(
    client: httpx.Client, base: str, key: str, pulses: list[tuple[str, date, date]]
) -> tuple[float, float]:
    """A team moved to another place; then the slowest read of a closed pulse's scores of
    the places it left and joined, and of all its warning signs (seconds), before and after."""
    headers = {"Authorization": f"Bearer {key}"}
    team = client.get(f"{base}/v1/teams/team-00000", headers=headers).json()
    old, new = team["place"], "place-001" if team["place"] != "place-001" else "place-000"

    def reads() -> float:
        slowest = 0.0
        for pulse, _opens, _closes in pulses:
            for place in (old, new):
                start = time.perf_counter()
                got = client.get(f"{base}/v1/places/{place}/scores?pulse={pulse}", headers=headers)
                assert got.status_code == 200, got.text
                slowest = max(slowest, time.perf_counter() - start)
            start = time.perf_counter()
            pull_pulse(client, base, key, pulse)
            slowest = max(slowest, time.perf_counter() - start)
        return slowest

    before = reads()
    moved = client.patch(f"{base}/v1/teams/team-00000", headers=headers, json={"place": new})
    assert moved.status_code == 200, moved.text
    return before, reads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, nargs="+", default=[500, 2000, 8000])
    args = parser.parse_args()
    pulses = six_pulses()
    latest = pulses[-1][0]
    print(
        "teams  responses  pandas_s  publish_s  first_s  repeat_s  first/pandas  "
        "pandas/repeat  flags  warm_s  rules_s  (pulled)  again_s  (pulled)  before_s  moved_s"
    )
    for teams in args.teams:
        with (
            scratch_database(f"pulse_bench_insights_{teams}") as url,
            tempfile.TemporaryDirectory() as tmp,
        ):
            key = make_structure(url, teams, max(1, teams // 20), pulses)
            csv_path = Path(tmp) / "responses.csv"
            rows = load(url, teams, pulses, csv_path)
            pandas_s = min(pandas_means(csv_path, latest) for _ in range(3))
            engine = make_engine(url)
            publish_pending(make_sessionmaker(engine), lambda: datetime.now(UTC))  # last months
            engine.dispose()
            # Months of responses and cells written at once: statistics as autovacuum would
            # have gathered them by now, so queries are planned as on a live database.
            with psycopg.connect(dsn(url), autocommit=True) as conn:
                conn.execute("ANALYZE")
            log = Path(tmp) / "serve.log"
            with live_server(url, log=log) as base, httpx.Client(timeout=3600) as client:
                headers = {"Authorization": f"Bearer {key}"}
                warm_s = wait_until_warm(log, len(pulses) - 1)
                closing = client.post(f"{base}/v1/pulses/{latest}/close", headers=headers)
                assert closing.status_code == 200, closing.text
                closed = time.perf_counter()
                wait_until_published(url)
                publish_s = time.perf_counter() - closed
                first, flags = pull_all(client, base, key)
                repeat = min(pull_all(client, base, key)[0] for _ in range(5))
                rules_s, pulled_s = rule_change(client, base, key, pulses, url)
                # The same again, once the first change has made any assessment the publisher
                # had not made yet (that of the pulse just published, if it came first).
                again_s, again_pulled_s = rule_change(client, base, key, pulses, url)
                before_s, after_s = structure_change(client, base, key, pulses)
            print(
                f"{teams:5d}  {rows:9d}  {pandas_s:8.3f}  {publish_s:9.2f}  {first:7.3f}  "
                f"{repeat:8.3f}  {first / pandas_s:11.2f}x  {pandas_s / repeat:12.1f}x  "
                f"{flags:5d}  {warm_s:6.2f}  {rules_s:7.2f}  {pulled_s:8.2f}  {again_s:7.2f}  "
                f"{again_pulled_s:8.2f}  {before_s:9.3f}  {after_s:8.3f}"
            )
    print(
        "targets: first/pandas <= 1.0x; pandas/repeat >= 3.0x; publish <= 5 s at 2,000 teams,"
        " <= 20 s at 8,000; rules_s and again_s <= 2 s at 2,000; moved_s no slower than before_s"
    )


if __name__ == "__main__":
    main()
