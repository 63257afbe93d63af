-- Back to event_search_mv of 20260401000200_read_models.sql (no stored listing).
-- (events-search of the up migration's time reads `listing`: until the earlier function is
-- deployed, which a rollback does right after, the listing answers 500.)
-- squawk-ignore-file ban-drop-view, require-concurrent-index-creation

drop materialized view events.event_search_mv;
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
