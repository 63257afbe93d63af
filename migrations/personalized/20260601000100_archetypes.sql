-- The archetype classification and the recalculation job (docs/apps/personalized.md).
--
-- Features, from the user's transactions of the last 180 days:
--   transactions      how many
--   paid_share        the share settled with money (split_cost or pay_premium)
--   swap_share        the share settled by swapping dates
--   avg_paid_cents    the mean amount of the paid ones
-- Classification, in this order:
--   fewer than 3 transactions                        average_user (too little history)
--   paid_share >= 0.6 and avg_paid_cents >= 4000     big_spender
--   swap_share >= 0.5                                high_flexibility
--   otherwise                                        average_user
-- Confidence: half from how much history there is (20 transactions or more: all of it), half
-- from how clearly the behaviour shows (the share that decided it).

create function personalized.archetype_features(p_user uuid)
returns jsonb language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'transactions', count(*),
    'paid_share', coalesce(round(avg((t.option <> 'swap_dates')::integer), 3), 0),
    'swap_share', coalesce(round(avg((t.option = 'swap_dates')::integer), 3), 0),
    'avg_paid_cents', coalesce(round(avg(t.amount_cents) filter (where t.option <> 'swap_dates')), 0),
    'window_days', 180)
  from personalized.transactions t
  where t.user_id = p_user and t.created_at > now() - interval '180 days'
$$;

create function personalized.classify(features jsonb, out archetype_type text, out confidence numeric)
language plpgsql immutable set search_path = '' as $$
declare
  n numeric := (features ->> 'transactions')::numeric;
  paid numeric := (features ->> 'paid_share')::numeric;
  swap numeric := (features ->> 'swap_share')::numeric;
  avg_paid numeric := (features ->> 'avg_paid_cents')::numeric;
  support numeric := least(1, n / 20);
begin
  if n < 3 then
    archetype_type := 'average_user';
    confidence := round(0.5 * support, 3);
  elsif paid >= 0.6 and avg_paid >= 4000 then
    archetype_type := 'big_spender';
    confidence := round(0.5 * support + 0.5 * paid, 3);
  elsif swap >= 0.5 then
    archetype_type := 'high_flexibility';
    confidence := round(0.5 * support + 0.5 * swap, 3);
  else
    archetype_type := 'average_user';
    confidence := round(0.5 * support + 0.5 * (1 - abs(paid - swap)), 3);
  end if;
end
$$;

-- Compute and store one user's archetype (idempotent: the same history gives the same row).
create function personalized.recompute_archetype(p_user uuid, p_run bigint)
returns void language plpgsql set search_path = '' as $$
declare
  features jsonb := personalized.archetype_features(p_user);
  chosen record;
begin
  select * into chosen from personalized.classify(features);
  insert into personalized.user_archetypes as a
    (user_id, archetype_type, confidence, features, computed_at, computed_by_run)
  values (p_user, chosen.archetype_type, chosen.confidence, features, now(), p_run)
  on conflict (user_id) do update set archetype_type = excluded.archetype_type,
    confidence = excluded.confidence, features = excluded.features,
    computed_at = excluded.computed_at, computed_by_run = excluded.computed_by_run;
end
$$;

-- A user is stale when they have no archetype, it is older than 20 hours, or they have a
-- transaction newer than it.
create function personalized.is_stale(p_user uuid)
returns boolean language sql stable set search_path = '' as $$
  select not exists (
    select 1 from personalized.user_archetypes a
    where a.user_id = p_user and a.computed_at > now() - interval '20 hours'
      and not exists (select 1 from personalized.transactions t
                      where t.user_id = p_user and t.created_at > a.computed_at))
$$;

-- Start a run, or take over the one in progress when it has shown no sign of life for two
-- minutes (its process was stopped: the new one resumes at its cursor, with its config). A run
-- in progress that is alive is refused (PD409). Returns the run's id.
create function personalized.start_recalculation(p_config jsonb)
returns bigint language plpgsql set search_path = '' as $$
declare
  run personalized.archetype_job_logs;
