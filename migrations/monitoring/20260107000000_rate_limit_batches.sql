-- Rate limits settled in batches (functions/_shared/ratelimit.ts): a function instance admits
-- requests against the buckets as it last read them and debits what it admitted here, many
-- buckets in one call, a few times a second, instead of one call per request.
--
-- For each bucket (the same arithmetic as take_token): refill it for the time since its last
-- change, take `spent` tokens, and return what is left. What is left may be negative: requests
-- other instances admitted in the same interval are paid back by later ones, so over any window
-- a bucket never admits more than its capacity plus its refill (never below -capacity: an
-- overdraft costs a caller at most one window). Buckets are locked in key order, so two
-- instances settling at once never deadlock.
create function monitoring.settle_tokens(
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
revoke all on function monitoring.settle_tokens(text[], integer[], integer[], double precision[])
  from public;
grant execute on function monitoring.settle_tokens(text[], integer[], integer[], double precision[])
  to service_role;
