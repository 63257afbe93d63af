-- Billing / edge-functions platform (../shared/seeds/edge-functions-billing-deployment-guide.md),
-- its webhook pipeline (docs/apps/billing.md): Stripe's events are received once each, queued,
-- applied by a batch job with retries and backoff, and dead-lettered after the last attempt.

-- Each Stripe event once: its id is the key. `status` follows its job.
create table billing.webhook_events (
  id text primary key check (id ~ '^evt_[A-Za-z0-9_]{1,255}$'),
  type text not null,
  payload jsonb not null,
  livemode boolean not null default false,
  received_at timestamptz not null default now(),
  status text not null default 'queued'
    check (status in ('queued', 'processed', 'ignored', 'dead')),
  processed_at timestamptz
);
create index webhook_events_by_status on billing.webhook_events (status, received_at);

-- Work to do: one job per event (kind stripe_event), taken by the batch processor.
create table billing.batch_jobs (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('stripe_event')),
  event_id text references billing.webhook_events on delete cascade,
  status text not null default 'queued' check (status in ('queued', 'running', 'done', 'dead')),
  attempts bigint not null default 0,
  max_attempts bigint not null default 5 check (max_attempts between 1 and 20),
  next_attempt_at timestamptz not null default now(),
  -- a running job whose lease passed (its processor died) is taken again
  leased_until timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  unique (kind, event_id)
);
create index batch_jobs_due on billing.batch_jobs (next_attempt_at) where status = 'queued';

-- Every attempt at a job, with its outcome.
create table billing.webhook_deliveries (
  id bigint generated always as identity primary key,
  job_id bigint not null references billing.batch_jobs on delete cascade,
  attempt bigint not null,
  started_at timestamptz not null,
  finished_at timestamptz not null default clock_timestamp(),
  outcome text not null check (outcome in ('succeeded', 'failed')),
  error text
);
create index webhook_deliveries_by_job on billing.webhook_deliveries (job_id, attempt);

-- Jobs that failed their last attempt, kept for a person to look at and requeue.
create table billing.webhook_dead_letters (
  job_id bigint primary key references billing.batch_jobs on delete cascade,
  event_id text references billing.webhook_events on delete cascade,
  attempts bigint not null,
  last_error text,
  dead_at timestamptz not null default now(),
  requeued_at timestamptz
);

-- Subscriptions as Stripe's events describe them.
create table billing.subscriptions (
  id text primary key check (id ~ '^sub_[A-Za-z0-9_]{1,255}$'),
  customer_id text not null,
  user_id uuid,
  status text not null,
  price_id text,
  current_period_end timestamptz,
  cancel_at_period_end boolean not null default false,
  -- the Stripe event that last changed the row: an older event never overwrites a newer one
  event_created timestamptz not null,
  updated_at timestamptz not null default now()
);
create index subscriptions_by_user on billing.subscriptions (user_id);

alter table billing.webhook_events enable row level security;
alter table billing.batch_jobs enable row level security;
alter table billing.webhook_deliveries enable row level security;
alter table billing.webhook_dead_letters enable row level security;
alter table billing.subscriptions enable row level security;

-- Record a verified event and queue its job, in one transaction. False: seen before (Stripe
-- retries a delivery until it gets a 2xx; the second one changes nothing).
create function billing.receive_event(event jsonb) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  stored text;
begin
  insert into billing.webhook_events (id, type, payload, livemode)
  values (event ->> 'id', event ->> 'type', event, coalesce((event ->> 'livemode')::boolean, false))
  on conflict (id) do nothing
  returning id into stored;
  if stored is null then
    return false;
  end if;
  insert into billing.batch_jobs (kind, event_id) values ('stripe_event', stored);
  return true;
end
$$;

-- Keep a subscription as Stripe described it at `observed` (an event's time, or a read of
-- the API): a description older than the row's changes nothing.
create function billing.store_subscription(
  sub jsonb, observed timestamptz, canceled boolean default false
) returns void language plpgsql security definer set search_path = '' as $$
begin
  if sub ->> 'id' is null or sub ->> 'customer' is null then
    raise exception 'data.object is not a subscription';
  end if;
  insert into billing.subscriptions as s
    (id, customer_id, user_id, status, price_id, current_period_end, cancel_at_period_end,
     event_created)
  values (sub ->> 'id', sub ->> 'customer', (sub -> 'metadata' ->> 'user_id')::uuid,
          case when canceled then 'canceled' else sub ->> 'status' end,
          sub -> 'items' -> 'data' -> 0 -> 'price' ->> 'id',
          to_timestamp((sub ->> 'current_period_end')::double precision),
          coalesce((sub ->> 'cancel_at_period_end')::boolean, false), observed)
  on conflict (id) do update
    set status = excluded.status, price_id = excluded.price_id,
        current_period_end = excluded.current_period_end,
        cancel_at_period_end = excluded.cancel_at_period_end,
        user_id = coalesce(excluded.user_id, s.user_id),
        event_created = excluded.event_created, updated_at = now()
    where s.event_created <= excluded.event_created;
end
$$;

-- Apply one event to the billing state: the subscription events keep billing.subscriptions
-- as Stripe has it; other types are recorded as ignored. Raises on an event it cannot apply
-- (the job is retried).
create function billing.apply_event(event_id text) returns text
language plpgsql security definer set search_path = '' as $$
declare
  event billing.webhook_events;
