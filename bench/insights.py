"""Warning signs through the API against pandas computing team means, on PostgreSQL.

    python bench/insights.py [--teams 500 2000 8000]

For each size: a system of that many teams (20 per place), six monthly closed pulses and
about 12 responses per team per pulse. Pulls every warning sign of the latest pulse
through the HTTP API (first pull: computes and keeps the results; repeated pull: reads
them), side by side with pandas reading the same responses from CSV and computing the
team means. Targets: first pull no slower than pandas, repeated pulls >= 3x faster.
Needs PostgreSQL on 127.0.0.1:5432 (or PULSE_BENCH_SERVER) and pandas (`.[bench]`).
"""

import argparse
import csv
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import make_engine
from app.schemas.responses import ResponseCreate
from app.services.responses import ingest
from bench.common import live_server, make_structure, scratch_database

DIMENSIONS = ("purpose", "belief", "support", "new_ways_of_working", "partner_relationships")
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
    """Every warning sign of the latest pulse, following `next`."""
    start = time.perf_counter()
    count = 0
    url: str | None = f"{base}/v1/warning-signs?limit=1000"
    while url:
        response = client.get(url, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        body = response.json()
        count += len(body["data"])
        url = body["next"]
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, nargs="+", default=[500, 2000, 8000])
    args = parser.parse_args()
    pulses = monthly_pulses(6)
    print("teams  responses  pandas_s  first_s  repeat_s  first/pandas  pandas/repeat  flags")
    for teams in args.teams:
        with (
            scratch_database(f"pulse_bench_insights_{teams}") as url,
            tempfile.TemporaryDirectory() as tmp,
        ):
            key = make_structure(url, teams, max(1, teams // 20), pulses)
            csv_path = Path(tmp) / "responses.csv"
            rows = load(url, teams, pulses, csv_path)
            pandas_s = min(pandas_means(csv_path, pulses[-1][0]) for _ in range(3))
            with live_server(url) as base, httpx.Client(timeout=3600) as client:
                client.get(f"{base}/healthz")  # the connection is open before timing
                first, flags = pull_all(client, base, key)
                repeat = min(pull_all(client, base, key)[0] for _ in range(5))
            print(
                f"{teams:5d}  {rows:9d}  {pandas_s:8.3f}  {first:7.2f}  {repeat:8.3f}  "
                f"{first / pandas_s:12.1f}x  {pandas_s / repeat:12.1f}x  {flags:5d}"
            )
    print("targets: first/pandas <= 1.0x; pandas/repeat >= 3.0x")


if __name__ == "__main__":
    main()
