-- Back to the refill that counted a clock stepped back as negative time.
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
      set tokens = greatest(-c, least(c, b.tokens
            + extract(epoch from now_ts - b.updated_at) * r) - n),
          updated_at = now_ts
    returning b.tokens into tokens;
    key := k;
    return next;
  end loop;
end
$$;
drop function monitoring.refilled(double precision, timestamptz, timestamptz, integer, double precision);
