-- What the guide's monitoring queries and business dashboard read (docs/apps/personalized.md).
-- Views run with the reader's rights (security_invoker): only the service role, which reads
-- the tables, gets them.

-- The guide's edge_function_logs, as a view of the platform's invocation records (written by
-- the functions' shared middleware) rather than a second log.
create view personalized.edge_function_logs with (security_invoker = true) as
  select i.id, i.function_name, i.status, i.duration_ms as response_time_ms, i.error_class,
         i.request_id, i.invoked_at as created_at
  from monitoring.function_invocations i
  where i.function_name in
    ('transaction-recommendations', 'user-archetype', 'archetype-recalculation-job');

-- Recommendation follow rate per hour (the guide's "API usage" query).
create view personalized.follow_rate_hourly with (security_invoker = true) as
  select date_trunc('hour', created_at) as hour, count(*) as request_count,
         avg(case when followed_recommendation then 1 else 0 end) as follow_rate
  from personalized.recommendation_logs
  group by 1;

-- Follow rate per archetype, among personalized recommendations the user acted on.
create view personalized.follow_rate_by_archetype with (security_invoker = true) as
  select archetype_type, count(*) as recommendations,
         count(*) filter (where followed_recommendation is not null) as acted_on,
         avg(followed_recommendation::integer) as follow_rate
  from personalized.recommendation_logs
  where personalized
  group by 1;

-- Per day: recommendations, date changes submitted from them, and accepted by the roommate.
create view personalized.request_conversion with (security_invoker = true) as
  select date_trunc('day', l.created_at) as day, count(*) as recommendations,
         count(r.id) as submitted,
         count(r.id) filter (where r.status = 'accepted') as accepted,
         round(count(r.id)::numeric / count(*), 3) as submitted_rate,
         round(count(r.id) filter (where r.status = 'accepted')::numeric
               / nullif(count(r.id) filter (where r.status in ('accepted', 'declined')), 0), 3)
           as accepted_rate
  from personalized.recommendation_logs l
  left join personalized.date_change_requests r on r.recommendation_id = l.id
  group by 1;

revoke all on personalized.edge_function_logs, personalized.follow_rate_hourly,
  personalized.follow_rate_by_archetype, personalized.request_conversion from public;
