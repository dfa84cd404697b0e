"""Seed the contract run's system through the API; print the id of a spare key to revoke."""

import sys
from datetime import UTC, datetime, timedelta

import httpx

api, key = sys.argv[1], sys.argv[2]
today = datetime.now(UTC).date()
with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}) as client:

    def post(path: str, body: dict[str, object]) -> dict[str, object]:
        answer = client.post(path, json=body)
        assert answer.status_code == 201, (path, answer.status_code, answer.text)
        made: dict[str, object] = answer.json()
        return made

    post("/v1/places", {"code": "north", "name": "North"})
    post("/v1/organisations", {"code": "trust", "name": "Trust", "kind": "nhs_trust"})
    team = {"place": "north", "host_organisation": "trust", "headcount": 12}
    post("/v1/teams", {"code": "north-t1", "name": "North T1", **team})
    post("/v1/teams", {"code": "north-t2", "name": "North T2", **team})
    opened = today - timedelta(days=40)
    post(
        "/v1/pulses",
        {
            "key": "closed",
            "title": "Closed",
            "opens_on": str(opened),
            "closes_on": str(opened + timedelta(days=13)),
        },
    )
    post(
        "/v1/pulses",
        {
            "key": "open",
            "title": "Open",
            "opens_on": str(today - timedelta(days=1)),
            "closes_on": str(today + timedelta(days=13)),
        },
    )
    for i in range(12):
        scores = {
            "purpose": 1 + i % 5,
            "belief": 2,
            "support": 3,
            "new_ways_of_working": 4,
            "partner_relationships": 5,
        }
        post(
            "/v1/responses",
            {
                "pulse": "open",
                "team": f"north-t{1 + i % 2}",
                "scores": scores,
                "external_id": f"seed-{i}",
            },
        )
    spare = post("/v1/keys", {"name": "spare", "scopes": ["feeds:read"]})
    print(spare["id"])