begin
  select * into event from billing.webhook_events e where e.id = apply_event.event_id;
  if event.type not in ('customer.subscription.created', 'customer.subscription.updated',
                        'customer.subscription.deleted') then
    update billing.webhook_events e set status = 'ignored', processed_at = now()
     where e.id = event.id;
    return 'ignored';
  end if;
  perform billing.store_subscription(
    event.payload -> 'data' -> 'object',
    to_timestamp((event.payload ->> 'created')::double precision),
    event.type = 'customer.subscription.deleted');
  update billing.webhook_events e set status = 'processed', processed_at = now()
   where e.id = event.id;
  return 'processed';
end
$$;

-- The delay before attempt n + 1 after n failures: 30 s doubling, at most an hour.
create function billing.backoff(failures bigint) returns interval
language sql immutable set search_path = '' as $$
  select least(interval '30 seconds' * power(2, greatest(failures - 1, 0)), interval '1 hour')
$$;

-- Take up to `batch` due jobs (skipping those another processor holds), apply each in its own
-- subtransaction: a failure is recorded and retried after the backoff, and the last allowed
-- failure moves the job to the dead letters. Returns what happened.
create function billing.process_jobs(batch integer default 100, lease interval default '2 minutes')
returns table (succeeded integer, retried integer, dead integer)
language plpgsql security definer set search_path = '' as $$
declare
  job billing.batch_jobs;
  started timestamptz;
  failure text;
begin
  succeeded := 0; retried := 0; dead := 0;
  for job in
    update billing.batch_jobs j set status = 'running', leased_until = now() + lease,
                                    attempts = j.attempts + 1
     where j.id in (select q.id from billing.batch_jobs q
                     where (q.status = 'queued' and q.next_attempt_at <= now())
                        or (q.status = 'running' and q.leased_until < now())
                     order by q.next_attempt_at, q.id
                     limit batch for update skip locked)
    returning j.*
  loop
    started := clock_timestamp();
    failure := null;
    begin
      perform billing.apply_event(job.event_id);
    exception when others then
      failure := sqlerrm;
    end;
    insert into billing.webhook_deliveries (job_id, attempt, started_at, outcome, error)
    values (job.id, job.attempts, started,
            case when failure is null then 'succeeded' else 'failed' end, failure);
    if failure is null then
      update billing.batch_jobs set status = 'done', finished_at = now(), leased_until = null
       where id = job.id;
      succeeded := succeeded + 1;
    elsif job.attempts >= job.max_attempts then
      update billing.batch_jobs set status = 'dead', last_error = failure, finished_at = now(),
                                    leased_until = null
       where id = job.id;
      update billing.webhook_events set status = 'dead' where id = job.event_id;
      insert into billing.webhook_dead_letters (job_id, event_id, attempts, last_error)
      values (job.id, job.event_id, job.attempts, failure);
      dead := dead + 1;
    else
      update billing.batch_jobs set status = 'queued', last_error = failure, leased_until = null,
                                    next_attempt_at = now() + billing.backoff(job.attempts)
       where id = job.id;
      retried := retried + 1;
    end if;
  end loop;
  return next;
end
$$;

-- Put a dead-lettered job back in the queue (after the cause was fixed), with fresh attempts.
create function billing.requeue_dead_letter(job_id bigint) returns void
language plpgsql security definer set search_path = '' as $$
begin
  update billing.webhook_dead_letters d set requeued_at = now()
   where d.job_id = requeue_dead_letter.job_id and d.requeued_at is null;
  if not found then
    raise exception 'no dead letter for job %', job_id using errcode = 'BL404';
  end if;
  update billing.batch_jobs j set status = 'queued', attempts = 0, next_attempt_at = now(),
                                  finished_at = null
   where j.id = requeue_dead_letter.job_id;
  update billing.webhook_events e set status = 'queued'
   where e.id = (select event_id from billing.batch_jobs where id = requeue_dead_letter.job_id);
end
$$;

-- What webhook-monitor reports: events by status in the window, deliveries and their success
-- rate, jobs stuck (due for more than 10 minutes, or a lease passed), dead letters not requeued.
create function billing.webhook_health(win interval default '24 hours') returns jsonb
language sql stable security definer set search_path = '' as $$
  select jsonb_build_object(
    'window', win::text,
    'events', coalesce((select jsonb_object_agg(status, n) from (
        select status, count(*) as n from billing.webhook_events
         where received_at > now() - win group by status) s), '{}'),
    'deliveries', (select count(*) from billing.webhook_deliveries
                    where finished_at > now() - win),
    'successRate', (select round(avg((outcome = 'succeeded')::int)::numeric, 4)
                      from billing.webhook_deliveries where finished_at > now() - win),
    'stuck', (select count(*) from billing.batch_jobs
               where (status = 'queued' and next_attempt_at < now() - interval '10 minutes')
                  or (status = 'running' and leased_until < now())),
    'deadLetters', (select count(*) from billing.webhook_dead_letters where requeued_at is null),
    'oldestQueued', (select min(created_at) from billing.batch_jobs where status = 'queued'))
$$;

revoke execute on function billing.receive_event(jsonb), billing.apply_event(text),
  billing.store_subscription(jsonb, timestamptz, boolean),
  billing.process_jobs(integer, interval), billing.requeue_dead_letter(bigint),
  billing.webhook_health(interval) from public;
grant execute on function billing.receive_event(jsonb), billing.process_jobs(integer, interval),
  billing.store_subscription(jsonb, timestamptz, boolean),
  billing.requeue_dead_letter(bigint), billing.webhook_health(interval) to service_role;
