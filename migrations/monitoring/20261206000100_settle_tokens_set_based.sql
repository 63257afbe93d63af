-- Settling a batch of buckets (the rate limits' debits an instance admitted) was a loop of one
-- upsert per bucket: 60-75 µs of Postgres per bucket, which under many callers is a bucket per
-- request or nearly. Now three statements for the whole batch: the buckets seen for the first
-- time inserted in key order (one another settlement is inserting waits for it and is then
-- settled below, as an update), the others locked in key order (two settlements of the same
-- buckets never deadlock) and updated. The same arithmetic; 2.3-2.5 times less time for 200
-- buckets (pgbench, two settlements at once over overlapping callers).
create or replace function monitoring.settle_tokens(
  keys text[], spent integer[], capacities integer[], refills double precision[]
) returns table (key text, tokens double precision)
language plpgsql security definer set search_path = ''
as $$
declare
  now_ts timestamptz := clock_timestamp();
  fresh text[];
  fresh_tokens double precision[];
begin
  with inserted as (
    insert into monitoring.rate_limit_buckets as b (key, tokens, updated_at)
    select u.k, greatest(-u.c, u.c - u.n), now_ts
      from unnest(keys, spent, capacities) as u(k, n, c)
     order by u.k
    on conflict do nothing
    returning b.key, b.tokens
  )
  select coalesce(array_agg(i.key), '{}'), coalesce(array_agg(i.tokens), '{}')
    into fresh, fresh_tokens from inserted i;
  perform from monitoring.rate_limit_buckets b
   where b.key = any(keys) and b.key <> all(fresh) order by b.key for update;
  return query
    update monitoring.rate_limit_buckets b
       set tokens = greatest(-u.c, monitoring.refilled(b.tokens, b.updated_at, now_ts, u.c, u.r)
                                   - u.n),
           updated_at = now_ts
      from unnest(keys, spent, capacities, refills) as u(k, n, c, r)
     where b.key = u.k and u.k <> all(fresh)
    returning b.key, b.tokens;
  return query select * from unnest(fresh, fresh_tokens);
end
$$;
