-- Back to one upsert per bucket.
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
