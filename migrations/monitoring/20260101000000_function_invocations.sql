-- The platform's own tables, in the `monitoring` schema (created by supastack's Database
-- component): one row per function invocation, written by functions/_shared, and the token
-- buckets behind per-user rate limits. Only the service role and postgres reach them.

create table monitoring.function_invocations (
  id bigint generated always as identity primary key,
  function_name text not null,
  -- an HTTP status never outgrows integer
  -- squawk-ignore prefer-bigint-over-int
  status integer not null check (status between 100 and 599),
  duration_ms double precision not null,
  error_class text,
  request_id text not null,
  invoked_at timestamptz not null default now()
);
create index function_invocations_by_function on monitoring.function_invocations
  (function_name, invoked_at desc);
alter table monitoring.function_invocations enable row level security;

create table monitoring.rate_limit_buckets (
  key text primary key,
  tokens double precision not null,
  updated_at timestamptz not null
);
alter table monitoring.rate_limit_buckets enable row level security;

-- Take one token from the bucket `bucket` (capacity tokens, refilled continuously at
-- refill_per_second). Returns 0 when the call may proceed, else the seconds until a token is
-- free. Atomic: concurrent callers of one bucket serialise on its row.
create function monitoring.take_token(
  bucket text, capacity integer, refill_per_second double precision
) returns double precision
language plpgsql security definer set search_path = ''
as $$
declare
  now_ts timestamptz := clock_timestamp();
  available double precision;
begin
  insert into monitoring.rate_limit_buckets as b (key, tokens, updated_at)
  values (bucket, capacity - 1, now_ts)
  on conflict (key) do update
    set tokens = least(capacity, b.tokens
          + extract(epoch from now_ts - b.updated_at) * refill_per_second) - 1,
        updated_at = now_ts
    where least(capacity, b.tokens
          + extract(epoch from now_ts - b.updated_at) * refill_per_second) >= 1
  returning tokens into available;
  if found then
    return 0;
  end if;
  select least(capacity, b.tokens + extract(epoch from now_ts - b.updated_at) * refill_per_second)
    into available from monitoring.rate_limit_buckets b where b.key = bucket;
  return (1 - available) / refill_per_second;
end
$$;
revoke all on function monitoring.take_token(text, integer, double precision) from public;
grant execute on function monitoring.take_token(text, integer, double precision) to service_role;
