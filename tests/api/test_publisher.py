"""The publisher: results of closed pulses computed ahead of the first read."""

import copy
import gc
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import DetachedInstanceError

from app.analysis.cells import cell_id
from app.analysis.signs import Rulebook, grade
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from app.migrate import upgrade
from app.models import (
    Publication,
    PublicationEdition,
    Pulse,
    ScoreCell,
    System,
    WarningSign,
)
from app.services.results import assessments, ledger, publisher
from app.services.results import publish as publish_module
from app.services.results.publish import (
    EARLIER,
    assessment_key,
    closed_pulses,
    compute,
    keep,
    kept_assessment,
    publication_records,
    publish,
    rulebook,
)
from app.services.results.publisher import RECENT, Published, Publisher, pending, publish_pending
from app.services.structure import get_pulse
from app.settings import Settings
from tests.api.conftest import Tenant
from tests.api.world import MONTHS, post
from tests.builders import make_key, make_system
from tests.conftest import Clock

Publish = Callable[[], list[Published]]


@pytest.fixture
def published(
    world: dict[str, Any], session_factory: sessionmaker[Session], clock: Clock
) -> Publish:
    """The shared world with every closed pulse published; call it to publish again."""

    def again() -> list[Published]:
        return publish_pending(session_factory, clock)

    again()
    return again


def computed(db: Session) -> dict[str, datetime]:
    rows = db.execute(
        select(Pulse.key, Publication.computed_at).join(Pulse, Pulse.id == Publication.pulse_id)
    )
    return {key: at for key, at in rows}


def test_every_closed_pulse_is_pending_until_published_latest_first(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
    world: dict[str, Any],
    clock: Clock,
) -> None:
    post(
        client,
        tenant.admin,
        "/v1/pulses",
        {"key": "2026-11", "title": "open", "opens_on": "2026-11-01", "closes_on": "2026-11-30"},
    )
    assert [p.pulse for p in pending(db, clock.now)] == MONTHS[::-1]  # the open one never

    done = publish_pending(session_factory, clock)

    assert [d.pulse for d in done] == MONTHS[::-1]
    assert pending(db, clock.now) == []
    assert set(computed(db)) == set(MONTHS)
    assert db.scalar(select(WarningSign.id).limit(1)) is not None
    assert publish_pending(session_factory, clock) == []


def test_a_read_after_publishing_reads_and_does_not_recompute(
    client: TestClient, db: Session, tenant: Tenant, published: Publish, clock: Clock
) -> None:
    before = computed(db)
    clock.now += timedelta(hours=1)

    flags = client.get("/v1/warning-signs", headers=tenant.admin)
    scores = client.get("/v1/teams/t-fall/scores", headers=tenant.admin)

    assert flags.status_code == 200 and scores.status_code == 200
    assert any(f["team"] == "t-fall" and f["rule"] == "falling" for f in flags.json()["data"])
    db.expire_all()
    assert computed(db) == before


def test_changes_that_reach_closed_pulses_make_them_pending_again(
    client: TestClient, db: Session, tenant: Tenant, published: Publish, clock: Clock
) -> None:
    rules = client.get("/v1/rules", headers=tenant.admin).json()
    rules["rules"]["falling"]["amber_fall"] = 0.6

    assert client.put("/v1/rules", json=rules, headers=tenant.admin).status_code == 200

    assert [p.pulse for p in pending(db, clock.now)] == MONTHS[::-1]
    published()
    assert pending(db, clock.now) == []
    # A new pulse changes nothing published; an early close makes that pulse, and only
    # it, pending from the moment it closes.
    post(
        client,
        tenant.admin,
        "/v1/pulses",
        {"key": "2026-11", "title": "now", "opens_on": "2026-11-01", "closes_on": "2026-11-30"},
    )
    assert pending(db, clock.now) == []
    post(client, tenant.admin, "/v1/pulses/2026-11/close", {})
    assert [p.pulse for p in pending(db, clock.now)] == ["2026-11"]


