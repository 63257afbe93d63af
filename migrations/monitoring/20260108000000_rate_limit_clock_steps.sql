-- A token bucket refills for the time since its last change, and that time is never negative.
-- The buckets' arithmetic counted a clock stepped back (NTP correcting the server, a restored
-- snapshot, a backend that wrote the row with a clock ahead) as negative time: the bucket lost
-- tokens, take_token then refused its caller until the clock caught up with the row's
-- updated_at (a year ahead: a year), and settle_tokens drove it to its floor. Now a step back
-- refills nothing and the next change stamps the bucket with the clock as it is.
create function monitoring.refilled(
  tokens double precision, updated_at timestamptz, now_ts timestamptz, capacity integer,
  refill_per_second double precision
) returns double precision
language sql immutable set search_path = ''
return least(capacity,
             tokens + greatest(0, extract(epoch from now_ts - updated_at)) * refill_per_second);
revoke all on function monitoring.refilled(
  double precision, timestamptz, timestamptz, integer, double precision
) from public;

create or replace function monitoring.take_token(
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
    set tokens = monitoring.refilled(b.tokens, b.updated_at, now_ts, capacity,
                                     refill_per_second) - 1,
        updated_at = now_ts
    where monitoring.refilled(b.tokens, b.updated_at, now_ts, capacity, refill_per_second) >= 1
  returning tokens into available;
  if found then
    return 0;
  end if;
  select monitoring.refilled(b.tokens, b.updated_at, now_ts, capacity, refill_per_second)
    into available from monitoring.rate_limit_buckets b where b.key = bucket;
  return (1 - available) / refill_per_second;
end
$$;

create or replace function monitoring.settle_tokens(
  keys text[], spent integer[], capacities integer[], refills double precision[]
) returns table (key text, tokens double precision)
language plpgsql security definer set search_path = ''
as $$
#variable_conflict use_column
declare
  now_ts timestamptz := clock_timestamp();
  k text;
  n integer;
  c integer;
  r double precision;
begin
  for k, n, c, r in
    select * from unnest(keys, spent, capacities, refills) order by 1
  loop
    insert into monitoring.rate_limit_buckets as b (key, tokens, updated_at)
    values (k, greatest(-c, c - n), now_ts)
    on conflict (key) do update
      set tokens = greatest(-c, monitoring.refilled(b.tokens, b.updated_at, now_ts, c, r) - n),
          updated_at = now_ts
    returning b.tokens into tokens;
    key := k;
    return next;
  end loop;
end
$$;
