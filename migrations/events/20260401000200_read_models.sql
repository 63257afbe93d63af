-- Read models (the guide's materialized views), refreshed concurrently on the schedules in
-- apps/events.yaml; each has the unique index a concurrent refresh needs. None is granted to
-- the API roles: they hold every organization's rows, and no row level security applies to a
-- materialized view. The events-search function reads event_search_mv with the service role
-- and serves only published events.
-- Each index is built right after its view, in this file's transaction: nothing writes to a
-- view a migration is creating, so a concurrent build would only be slower.
-- squawk-ignore-file require-concurrent-index-creation

create materialized view events.event_search_mv as
select e.id as event_id, e.starts_at, e.ends_at, e.title, e.capacity,
       e.capacity - e.reg_count - e.hold_count as seats_left, e.price_cents, e.currency,
       o.id as org_id, o.slug as org_slug, o.name as org_name,
       l.id as location_id, l.name as location_name,
       i.id as instructor_id, i.name as instructor_name
from events.class_events e
join events.organizations o on o.id = e.org_id
left join events.locations l on l.id = e.location_id
left join events.instructors i on i.id = e.instructor_id
where e.status = 'published' and e.starts_at > now() - interval '1 day';
create unique index event_search_mv_key on events.event_search_mv (event_id);
create index event_search_mv_by_start on events.event_search_mv (starts_at);

create materialized view events.customer_dashboard_mv as
select r.customer_id,
       count(*) filter (where r.status = 'confirmed' and r.event_starts_at > now()) as upcoming,
       count(*) filter (where r.status = 'waitlisted') as waitlisted,
       count(*) filter (where r.status = 'confirmed' and r.event_starts_at <= now()) as attended,
       max(r.created_at) as last_booked_at
from events.registrations r
group by r.customer_id;
create unique index customer_dashboard_mv_key on events.customer_dashboard_mv (customer_id);

create materialized view events.instructor_schedule_mv as
select e.instructor_id, e.id as event_id, e.starts_at, e.ends_at, e.title, e.reg_count,
       e.capacity, e.org_id
from events.class_events e
where e.instructor_id is not null and e.status <> 'cancelled'
  and e.starts_at > now() - interval '7 days';
create unique index instructor_schedule_mv_key on events.instructor_schedule_mv (instructor_id, event_id);

create materialized view events.org_analytics_mv as
select e.org_id, (e.starts_at at time zone 'UTC')::date as day, count(*) as events,
       sum(e.reg_count) as confirmed, sum(e.capacity) as capacity,
       round(100.0 * sum(e.reg_count) / nullif(sum(e.capacity), 0), 1) as utilisation_pct
from events.class_events e
where e.status <> 'cancelled'
group by e.org_id, (e.starts_at at time zone 'UTC')::date;
create unique index org_analytics_mv_key on events.org_analytics_mv (org_id, day);

create function events.refresh_all_materialized_views() returns void
language plpgsql set search_path = '' as $$
begin
  refresh materialized view concurrently events.event_search_mv;
  refresh materialized view concurrently events.customer_dashboard_mv;
  refresh materialized view concurrently events.instructor_schedule_mv;
  refresh materialized view concurrently events.org_analytics_mv;
end
$$;

revoke execute on function events.refresh_all_materialized_views() from public;
