-- observai.series_json in PL/pgSQL: the same text, from a plan the session keeps. A SQL function
-- that cannot be inlined (this one sets its search path, date style and float digits) has its
-- statement parsed and planned again on every call in Postgres 15; PL/pgSQL prepares it once
-- per session. The metrics function calls it on every request the cache does not answer: its
-- statement took 0.10 ms less Postgres CPU a call (0.84-0.92 -> 0.73-0.81 ms, 2,000 calls a
-- round on one connection, four rounds; docs/testing-and-benchmarks.md).
create or replace function observai.series_json(
  organization_id uuid, name text, from_ts timestamptz, to_ts timestamptz, step integer,
  agg text
) returns text language plpgsql stable
set search_path = '' set "DateStyle" = 'ISO, MDY' set extra_float_digits = 1 as $$
begin
  return (
    select '[' || coalesce(string_agg(
             '["' || replace((s.bucket at time zone 'UTC')::text, ' ', 'T') || '.000Z",'
               || case when s.value = 'NaN' or abs(s.value) = 'Infinity' then 'null'
                       else s.value::text end || ']',
             ',' order by s.bucket), '') || ']'
      from observai.series(series_json.organization_id, series_json.name, series_json.from_ts,
                           series_json.to_ts, series_json.step, series_json.agg) s);
end
$$;
