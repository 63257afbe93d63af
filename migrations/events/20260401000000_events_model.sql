-- Events & registrations (seed: events-registrations-deployment-guide.md), in schema `events`.
--
-- Series (recurring definitions) and events (one class at one time, partitioned by month on
-- its start; pg_partman premakes the partitions, apps/events.yaml declares it). A confirmed
-- registration takes a seat, a pending one (a payment in progress) holds one; the counters on
-- the event are kept by a trigger on registrations and a CHECK keeps them within capacity, so
-- no path into the table (an RPC, an operator's SQL) can overbook. Access rules are declared in
-- apps/events.yaml; writes go through the RPCs of the next migration.

-- Counts, capacities and prices in cents fit 32 bits by orders of magnitude (a class of two
-- billion seats, a price of twenty million francs); weekdays fit 16.
-- squawk-ignore-file prefer-bigint-over-int, prefer-bigint-over-smallint

-- Functions this app creates are executable by nobody but their owner until granted: PUBLIC
-- gets EXECUTE on every new function by default, and the Data API would serve them.
alter default privileges in schema events revoke execute on functions from public;

create table events.organizations (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name text not null check (length(name) between 1 and 200),
  -- the organization hierarchy (chain.studio.room): subtree queries use the GiST index
  path extensions.ltree not null unique,
  branding jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index organizations_path on events.organizations using gist (path);
alter table events.organizations enable row level security;

create table events.org_members (
  org_id uuid not null references events.organizations on delete cascade,
  user_id uuid not null,
  role text not null default 'staff' check (role in ('owner', 'staff', 'instructor')),
  primary key (org_id, user_id)
);
create index org_members_by_user on events.org_members (user_id, org_id);
alter table events.org_members enable row level security;

create table events.locations (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references events.organizations on delete cascade,
  name text not null,
  address text,
  timezone text not null default 'Europe/Zurich'
);
create index locations_by_org on events.locations (org_id);
alter table events.locations enable row level security;

create table events.instructors (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references events.organizations on delete cascade,
  name text not null,
  bio text
);
create index instructors_by_org on events.instructors (org_id);
alter table events.instructors enable row level security;

create table events.class_series (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references events.organizations on delete cascade,
  location_id uuid references events.locations,
  instructor_id uuid references events.instructors,
  title text not null check (length(title) between 1 and 200),
  -- ISO weekdays (1 = Monday) the class happens on, at start_time in the series' time zone
  weekdays smallint[] not null
    check (cardinality(weekdays) > 0 and weekdays <@ array[1, 2, 3, 4, 5, 6, 7]::smallint[]),
  start_time time not null,
  duration interval not null check (duration > interval '0'),
  timezone text not null default 'Europe/Zurich',
  starts_on date not null,
  ends_on date check (ends_on >= starts_on),
  capacity integer not null check (capacity > 0),
  price_cents integer not null default 0 check (price_cents >= 0),
  currency text not null default 'chf' check (currency ~ '^[a-z]{3}$'),
  status text not null default 'active' check (status in ('active', 'paused', 'archived')),
  -- made by migrate_class_instances_to_events() from a legacy class instance
  legacy boolean not null default false,
  created_at timestamptz not null default now()
);
create index class_series_by_org on events.class_series (org_id);
alter table events.class_series enable row level security;

create table events.class_events (
  id uuid not null default gen_random_uuid(),
  series_id uuid references events.class_series,
  org_id uuid not null references events.organizations,
  location_id uuid references events.locations,
  instructor_id uuid references events.instructors,
  title text not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  capacity integer not null check (capacity >= 0),
  -- confirmed registrations, and pending ones holding a seat while their payment runs
  reg_count integer not null default 0,
  hold_count integer not null default 0,
  -- when a seat last became free (the waitlist alert measures promotion delays from it)
  seat_freed_at timestamptz,
  price_cents integer not null default 0 check (price_cents >= 0),
  currency text not null default 'chf',
  status text not null default 'published' check (status in ('draft', 'published', 'cancelled')),
  created_at timestamptz not null default now(),
  primary key (id, starts_at),
  -- generating a series twice makes each event once
  unique (series_id, starts_at),
  check (ends_at > starts_at),
  check (reg_count >= 0 and hold_count >= 0 and reg_count + hold_count <= capacity)
) partition by range (starts_at);
create index class_events_by_org on events.class_events (org_id, starts_at);
create index class_events_published on events.class_events (starts_at) where status = 'published';
alter table events.class_events enable row level security;

create table events.registrations (
  id uuid primary key default gen_random_uuid(),
  event_id uuid not null,
  event_starts_at timestamptz not null,
  org_id uuid not null references events.organizations,
  customer_id uuid not null,
  status text not null check (status in ('pending', 'confirmed', 'waitlisted', 'cancelled')),
  -- the client's Idempotency-Key: the same key books once, whatever happens to the request
  idempotency_key text not null check (length(idempotency_key) between 1 and 200),
  payment_method text not null default 'none' check (payment_method in ('stripe', 'twint', 'none')),
  payment_status text not null default 'not_required'
    check (payment_status in ('not_required', 'requires_payment', 'succeeded', 'failed')),
  payment_intent_id text unique,
  amount_cents integer not null default 0,
  currency text not null default 'chf',
  hold_expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  confirmed_at timestamptz,
  cancelled_at timestamptz,
  foreign key (event_id, event_starts_at) references events.class_events (id, starts_at),
  unique (customer_id, idempotency_key)
);
-- one live registration per customer and event
create unique index registrations_one_per_customer on events.registrations (event_id, customer_id)
  where status <> 'cancelled';
create index registrations_by_customer on events.registrations (customer_id, created_at);
create index registrations_by_org on events.registrations (org_id, event_id);
create index registrations_holds on events.registrations (hold_expires_at) where status = 'pending';
alter table events.registrations enable row level security;

create table events.event_waitlists (
  registration_id uuid primary key references events.registrations on delete cascade,
  event_id uuid not null,
  customer_id uuid not null,
  org_id uuid not null references events.organizations,
  -- first come, first promoted: drawn from one sequence, so ordered within every event
  position bigint generated always as identity,
  created_at timestamptz not null default now(),
  promoted_at timestamptz
);
create index event_waitlists_next on events.event_waitlists (event_id, position)
  where promoted_at is null;
create index event_waitlists_by_customer on events.event_waitlists (customer_id);
alter table events.event_waitlists enable row level security;

-- Stripe events processed (each id once: Stripe delivers at least once). Service only.
create table events.stripe_events (
  id text primary key,
  type text not null,
  payment_intent_id text,
  outcome text not null,
  received_at timestamptz not null default now()
);
alter table events.stripe_events enable row level security;

create table events.performance_metrics (
  id bigint generated always as identity primary key,
  metric_name text not null,
  metric_value double precision not null,
  tags jsonb not null default '{}',
  recorded_at timestamptz not null default now()
);
create index performance_metrics_by_name on events.performance_metrics (metric_name, recorded_at);
alter table events.performance_metrics enable row level security;

create table events.health_checks (
  id bigint generated always as identity primary key,
  check_name text not null,
  status text not null check (status in ('healthy', 'degraded', 'unhealthy')),
  response_ms double precision,
  details jsonb not null default '{}',
  checked_at timestamptz not null default now()
);
create index health_checks_by_name on events.health_checks (check_name, checked_at);
alter table events.health_checks enable row level security;

-- The legacy model the data migration reads (service only).
create table events.class_instances (
  id uuid primary key,
  org_id uuid not null references events.organizations,
  location_id uuid references events.locations,
  instructor_id uuid references events.instructors,
  title text not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  capacity integer not null,
  price_cents integer not null default 0
);
alter table events.class_instances enable row level security;

create table events.class_registrations (
  id uuid primary key,
  instance_id uuid not null references events.class_instances,
  customer_id uuid not null,
  status text not null check (status in ('confirmed', 'cancelled')),
  created_at timestamptz not null default now()
);
create index class_registrations_by_instance on events.class_registrations (instance_id);
alter table events.class_registrations enable row level security;

create table events.waitlists (
  id uuid primary key,
  instance_id uuid not null references events.class_instances,
  customer_id uuid not null,
  position integer not null,
  created_at timestamptz not null default now()
);
create index waitlists_by_instance on events.waitlists (instance_id, position);
alter table events.waitlists enable row level security;

-- Seats: the event's counters follow its registrations, whatever writes them. The event row is
-- updated (and so locked) by every change, which serialises changes per event.
create function events.count_seats() returns trigger
language plpgsql set search_path = '' as $$
declare
  taken_before integer := 0;
  held_before integer := 0;
  taken_after integer := 0;
  held_after integer := 0;
  target record;
begin
  if tg_op <> 'INSERT' then
    taken_before := (old.status = 'confirmed')::integer;
    held_before := (old.status = 'pending')::integer;
  end if;
  if tg_op <> 'DELETE' then
    taken_after := (new.status = 'confirmed')::integer;
    held_after := (new.status = 'pending')::integer;
  end if;
  if (taken_before, held_before) = (taken_after, held_after) then
    return null;
  end if;
  target := case when tg_op = 'DELETE' then old else new end;
  update events.class_events
  set reg_count = reg_count + taken_after - taken_before,
      hold_count = hold_count + held_after - held_before,
      seat_freed_at = case when taken_after + held_after < taken_before + held_before
                           then now() else seat_freed_at end
  where id = target.event_id and starts_at = target.event_starts_at;
  return null;
end
$$;

create trigger registrations_count_seats
  after insert or delete or update of status on events.registrations
  for each row execute function events.count_seats();

-- Staff of an organization (RLS policies call it; invoker rights: org_members' own policy
-- lets a user see their memberships, which is all this reads).
create function events.is_org_staff(p_org uuid) returns boolean
language sql stable set search_path = '' as $$
  select exists (select 1 from events.org_members m
                 where m.org_id = p_org and m.user_id = (select auth.uid()))
$$;
grant execute on function events.is_org_staff(uuid) to authenticated;
