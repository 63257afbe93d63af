-- Personalized defaults (../shared/seeds/personalized-defaults-deployment-guide.md): roommates
-- who share a home change dates with each other; a date change is settled by one of three
-- transaction options. The product proposes the option that suits the asking user's
-- archetype, computed nightly from their history (docs/apps/personalized.md).
--
-- Users are Supabase auth users (ids from auth.uid()); the app keeps what it needs of them.

create table personalized.users (
  user_id uuid primary key,
  -- part of the documented synthetic population (seeds/personalized), never a real user
  synthetic boolean not null default false,
  created_at timestamptz not null default now()
);

create table personalized.roommates (
  user_id uuid not null references personalized.users on delete cascade,
  roommate_id uuid not null references personalized.users on delete cascade,
  since date not null default current_date,
  primary key (user_id, roommate_id),
  check (user_id <> roommate_id)
);

-- How past date changes were settled: swap_dates (trade for another date, no money),
-- split_cost (share the cost of the change), pay_premium (pay the roommate to take it).
create table personalized.transactions (
  id bigint generated always as identity primary key,
  user_id uuid not null references personalized.users on delete cascade,
  roommate_id uuid not null references personalized.users on delete cascade,
  option text not null check (option in ('swap_dates', 'split_cost', 'pay_premium')),
  amount_cents bigint not null default 0 check (amount_cents between 0 and 10000000),
  days_notice bigint not null check (days_notice >= 0),
  created_at timestamptz not null default now()
);
create index transactions_by_user on personalized.transactions (user_id, created_at desc);

-- A user's archetype, as the nightly job last computed it.
create table personalized.user_archetypes (
  user_id uuid primary key references personalized.users on delete cascade,
  archetype_type text not null
    check (archetype_type in ('big_spender', 'high_flexibility', 'average_user')),
  confidence numeric(4, 3) not null check (confidence between 0 and 1),
  -- the features the classification used (personalized.archetype_features)
  features jsonb not null,
  computed_at timestamptz not null default now(),
  computed_by_run bigint
);

-- Every recommendation answered: the request, the three options offered, the primary one, and
-- (once the user submits a date change) whether it was followed.
create table personalized.recommendation_logs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  requested_by uuid,
  roommate_id uuid not null,
  target_date date not null,
  request jsonb not null,
  options jsonb not null,
  primary_option text not null,
  archetype_type text,
  personalized boolean not null,
  followed_recommendation boolean,
  created_at timestamptz not null default now()
);
create index recommendation_logs_by_time on personalized.recommendation_logs (created_at);
create index recommendation_logs_by_user on personalized.recommendation_logs
  (user_id, created_at desc);

-- A date change asked of a roommate, settled by one option; the roommate accepts or declines.
create table personalized.date_change_requests (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references personalized.users on delete cascade,
  roommate_id uuid not null references personalized.users on delete cascade,
  target_date date not null,
  option text not null check (option in ('swap_dates', 'split_cost', 'pay_premium')),
  amount_cents bigint not null default 0 check (amount_cents >= 0),
  recommendation_id uuid references personalized.recommendation_logs on delete set null,
  status text not null default 'submitted'
    check (status in ('submitted', 'accepted', 'declined', 'cancelled')),
  created_at timestamptz not null default now(),
  decided_at timestamptz
);
create index date_change_requests_by_user on personalized.date_change_requests (user_id);
create index date_change_requests_by_roommate on personalized.date_change_requests (roommate_id);
create index date_change_requests_by_recommendation on personalized.date_change_requests
  (recommendation_id);

-- An admin's read of another user's data (through the functions or the admin RPC).
create table personalized.admin_audit_log (
  id bigint generated always as identity primary key,
  admin_id uuid not null,
  action text not null,
  subject_user_id uuid,
  detail jsonb not null default '{}',
  at timestamptz not null default now()
);
create index admin_audit_log_by_time on personalized.admin_audit_log (at desc);

-- One row per recalculation run: when, how far (its cursor), with which config, how it ended.
create table personalized.archetype_job_logs (
  id bigint generated always as identity primary key,
  started_at timestamptz not null default now(),
  completed_at timestamptz,
  status text not null default 'running' check (status in ('running', 'completed', 'failed')),
  processed bigint not null default 0,
  failed bigint not null default 0,
  config jsonb not null,
  -- the last user processed (runs walk users in id order), and the last sign of life
  last_user_id uuid,
  heartbeat_at timestamptz not null default now(),
  error text
);
-- one run at a time
create unique index archetype_job_logs_one_running on personalized.archetype_job_logs (status)
  where status = 'running';

alter table personalized.users enable row level security;
alter table personalized.roommates enable row level security;
alter table personalized.transactions enable row level security;
alter table personalized.user_archetypes enable row level security;
alter table personalized.recommendation_logs enable row level security;
alter table personalized.date_change_requests enable row level security;
alter table personalized.admin_audit_log enable row level security;
alter table personalized.archetype_job_logs enable row level security;
