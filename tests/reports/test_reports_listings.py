"""listings/<type>.csv stream from the database sorted as their rendered text, on both databases."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from report_seed import SCAN_ID, Seed, insert_seed
from sqlalchemy import insert

from reports import write_reports
from reports.listings import columns, load_listings
from scanner.store.database import open_store
from scanner.store.schema import roles, users

BASE = {"scan_id": SCAN_ID, "target": "prod-us1", "site": "datadoghq.com",
        "org_public_id": "abc123"}
# Values whose database order is not their text's: 9 < 10 as numbers, "10" < "9" as text;
# NULL renders as "" (first); booleans as "false" < "true"; upper case before lower, "é"
# after "z"; two times within one second render alike (the next column decides).
ROLES = [
    {"id": "dup", "name": name, "created_at": created, "modified_at": None, "user_count": count}
    for name, created, count in [
        ("role", datetime(2026, 1, 1, 0, 0, 0, 900000), 9),
        ("role", datetime(2026, 1, 1, 0, 0, 0, 100000), 10),
        ("role", datetime(2026, 1, 1, 0, 0, 0, 500000), None),
        ("role", datetime(2026, 1, 1, 0, 0, 0, 500000), 100),
        ("Role", datetime(2026, 1, 1, 0, 0, 1), 1),
        ("é", None, 2),
        ("zeta", datetime(2025, 12, 31, 23, 59, 59), 3),
        (None, datetime(2026, 1, 1), 4),
    ]
]
USERS = [
    {"id": "u", "uuid": None, "handle": handle, "email": None, "name": None, "status": None,
     "disabled": disabled, "service_account": service, "created_at": None,
     "last_login_time": None}
    for handle, disabled, service in [
        ("same", True, True), ("same", None, False), ("same", False, True),
        ("Same", True, False), ("same", True, False),
    ]
]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_listings_are_sorted_as_rendered_text_on_both_databases(
    db_url: str, tmp_path: Path
) -> None:
    engine = open_store(db_url)
    try:
        insert_seed(engine, Seed())
        with engine.begin() as conn:
            conn.execute(insert(roles), [{**BASE, **r} for r in ROLES])
            conn.execute(insert(users), [{**BASE, **u} for u in USERS])
        out = tmp_path / "out" / SCAN_ID
        write_reports(engine, SCAN_ID, out)
        listed = {x.type: x.rows for x in load_listings(engine, SCAN_ID)}
    finally:
        engine.dispose()
    role_rows = _rows((out / "listings/roles.csv").read_text(encoding="utf-8"))
    assert role_rows[0] == columns(roles)
    assert role_rows[1:] == sorted(role_rows[1:]) and len(role_rows) == 1 + len(ROLES)
    assert [r[4] for r in role_rows[1:]] == ["", "Role", "role", "role", "role", "role",
                                             "zeta", "é"]
    assert [r[7] for r in role_rows[1:] if r[4] == "role"] == ["", "10", "100", "9"]
    user_rows = _rows((out / "listings/users.csv").read_text(encoding="utf-8"))
    assert user_rows[1:] == sorted(user_rows[1:])
    header = user_rows[0]
    assert [(r[header.index("handle")], r[header.index("disabled")]) for r in user_rows[1:]] \
        == [("Same", "true"), ("same", ""), ("same", "false"), ("same", "true"),
            ("same", "true")]
    service = _rows((out / "listings/service_accounts.csv").read_text(encoding="utf-8"))
    assert [r[header.index("disabled")] for r in service[1:]] == ["false", "true"]
    assert listed["roles"] == len(ROLES) and listed["service_accounts"] == 2
