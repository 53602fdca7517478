"""Checks of the book's invariants on a live database, for tests and operators.

Each query returns the rows that break one promise the service makes; an empty result is a
healthy book. Run it with `make check-data` (`python -m tools.integrity`, on DATABASE_URL) or
call `find_violations` from a test. It only reads: never repairs, never writes.
"""

import sys

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

CHECKS = {
    "overlapping blocking ranges (active or held) in one calendar": """
        SELECT a.id, b.id FROM appointments a JOIN appointments b
          ON a.calendar = b.calendar AND a.id < b.id
         AND tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange(b.starts_at, b.ends_at, '[)')
         WHERE a.status IN ('active', 'held') AND b.status IN ('active', 'held')
    """,
    "an expiry not recorded at its hold's expiresAt, by expiry": """
        SELECT v.appointment_id, v.version FROM appointment_versions v
          JOIN appointment_versions h
            ON h.appointment_id = v.appointment_id AND h.version = v.version - 1
         WHERE v.status = 'expired'
           AND (h.status <> 'held' OR v.recorded_at <> h.expires_at
                OR v.expires_at <> h.expires_at OR v.recorded_by IS DISTINCT FROM 'expiry')
    """,
    "a hold's version current after its expiry": """
        SELECT appointment_id, version FROM appointment_versions
         WHERE status = 'held' AND (expires_at IS NULL OR superseded_at > expires_at)
    """,
    "history versions not exactly 1..version": """
        SELECT a.id FROM appointments a
          LEFT JOIN appointment_versions v ON v.appointment_id = a.id
         GROUP BY a.id, a.version
        HAVING count(v.version) <> a.version OR min(v.version) <> 1
            OR max(v.version) <> a.version
    """,
    "current row differs from its last version": """
        SELECT a.id FROM appointments a
          JOIN appointment_versions v ON v.appointment_id = a.id AND v.version = a.version
         WHERE (a.calendar, a.starts_at, a.ends_at, a.created_at, a.updated_at, a.status,
                a.expires_at)
               IS DISTINCT FROM
               (v.calendar, v.starts_at, v.ends_at, v.created_at, v.updated_at, v.status,
                v.expires_at)
    """,
    "history not a gapless sequence of validity periods": """
        SELECT v.appointment_id, v.version FROM appointment_versions v
          JOIN appointments a ON a.id = v.appointment_id
          LEFT JOIN appointment_versions n
            ON n.appointment_id = v.appointment_id AND n.version = v.version + 1
         WHERE (v.version = a.version) <> (v.superseded_at IS NULL)
            OR v.superseded_at IS DISTINCT FROM n.recorded_at
            OR v.superseded_at <= v.recorded_at
    """,
}


def find_violations(connection: Connection) -> dict[str, list[tuple]]:
    """Every broken invariant with the rows that break it; {} when the book is sound."""
    found = {}
    for name, query in CHECKS.items():
        rows = [tuple(row) for row in connection.execute(text(query))]
        if rows:
            found[name] = rows[:20]
    return found


def main() -> int:
    from config import settings_from_env

    engine = create_engine(settings_from_env()["SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as connection:
        violations = find_violations(connection)
    for name, rows in violations.items():
        print(f"FAIL {name}: {rows}")
    print("ok: no invariant broken" if not violations else f"{len(violations)} checks failed")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