begin
  if jsonb_typeof(p_config -> 'batchSize') is distinct from 'number'
     or (p_config ->> 'batchSize')::numeric not between 1 and 1000
     or (p_config ->> 'batchSize')::numeric % 1 <> 0
     or jsonb_typeof(p_config -> 'onlyStaleUsers') is distinct from 'boolean' then
    raise exception 'config: {batchSize: 1 to 1000, onlyStaleUsers: true or false}'
      using errcode = 'PD422';
  end if;
  perform pg_advisory_xact_lock(hashtext('personalized.archetype_recalculation'));
  select * into run from personalized.archetype_job_logs where status = 'running' for update;
  if found and run.heartbeat_at > now() - interval '2 minutes' then
    raise exception 'a recalculation run (%) is in progress', run.id using errcode = 'PD409';
  elsif found then
    update personalized.archetype_job_logs set heartbeat_at = now() where id = run.id;
    return run.id;
  end if;
  insert into personalized.archetype_job_logs (config) values (p_config) returning id into run.id;
  return run.id;
end
$$;

-- The next batch of a run: users after its cursor, in id order (only the stale ones when its
-- config says so), each recomputed; a user whose computation fails is counted, not fatal.
-- Returns how many users the batch looked at: 0 when the run has none left.
create function personalized.recalculate_batch(p_run bigint)
returns integer language plpgsql set search_path = '' as $$
declare
  run personalized.archetype_job_logs;
  batch_size integer;
  only_stale boolean;
  chosen uuid;
  seen integer := 0;
  done integer := 0;
  failures integer := 0;
begin
  select * into run from personalized.archetype_job_logs where id = p_run for update;
  if not found or run.status <> 'running' then
    raise exception 'run % is not in progress', p_run using errcode = 'PD409';
  end if;
  batch_size := (run.config ->> 'batchSize')::integer;
  only_stale := (run.config ->> 'onlyStaleUsers')::boolean;
  for chosen in
    select u.user_id from personalized.users u
    where run.last_user_id is null or u.user_id > run.last_user_id
    order by u.user_id limit batch_size
  loop
    seen := seen + 1;
    run.last_user_id := chosen;
    continue when only_stale and not personalized.is_stale(chosen);
    begin
      perform personalized.recompute_archetype(chosen, p_run);
      done := done + 1;
    exception when others then
      failures := failures + 1;
    end;
  end loop;
  update personalized.archetype_job_logs
  set processed = processed + done, failed = failed + failures, last_user_id = run.last_user_id,
      heartbeat_at = now()
  where id = p_run;
  return seen;
end
$$;

-- A run that stops before its end (its call's time is up) is paused: the next start takes it
-- over at once, instead of after two minutes without a sign of life.
create function personalized.pause_recalculation(p_run bigint)
returns void language sql set search_path = '' as $$
  update personalized.archetype_job_logs set heartbeat_at = '-infinity'
  where id = p_run and status = 'running'
$$;

create function personalized.finish_recalculation(p_run bigint, p_error text default null)
returns personalized.archetype_job_logs language sql set search_path = '' as $$
  update personalized.archetype_job_logs
  set status = case when p_error is null then 'completed' else 'failed' end,
      completed_at = now(), heartbeat_at = now(), error = p_error
  where id = p_run and status = 'running'
  returning *
$$;

-- A whole run in one call (seed data, verification): every user, 500 at a time.
create function personalized.recalculate_all()
returns personalized.archetype_job_logs language plpgsql set search_path = '' as $$
declare
  run bigint := personalized.start_recalculation('{"batchSize": 500, "onlyStaleUsers": false}');
begin
  while personalized.recalculate_batch(run) > 0 loop
  end loop;
  return personalized.finish_recalculation(run);
end
$$;

-- The synthetic population's archetype shares (seeds/personalized), after a recalculation of
-- everyone when asked: the guide's "verify data quality" step (verify: runs it in a
-- transaction it rolls back).
create function personalized.synthetic_distribution(recalculate boolean)
returns table (archetype_type text, share numeric) language plpgsql set search_path = '' as $$
begin
  if recalculate then
    perform personalized.recalculate_all();
  end if;
  return query
    select a.archetype_type, round(count(*)::numeric / sum(count(*)) over (), 3)
    from personalized.user_archetypes a join personalized.users u using (user_id)
    where u.synthetic group by 1;
end
$$;
