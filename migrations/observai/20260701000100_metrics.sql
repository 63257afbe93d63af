-- Metrics: raw points partitioned by day (pg_partman, the manifest's `partitions:`), rollups at
-- 1 minute, 5 minutes and 1 hour, anomalies, and the archive of points older than 90 days.

create table observai.metrics (
  organization_id uuid not null,
  name text not null,
  value double precision not null,
  tags jsonb not null default '{}',
  ts timestamptz not null
) partition by range (ts);
create index metrics_by_series on observai.metrics (organization_id, name, ts);

-- Points older than 90 days of tiers that keep them longer (the guide's archive: move, then
-- drop). Not partitioned: it holds what few tiers keep.
create table observai.metrics_archive (
  organization_id uuid not null,
  name text not null,
  value double precision not null,
  tags jsonb not null default '{}',
  ts timestamptz not null
);
create index metrics_archive_by_series on observai.metrics_archive (organization_id, name, ts);

create table observai.rollups (
  organization_id uuid not null,
  name text not null,
  resolution text not null check (resolution in ('1m', '5m', '1h')),
  bucket timestamptz not null,
  count bigint not null,
  sum double precision not null,
  min double precision not null,
  max double precision not null,
  primary key (organization_id, name, resolution, bucket)
);

-- How far each resolution is complete: buckets before `done_until` are final unless points
-- arrive late (each run re-aggregates the last `observai.lateness()` too).
create table observai.rollup_progress (
  resolution text primary key check (resolution in ('1m', '5m', '1h')),
  done_until timestamptz not null
);
insert into observai.rollup_progress values
  ('1m', '-infinity'), ('5m', '-infinity'), ('1h', '-infinity');

create table observai.anomalies (
  id bigint generated always as identity primary key,
  organization_id uuid not null references observai.organizations on delete cascade,
  name text not null,
  bucket timestamptz not null,
  value double precision not null,
  expected double precision not null,
  stddev double precision not null,
  zscore double precision not null,
  detected_at timestamptz not null default now(),
  unique (organization_id, name, bucket)
);

create function observai.resolution_width(resolution text) returns interval
language sql immutable set search_path = '' as $$
  select case resolution when '1m' then interval '1 minute' when '5m' then interval '5 minutes'
                         else interval '1 hour' end
$$;

-- Points arriving this late are still counted in their bucket.
create function observai.lateness() returns interval
language sql immutable set search_path = '' as $$ select interval '10 minutes' $$;


-- Store a batch of points for a caller (an API key's digest, or a member and organization):
-- validated in the function, checked again here (the tier's batch size, the organization's
-- ingest rate by tier). Returns how many points were stored.
create function observai.ingest(
  key_digest bytea, user_id uuid, organization text, points jsonb
) returns integer language plpgsql security definer set search_path = '' as $$
declare
  caller observai.principal := observai.authorize(key_digest, user_id, organization, 'ingest');
  limits observai.tiers;
  stored integer;
  wait double precision;
begin
  select * into limits from observai.tiers where tier = caller.tier;
  if jsonb_typeof(points) is distinct from 'array' or jsonb_array_length(points) = 0 then
    raise exception 'metrics: a non-empty array is required' using errcode = 'OA422';
  end if;
  if jsonb_array_length(points) > limits.max_batch_points then
    raise exception 'metrics: at most % points per request on the % tier',
      limits.max_batch_points, limits.tier using errcode = 'OA413';
  end if;
  wait := monitoring.take_token('observai-ingest:' || caller.organization_id,
                                limits.ingest_per_minute::integer,
                                limits.ingest_per_minute / 60.0::double precision);
  if wait > 0 then
    raise exception 'at most % ingest requests a minute on the % tier; retry in % s',
      limits.ingest_per_minute, limits.tier, ceil(wait) using errcode = 'OA429';
  end if;
  with inserted as (
    insert into observai.metrics (organization_id, name, value, tags, ts)
    select caller.organization_id, p.name, p.value, coalesce(p.tags, '{}'),
           coalesce(p."timestamp", now())
      from jsonb_to_recordset(points)
        as p(name text, value double precision, tags jsonb, "timestamp" timestamptz)
    returning name, ts
  ), backfilled as (
    insert into observai.late_points as l (organization_id, name, earliest)
    select caller.organization_id, i.name, min(i.ts) from inserted i
     where i.ts < now() - observai.lateness() group by i.name
    on conflict (organization_id, name) do update
      set earliest = least(l.earliest, excluded.earliest)
  )
  select count(*) into stored from inserted;
  return stored;
end
$$;
revoke execute on function observai.ingest(bytea, uuid, text, jsonb) from public;
grant execute on function observai.ingest(bytea, uuid, text, jsonb) to service_role;

-- Roll up one resolution over [since, until): 1 minute from the points, 5 minutes from
-- 1 minute, 1 hour from 5 minutes; every series, or one (only_organization, only_name).
-- Whole buckets are recomputed and upserted, so running it again changes nothing.
create function observai.roll_up(
  resolution text, since timestamptz, until timestamptz, only_organization uuid default null,
  only_name text default null
) returns bigint language plpgsql security definer set search_path = '' as $$
#variable_conflict use_variable
declare
  width interval := observai.resolution_width(resolution);
  source text := case resolution when '5m' then '1m' when '1h' then '5m' end;
  written bigint;
begin
  if source is null then
    insert into observai.rollups as r
      (organization_id, name, resolution, bucket, count, sum, min, max)
    select m.organization_id, m.name, roll_up.resolution, date_bin(width, m.ts, 'epoch'),
           count(*), sum(m.value), min(m.value), max(m.value)
      from observai.metrics m
     where m.ts >= since and m.ts < until
       and (only_organization is null or m.organization_id = only_organization)
       and (only_name is null or m.name = only_name)
     group by 1, 2, 4
    on conflict on constraint rollups_pkey do update
      set count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max;
  else
    insert into observai.rollups as r
      (organization_id, name, resolution, bucket, count, sum, min, max)
    select s.organization_id, s.name, roll_up.resolution, date_bin(width, s.bucket, 'epoch'),
           sum(s.count), sum(s.sum), min(s.min), max(s.max)
      from observai.rollups s
     where s.resolution = source and s.bucket >= since and s.bucket < until
       and (only_organization is null or s.organization_id = only_organization)
       and (only_name is null or s.name = only_name)
     group by 1, 2, 4
    on conflict on constraint rollups_pkey do update
      set count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max;
  end if;
  get diagnostics written = row_count;
  return written;
end
$$;
revoke execute on function observai.roll_up(text, timestamptz, timestamptz, uuid, text)
  from public;

-- The series that received points older than the lateness (a backfill), and the oldest of
-- them: observai.aggregate re-rolls those series from there.
create table observai.late_points (
  organization_id uuid not null,
  name text not null,
  earliest timestamptz not null,
  primary key (organization_id, name)
);

-- The regular run (every 5 minutes): each resolution from where it was complete minus the
-- lateness up to its last whole bucket, then each backfilled series from its oldest new point.
-- Concurrent runs wait for each other.
create function observai.aggregate(up_to timestamptz default now())
returns table (resolution text, buckets bigint)
language plpgsql security definer set search_path = '' as $$
#variable_conflict use_column
declare
  level text;
  since timestamptz;
  until timestamptz;
  late record;
begin
  perform pg_advisory_xact_lock(hashtext('observai.aggregate'));
  foreach level in array array['1m', '5m', '1h'] loop
    select date_bin(observai.resolution_width(level),
                    greatest(p.done_until - observai.lateness(), up_to - interval '2 days'),
                    'epoch')
      into since from observai.rollup_progress p where p.resolution = level;
    until := date_bin(observai.resolution_width(level), up_to, 'epoch');
    resolution := level;
    buckets := observai.roll_up(level, since, until);
    update observai.rollup_progress p set done_until = greatest(p.done_until, until)
     where p.resolution = level;
    return next;
  end loop;
  for late in delete from observai.late_points returning * loop
    foreach level in array array['1m', '5m', '1h'] loop
      perform observai.roll_up(level, date_bin(interval '1 hour', late.earliest, 'epoch'),
                               date_bin(observai.resolution_width(level), up_to, 'epoch'),
                               late.organization_id, late.name);
    end loop;
  end loop;
end
$$;
revoke execute on function observai.aggregate(timestamptz) from public;
grant execute on function observai.aggregate(timestamptz) to service_role;

-- A series of an organization: `agg` (avg, sum, min, max, count) per `step` seconds over
-- [from, to). Steps of a minute or more read the coarsest rollup that divides the step, up to
-- where it is complete, and the raw points after that; shorter steps read raw points.
create function observai.series(
  organization_id uuid, name text, from_ts timestamptz, to_ts timestamptz, step integer,
  agg text
) returns table (bucket timestamptz, value double precision)
language plpgsql stable security definer set search_path = '' as $$
declare
  source text := case when step % 3600 = 0 then '1h' when step % 300 = 0 then '5m'
                      when step % 60 = 0 then '1m' end;
  width interval := make_interval(secs => step);
  complete timestamptz := '-infinity';
begin
  from_ts := date_bin(width, from_ts, 'epoch');
  if agg not in ('avg', 'sum', 'min', 'max', 'count') then
    raise exception 'aggregation: avg, sum, min, max or count' using errcode = 'OA422';
  end if;
  if source is not null then
    -- done_until is a whole bucket of the source: no bucket is counted from both sides
    select least(p.done_until,
                 date_bin(observai.resolution_width(source), to_ts, 'epoch'))
      into complete
      from observai.rollup_progress p where p.resolution = source;
  end if;
  return query
  with parts as (
    select date_bin(width, r.bucket, 'epoch') as b, r.count as n, r.sum as s,
           r.min as lo, r.max as hi
      from observai.rollups r
     where r.organization_id = series.organization_id and r.name = series.name
       and r.resolution = source and r.bucket >= from_ts and r.bucket < complete
    union all
    select date_bin(width, m.ts, 'epoch'), 1, m.value, m.value, m.value
      from observai.metrics m
     where m.organization_id = series.organization_id and m.name = series.name
       and m.ts >= greatest(from_ts, complete) and m.ts < to_ts
  )
  select b, case agg when 'avg' then sum(s) / sum(n) when 'sum' then sum(s)
                     when 'min' then min(lo) when 'max' then max(hi)
                     else sum(n)::double precision end
    from parts group by b order by b;
end
$$;
revoke execute on function observai.series(uuid, text, timestamptz, timestamptz, integer, text)
  from public;
grant execute on function observai.series(uuid, text, timestamptz, timestamptz, integer, text)
  to service_role;

-- Anomalies: each 5-minute bucket since `since` whose mean is more than 3 standard deviations
-- from the mean of the series' previous 24 hours of 5-minute buckets (at least 12 of them).
-- Each bucket is recorded once, however often this runs.
create function observai.detect_anomalies(since timestamptz default now() - interval '30 minutes')
returns integer language plpgsql security definer set search_path = '' as $$
declare
  found integer;
begin
  insert into observai.anomalies (organization_id, name, bucket, value, expected, stddev, zscore)
  select r.organization_id, r.name, r.bucket, r.sum / r.count, base.mean, base.sd,
         (r.sum / r.count - base.mean) / base.sd
    from observai.rollups r
    cross join lateral (
      select avg(h.sum / h.count) as mean, stddev_samp(h.sum / h.count) as sd, count(*) as n
        from observai.rollups h
       where h.organization_id = r.organization_id and h.name = r.name and h.resolution = '5m'
         and h.bucket >= r.bucket - interval '24 hours' and h.bucket < r.bucket
    ) base
   where r.resolution = '5m' and r.bucket >= since and base.n >= 12 and base.sd > 0
     and abs(r.sum / r.count - base.mean) > 3 * base.sd
  on conflict (organization_id, name, bucket) do nothing;
  get diagnostics found = row_count;
  return found;
end
$$;
revoke execute on function observai.detect_anomalies(timestamptz) from public;
grant execute on function observai.detect_anomalies(timestamptz) to service_role;

-- Retention, daily: points past their tier's retention go; points older than 90 days of tiers
-- keeping them longer move to the archive first; then the day partitions older than 90 days
-- are dropped (pg_partman) and the older rows left elsewhere are deleted. One transaction:
-- a failure leaves every point where it was.
create function observai.cleanup()
returns table (archived bigint, deleted bigint, partitions_dropped integer)
language plpgsql security definer set search_path = '' as $$
declare
  cutoff timestamptz := now() - interval '90 days';
begin
  perform pg_advisory_xact_lock(hashtext('observai.cleanup'));
  delete from observai.metrics m using observai.organizations o, observai.tiers t
   where o.id = m.organization_id and t.tier = o.tier and t.retention < interval '90 days'
     and m.ts < now() - t.retention;
  get diagnostics deleted = row_count;
  insert into observai.metrics_archive
  select m.* from observai.metrics m
    join observai.organizations o on o.id = m.organization_id
    join observai.tiers t on t.tier = o.tier
   where m.ts < cutoff and t.retention > interval '90 days';
  get diagnostics archived = row_count;
  -- whole day partitions before the cutoff go at once (pg_partman, its own retention
  -- arguments: the set has none, so pg_partman's maintenance never drops unarchived points)
  partitions_dropped := coalesce(partman.drop_partition_time('observai.metrics',
    p_retention => interval '90 days', p_keep_table => false), 0);
  delete from observai.metrics m where m.ts < cutoff;
  delete from observai.metrics_archive a using observai.organizations o, observai.tiers t
   where o.id = a.organization_id and t.tier = o.tier and a.ts < now() - t.retention;
  delete from observai.rollups r using observai.organizations o, observai.tiers t
   where o.id = r.organization_id and t.tier = o.tier and r.bucket < now() - t.retention;
  delete from observai.anomalies a using observai.organizations o, observai.tiers t
   where o.id = a.organization_id and t.tier = o.tier and a.bucket < now() - t.retention;
  return next;
end
$$;
revoke execute on function observai.cleanup() from public;
grant execute on function observai.cleanup() to service_role;

alter table observai.metrics enable row level security;
alter table observai.metrics_archive enable row level security;
alter table observai.rollups enable row level security;
alter table observai.rollup_progress enable row level security;
alter table observai.late_points enable row level security;
alter table observai.anomalies enable row level security;
