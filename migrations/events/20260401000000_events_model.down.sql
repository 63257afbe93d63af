-- Undoes the data model (a backup is taken first on stacks that take them). The partitioned
-- table's pg_partman registration is the PartitionSet resource's, removed before this runs.
drop trigger registrations_count_seats on events.registrations;
drop function events.count_seats();
drop function events.is_org_staff(uuid);
drop table events.waitlists;
drop table events.class_registrations;
drop table events.class_instances;
drop table events.health_checks;
drop table events.performance_metrics;
drop table events.stripe_events;
drop table events.event_waitlists;
drop table events.registrations;
drop table events.class_events;
drop table events.class_series;
drop table events.instructors;
drop table events.locations;
drop table events.org_members;
drop table events.organizations;
alter default privileges in schema events grant execute on functions to public;
