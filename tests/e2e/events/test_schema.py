"""The data migration from the legacy tables, partitions ahead of time, and the RLS matrix."""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.conftest import As
from tests.e2e.events.deployed import (
    DENIED,
    Stack,
    Studio,
    book_as,
    new_event,
    registrations_of,
)


def test_the_data_migration_converts_the_legacy_tables_once_and_reverts(
    stack: Stack, studio: Studio
) -> None:
    instance = str(uuid.uuid4())
    with stack.services.connect() as conn:
        conn.execute(
            "insert into events.class_instances (id, org_id, title, starts_at, ends_at, capacity) "
            "values (%s, %s, 'legacy', now() + interval '10 days', "
            "now() + interval '10 days 1 hour', 2)", [instance, studio.org],
        )  # fmt: skip
        for status in ("confirmed", "confirmed", "cancelled"):
            conn.execute(
                "insert into events.class_registrations (id, instance_id, customer_id, status) "
                "values (gen_random_uuid(), %s, gen_random_uuid(), %s)", [instance, status],
            )  # fmt: skip
        conn.execute(
            "insert into events.waitlists (id, instance_id, customer_id, position) "
            "values (gen_random_uuid(), %s, gen_random_uuid(), 1)", [instance],
        )  # fmt: skip
        migrate = "select events.migrate_class_instances_to_events()"
        first: Any = conn.execute(migrate).fetchone()
        second: Any = conn.execute(migrate).fetchone()
    assert first is not None and first == second  # idempotent
    counts = first[0]
    assert counts["class_events"] == counts["class_instances"]
    assert counts["registrations"] == counts["class_registrations"] + counts["waitlists"]
    assert registrations_of(stack, instance) == (2, 1, 2)

    reverted = stack.scalar("select events.revert_class_instance_migration()")
    assert reverted["class_events"] >= 1
    assert stack.scalar("select count(*) from events.class_events where id = %s", instance) == 0
    assert stack.scalar("select count(*) from events.class_instances where id = %s", instance) == 1


def test_partitions_exist_120_days_ahead_and_generation_stops_at_them(stack: Stack) -> None:
    assert stack.scalar("select events.partitions_until() >= current_date + 120")
    series = str(stack.scalar(
        "insert into events.class_series (org_id, title, weekdays, start_time, duration, "
        "starts_on, capacity) select id, 'daily', '{1,2,3,4,5,6,7}', '09:00', '1 hour', "
        "current_date, 5 from events.organizations limit 1 returning id"
    ))  # fmt: skip
    with stack.services.connect() as conn:
        generated: Any = conn.execute(
            "select * from events.generate_events_for_all(current_date + 1000)"
        ).fetchone()
    made, until = generated
    assert made >= 120 and until == stack.scalar("select events.partitions_until() - 1")
    assert (
        stack.scalar(
            "select count(*) from events.class_events_default where series_id = %s", series
        )
        == 0
    )  # nothing in the default partition
    again = stack.scalar(
        "select events_created from events.generate_events_for_all(current_date + 1000)"
    )
    assert again == 0  # idempotent


def test_rls_matrix(stack: Stack, studio: Studio) -> None:
    customer, other = str(uuid.uuid4()), str(uuid.uuid4())
    registration = book_as(stack, customer, studio.free_event).json()["registrationId"]
    draft = new_event(stack, studio.org, capacity=5)
    stack.scalar("update events.class_events set status = 'draft' where id = %s returning 1", draft)
    anon, service = As(stack.services, "anon"), As(stack.services, "service_role")
    mine = As(stack.services, "authenticated", customer)
    theirs = As(stack.services, "authenticated", other)
    staff = As(stack.services, "authenticated", studio.staff)
    foreign = As(stack.services, "authenticated", studio.other_staff)
    registrations = "select id::text from events.registrations where event_id = %s"
    events = "select count(*) from events.class_events where id = %s"

    assert mine.run(registrations, [studio.free_event]) == [(registration,)]
    assert theirs.run(registrations, [studio.free_event]) == []
    assert (registration,) in staff.run(registrations, [studio.free_event])
    assert foreign.run(registrations, [studio.free_event]) == []
    assert anon.run(registrations, [studio.free_event]) == DENIED
    assert anon.run(events, [draft]) == [(0,)] and anon.run(events, [studio.free_event]) == [(1,)]
    assert theirs.run(events, [draft]) == [(0,)] and staff.run(events, [draft]) == [(1,)]
    assert foreign.run(events, [draft]) == [(0,)]
    waitlist = "select count(*) from events.event_waitlists"
    assert theirs.run(waitlist) == [(0,)]
    service_only = ("stripe_events", "performance_metrics", "health_checks", "class_instances",
                    "class_registrations", "waitlists")  # fmt: skip
    for table in service_only:
        count = f"select count(*) from events.{table}"  # noqa: S608 (the test's own names)
        for caller in (anon, mine, staff):
            assert caller.run(count) == DENIED, table
        assert isinstance(service.run(count), list), table
    for caller in (anon, mine, staff):  # no writes but through the functions
        assert caller.run(
            "insert into events.registrations (event_id, event_starts_at, org_id, customer_id, "
            "status, idempotency_key) select id, starts_at, org_id, %s, 'confirmed', 'x' "
            "from events.class_events limit 1", [customer],
        ) == DENIED  # fmt: skip
        assert caller.run("select events.book(%s, %s, 'k', 'none')",
                          [studio.free_event, customer]) == DENIED  # fmt: skip
    partition = str(stack.scalar(
        "select inhrelid::regclass::text from pg_inherits "
        "where inhparent = 'events.class_events'::regclass limit 1"
    ))  # fmt: skip
    assert anon.run(f"select count(*) from {partition}") == DENIED  # noqa: S608 (catalog name)