def _open_pulse_with_responses(
    client: TestClient, admin: dict[str, str], teams: tuple[str, ...]
) -> dict[str, int]:
    """A place, a trust, ``teams`` and an open pulse ``p1`` with six responses a team."""
    post(client, admin, "/v1/places", {"code": "north", "name": "North"})
    post(client, admin, "/v1/organisations", {"code": "trust", "name": "T", "kind": "nhs_trust"})
    for team in teams:
        body = {"code": team, "name": team, "place": "north", "host_organisation": "trust"}
        post(client, admin, "/v1/teams", body)
    today = datetime.now(UTC).date()
    opens, closes = today - timedelta(days=3), today + timedelta(days=20)
    body = {"key": "p1", "title": "p1", "opens_on": str(opens), "closes_on": str(closes)}
    post(client, admin, "/v1/pulses", body)
    scores = {d: 4 for d in ("purpose", "belief", "support")}
    items = [{"pulse": "p1", "team": t, "scores": scores} for t in teams for _ in range(6)]
    post(client, admin, "/v1/responses/batch", {"responses": items})
    return scores


def test_the_service_publishes_a_pulse_when_it_closes_without_being_asked(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'publisher.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        system = make_system(session, "north-ics")
        admin = {"Authorization": f"Bearer {make_key(session, system)}"}
    settings = Settings(database_url=url, publish_interval=3600)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        _open_pulse_with_responses(client, admin, ("t1", "t2"))
        threading.Event().wait(3 * Publisher.SETTLE)  # whatever the set-up nudged is done

        post(client, admin, "/v1/pulses/p1/close", {})  # only this nudge can publish p1

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with factory() as session:
                if not pending(session, datetime.now(UTC)) and computed(session):
                    break
            time.sleep(0.1)
        with factory() as session:
            assert set(computed(session)) == {"p1"}
            assert pending(session, datetime.now(UTC)) == []
    engine.dispose()


def test_an_open_pulse_and_a_scheduled_one_are_never_pending(
    client: TestClient, db: Session, tenant: Tenant, clock: Clock
) -> None:
    today: date = clock.now.date()
    for key, opens, closes in (
        ("open", today - timedelta(days=2), today + timedelta(days=2)),
        ("later", today + timedelta(days=5), today + timedelta(days=9)),
    ):
        body = {"key": key, "title": key, "opens_on": str(opens), "closes_on": str(closes)}
        post(client, tenant.admin, "/v1/pulses", body)

    assert pending(db, clock.now) == []
    clock.now += timedelta(days=3)
    assert [p.pulse for p in pending(db, clock.now)] == ["open"]


def test_a_response_stored_as_its_pulse_closes_by_date_makes_its_results_due_again(
    client: TestClient, db: Session, tenant: Tenant, world: dict[str, Any], clock: Clock
) -> None:
    body = {"key": "2026-11", "title": "now", "opens_on": "2026-11-01", "closes_on": "2026-11-30"}
    post(client, tenant.admin, "/v1/pulses", body)
    answer = {"pulse": "2026-11", "team": "t-ok1", "scores": {"support": 4}}

    def revision_of(key: str) -> int:
        db.expire_all()
        return db.scalars(select(Pulse.revision).where(Pulse.key == key)).one()

    before = revision_of(MONTHS[-1])
    clock.now = datetime(2026, 11, 30, 23, 50, tzinfo=UTC)  # ten minutes before it closes
    post(client, tenant.admin, "/v1/responses", answer)
    assert revision_of("2026-11") == 0

    # It may commit after midnight, after the pulse's results were computed without it.
    clock.now = datetime(2026, 11, 30, 23, 59, 45, tzinfo=UTC)
    post(client, tenant.admin, "/v1/responses", answer)
    assert revision_of("2026-11") == 1
    assert revision_of(MONTHS[-1]) == before  # only the pulse written to


def test_the_publisher_outlives_a_database_it_cannot_reach(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'publisher.db'}")
    publisher = Publisher(make_sessionmaker(engine), 3600, lambda: datetime.now(UTC))
    publisher.start()
    try:
        for _ in range(3):
            publisher.nudge()
            threading.Event().wait(Publisher.SETTLE + 0.2)
        assert publisher.alive()
    finally:
        publisher.stop()
        engine.dispose()
    assert not publisher.alive()


def test_a_late_upload_makes_that_pulse_and_those_that_look_back_at_it_due_again(
    client: TestClient, db: Session, tenant: Tenant, published: Publish, clock: Clock
) -> None:
    late = {"pulse": MONTHS[1], "team": "t-ok1", "scores": {"support": 1}}

    post(client, tenant.admin, "/v1/responses", late)

    # Every later pulse reads the four before it; the pulse before is untouched.
    assert [p.pulse for p in pending(db, clock.now)] == MONTHS[1:][::-1]
    published()
    stored = client.get("/v1/responses", params={"limit": 1}, headers=tenant.admin).json()
    erased = stored["data"][0]
    assert client.delete(f"/v1/responses/{erased['id']}", headers=tenant.admin).status_code == 204
    later = MONTHS[MONTHS.index(erased["pulse"]) :]
    assert [p.pulse for p in pending(db, clock.now)] == later[::-1]


def test_new_dates_that_close_a_pulse_make_its_results_due(
    client: TestClient, db: Session, tenant: Tenant, published: Publish, clock: Clock
) -> None:
    body = {"key": "2026-11", "title": "now", "opens_on": "2026-11-01", "closes_on": "2026-11-30"}
    post(client, tenant.admin, "/v1/pulses", body)

    changed = client.patch(
        "/v1/pulses/2026-11", json={"closes_on": "2026-11-20"}, headers=tenant.admin
    )

    assert changed.status_code == 200 and changed.json()["status"] == "closed"
    assert [p.pulse for p in pending(db, clock.now)] == ["2026-11"]


def test_the_publisher_looks_at_only_the_recent_closed_pulses(
    client: TestClient, db: Session, tenant: Tenant, clock: Clock
) -> None:
    for month in range(1, 10):
        first = date(2026, month, 1)
        last = date(2026, month + 1, 1) - timedelta(days=1)
        body = {
            "key": f"{first:%Y-%m}",
            "title": "m",
            "opens_on": str(first),
            "closes_on": str(last),
        }
        post(client, tenant.admin, "/v1/pulses", body)

    due = [p.pulse for p in pending(db, clock.now)]

    assert due == [f"2026-{m:02d}" for m in range(9, 9 - RECENT, -1)]


def test_results_computed_from_inputs_that_changed_meanwhile_are_not_kept(
    client: TestClient, db: Session, tenant: Tenant, published: Publish, clock: Clock
) -> None:
    late = {"pulse": MONTHS[-1], "team": "t-ok1", "scores": {"support": 1}}
    post(client, tenant.admin, "/v1/responses", late)
    system, pulse = tenant.system, get_pulse(db, tenant.system.id, MONTHS[-1])
    before = computed(db)[MONTHS[-1]]

    early = compute(db, system, pulse, clock.now)
    post(client, tenant.admin, "/v1/responses", late)  # lands while it computes
    assert early is not None and not keep(db, system, pulse, early, clock.now)
    db.expire_all()
    assert computed(db)[MONTHS[-1]] == before

    fresh = compute(db, system, pulse, clock.now)
    assert fresh is not None and keep(db, system, pulse, fresh, clock.now)
    db.expire_all()
    assert computed(db)[MONTHS[-1]] > before
    assert compute(db, system, pulse, clock.now) is None


def test_a_close_and_a_new_rulebook_do_not_wait_for_the_rest_of_a_burst(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A burst's wait an hour long: only a nudge at once can publish within the test.
    monkeypatch.setattr(Publisher, "SETTLE", 3600.0)
    url = f"sqlite:///{tmp_path / 'at-once.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        system = make_system(session, "north-ics")
        admin = {"Authorization": f"Bearer {make_key(session, system)}"}

    def published(version: int) -> bool:
        with factory() as session:
            kept = session.scalars(select(Publication.rules_version)).all()
            return not pending(session, datetime.now(UTC)) and kept == [version]

    def soon(version: int) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not published(version):
            time.sleep(0.05)
        return published(version)

    settings = Settings(database_url=url, publish_interval=3600)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        scores = _open_pulse_with_responses(client, admin, ("t1", "t2"))

        post(client, admin, "/v1/pulses/p1/close", {})
        assert soon(1)

        # A late upload into the closed pulse nudges it to wait for the rest of a burst (an
        # hour here); a new rulebook then ends that wait.
        late = [{"pulse": "p1", "team": "t1", "scores": scores}]
        post(client, admin, "/v1/responses/batch", {"responses": late})
        time.sleep(0.2)  # the publisher is waiting by now
        rules = client.get("/v1/rules", headers=admin).json()
        rules["rules"]["low_score"]["amber_below"] = 4.5
        changed = client.put("/v1/rules", json=rules, headers=admin)
        assert changed.status_code == 200, changed.text
        assert soon(changed.json()["version"])
    engine.dispose()


def _kept_and_fresh(
    db: Session, tenant: Tenant, keys: list[str], clock: Clock
) -> list[tuple[Any, Any]]:
    """For each pulse, its assessment kept in memory (None if none) and one made afresh."""
    system = tenant.system
    closed = closed_pulses(db, system.id, clock.now)
    book, months = rulebook(db, system.id)[0], system.adoption_months
    made = []
    for key in keys:
        pulse = get_pulse(db, system.id, key)
        earlier = [p for p in closed if p.opens_on < pulse.opens_on][-EARLIER:]
        records = publication_records(db, system.id, [*earlier, pulse])
        made.append((pulse, earlier, records))
    kept = [
        assessments.KEPT.get(assessment_key(system, pulse, earlier, records, months, book))
        for pulse, earlier, records in made
    ]
    assessments.KEPT.clear()
    fresh = [
        kept_assessment(db, system, pulse, earlier, records, months, book)
        for pulse, earlier, records in made
    ]
    return list(zip(kept, fresh, strict=True))


def _facts(assessed: Any) -> list[Any]:
    """An assessment as data: its comparisons hold functions, equal only to themselves.

    Each comparison with its evidence, and the flags two rulebooks grade it to.
    """
    facts: list[Any] = [assessed.snapshot]
    for place in assessed.places:
        for prepared, extra in [
            *(
                (t.prepared, (t.team, t.responses, t.reportable, t.was_reportable))
                for t in place.teams
            ),
            (place.prepared, ()),
        ]:
            tests = [(c.rule, c.dimension, c.test, c.size, c.evidence()) for c in prepared.tests]
            facts.append((place.place, extra, prepared.subject, prepared.wholes, prepared.made))
            facts.append(tests)
    loose = Rulebook.from_dict({"rules": {"falling": {"amber_fall": 0.1, "red_fall": 0.2}}})
    facts += [grade(assessed, Rulebook()), grade(assessed, loose)]
    return facts


def test_a_publication_keeps_in_memory_the_assessment_of_the_cells_it_kept(
    db: Session, tenant: Tenant, published: Publish, clock: Clock
) -> None:
    # Every pulse was published by the fixture: each one's assessment is kept, and it is
    # the one made from its kept cells as read back from the ledger.
    for key, (kept, fresh) in zip(MONTHS, _kept_and_fresh(db, tenant, MONTHS, clock), strict=True):
        assert kept is not None, key
        assert _facts(kept) == _facts(fresh), key
        assert any(place.teams for place in fresh.places)


def test_a_revision_rolled_back_keeps_no_assessment(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
    published: Publish,
    clock: Clock,
) -> None:
    late = {"pulse": MONTHS[-1], "team": "t-ok1", "scores": {"support": 1}}
    post(client, tenant.admin, "/v1/responses", late)  # a revision of the latest is due
    assessments.KEPT.clear()
    system = tenant.system
    with session_factory() as session:
        pulse = get_pulse(session, system.id, MONTHS[-1])
        publish(session, session.get(System, system.id), pulse, clock.now)
        assert len(assessments.KEPT) == 0  # not before it commits
        session.rollback()
        session.commit()  # the same session committing later keeps nothing either
    assert len(assessments.KEPT) == 0

    published()  # now kept: the revision's assessment with it
    [(kept, fresh)] = _kept_and_fresh(db, tenant, MONTHS[-1:], clock)
    assert kept is not None and _facts(kept) == _facts(fresh)


def test_assessments_hold_no_reference_cycles(published: Publish) -> None:
    # The publisher keeps the collector off them (``gc.freeze``): one let go must be freed
    # by reference counting alone, or it would wait for the next thaw to be freed.
    assert len(assessments.KEPT) > 0
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assessments.KEPT.clear()
        found = gc.collect()  # what letting them go left for the collector
        left = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert found == 0, left[:20]


def test_the_publisher_freezes_what_it_keeps_and_collects_it_once_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(publisher, "_freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(publisher, "_thaw_and_collect", lambda: calls.append("thaw"))
    url = f"sqlite:///{tmp_path / 'collect.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        system = make_system(session, "north-ics")
        admin = {"Authorization": f"Bearer {make_key(session, system)}"}
    settings = Settings(database_url=url, publish_interval=0.3)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        _open_pulse_with_responses(client, admin, ("t1",))
        assert calls == []  # nothing kept yet: nothing frozen, nothing to collect

        post(client, admin, "/v1/pulses/p1/close", {})
        deadline = time.monotonic() + 60
        while "thaw" not in calls and time.monotonic() < deadline:
            time.sleep(0.05)
    engine.dispose()
    # Frozen as soon as it kept the pulse's results, collected once an interval passed idle,
    # and only once for that (nothing kept since).
    assert calls[:2] == ["freeze", "thaw"], calls
    assert calls.count("thaw") <= calls.count("freeze")


def test_a_publication_computes_and_writes_with_the_cyclic_collector_off(
    world: dict[str, Any],
    session_factory: sessionmaker[Session],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its passes walked every object a publication makes and freed next to nothing.
    seen: list[tuple[str, bool]] = []
    names = {"_planned", "_keep_editions", "_write"}  # what computes, keeps editions, writes
    for name in names:
        real = getattr(publish_module, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            seen.append((_name, gc.isenabled()))
            return _real(*args, **kwargs)

        monkeypatch.setattr(publish_module, name, spy)
    assert gc.isenabled()

    assert publish_pending(session_factory, clock)

    assert {name for name, _ in seen} == names
    assert not any(enabled for _, enabled in seen)
    assert gc.isenabled()


def test_on_postgresql_the_assessment_is_made_while_the_editions_are_kept(
    db: Session,
    world: dict[str, Any],
    session_factory: sessionmaker[Session],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The editions' writes wait on the database; the comparisons need only the cells. (The
    # first publication keeps the editions of every pulse it reads; the later ones, with no
    # edition due, make their assessments from the kept cells, in their own thread.)
    made_in: list[str] = []
    real = publish_module.assessment

    def spy(*args: Any, **kwargs: Any) -> Any:
        made_in.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(publish_module, "assessment", spy)
    assert publish_pending(session_factory, clock)
    assert len(made_in) == len(MONTHS)
    postgres = db.get_bind().dialect.name == "postgresql"
    here = threading.current_thread().name
    assert made_in[0].startswith("pulse-assessment") if postgres else made_in[0] == here
    assert made_in[1:] == [here] * (len(MONTHS) - 1)
    flags = db.scalars(select(WarningSign)).all()
    assert flags  # graded from those assessments, and kept


def test_the_assessment_made_in_another_thread_touches_no_object_of_the_session(
    tenant: Tenant, published: Publish, session_factory: sessionmaker[Session], clock: Clock
) -> None:
    # The thread makes the assessment while this one writes (and may expire the session's
    # objects): what it is made from is read first, so the call works on a session closed.
    with session_factory() as session:
        system = session.get(System, tenant.system.id)
        assert system is not None
        closed = closed_pulses(session, system.id, clock.now)
        pulse = closed[-1]
        earlier = [p for p in closed if p.opens_on < pulse.opens_on][-EARLIER:]
        records = publication_records(session, system.id, [*earlier, pulse])
        record = records[pulse.id]
        assert record is not None and record.structure is not None and record.k is not None
        cells: dict[Any, Any] = {}
        for each in [*earlier, pulse]:
            cells.update(publish_module._kept_cells(session, each, each is not pulse))
        structure = ledger.Structure.from_json(record.structure)
        months, book = system.adoption_months, rulebook(session, system.id)[0]
        args = (system, pulse, earlier)
        rest = (structure, record.k, months, book)
        expected = publish_module._assessment(session, *args, copy.deepcopy(cells), *rest)
        made = publish_module._assessing(session, *args, copy.deepcopy(cells), *rest)
        session.expire_all()
    with pytest.raises(DetachedInstanceError):
        pulse.key  # noqa: B018 (what the call would have done, had it read it)
    assert _facts(made()) == _facts(expected)


def test_a_write_that_fails_is_not_held_until_the_assessment_is_made(
    world: dict[str, Any],
    tenant: Tenant,
    session_factory: sessionmaker[Session],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On PostgreSQL the assessment is made in a thread while the editions are kept: when
    # keeping them fails, the failure reaches the caller (who rolls back, letting its
    # locks go) without waiting for that thread, which is still at work here.
    release, finished = threading.Event(), threading.Event()
    real = publish_module._assessing

    def slow(*args: Any, **kwargs: Any) -> Callable[[], Any]:
        made = real(*args, **kwargs)

        def waiting() -> Any:
            release.wait(60)
            try:
                return made()
            finally:
                finished.set()

        return waiting

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(publish_module, "_assessing", slow)
    monkeypatch.setattr(publish_module, "_keep_editions", failing)
    with session_factory() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("the assessment is made beside the write on PostgreSQL only")
        system = session.get(System, tenant.system.id)
        assert system is not None
        pulse = get_pulse(session, system.id, MONTHS[-1])
        try:
            with pytest.raises(RuntimeError, match="went away"):
                publish(session, system, pulse, clock.now)
            assert not finished.is_set()  # the caller was not held until it was made
            session.rollback()
        finally:
            release.set()
            assert finished.wait(60)
    with session_factory() as session:
        assert session.scalars(select(Publication)).all() == []  # nothing kept


def test_the_cells_a_publication_keeps_are_those_its_plan_decided(
    db: Session, tenant: Tenant, published: Publish
) -> None:
    # On PostgreSQL a first publication writes its cells as its places are decided, by a
    # COPY held open meanwhile; the rows must be those of the same plan made and kept apart.
    _stored_as_planned(db, tenant.system)


def _stored_as_planned(db: Session, system: System) -> None:
    """Each published pulse's rows are those of its first publication made again."""
    served = (*ledger.KEPT, "small", "revision_withheld")
    for key in MONTHS:
        pulse = get_pulse(db, system.id, key)
        record = db.scalar(select(Publication).where(Publication.pulse_id == pulse.id))
        assert record is not None and record.editions == 1
        plan = ledger.plan(db, system, pulse, None)  # its first publication, made again
        assert plan is not None and not plan.written
        rows = db.scalars(select(ScoreCell).where(ScoreCell.pulse_id == pulse.id)).all()
        stored = {
            (r.scope, r.place, r.team, r.dimension, r.segment_type, r.segment): r for r in rows
        }
        assert set(stored) == set(plan.cells), key
        assert any(not r.suppressed for r in rows) and any(r.suppressed for r in rows)
        for identity, numbers in plan.cells.items():
            row = stored[identity]
            assert {f: getattr(row, f) for f in served} == {f: numbers[f] for f in served}
            assert row.published_at == (None if row.suppressed else record.published_at)
            assert row.updated_at == record.published_at and row.withdrawn_at is None
            scope, place, team, dimension, segment_type, segment = identity
            subject = team if team is not None else place
            ids = (system.slug, key, scope, subject, dimension, segment_type, segment)
            assert row.public_id == cell_id(*ids)
        edition = db.scalar(
            select(PublicationEdition).where(PublicationEdition.pulse_id == pulse.id)
        )
        assert edition is not None
        assert (edition.cells, edition.counts) == (plan.published, plan.counts)
