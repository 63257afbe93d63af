-- Back to the SQL function (the same text, planned on every call).
create or replace function observai.series_json(
  organization_id uuid, name text, from_ts timestamptz, to_ts timestamptz, step integer,
  agg text
) returns text language sql stable
set search_path = '' set "DateStyle" = 'ISO, MDY' set extra_float_digits = 1 as $$
  select '[' || coalesce(string_agg(
           '["' || replace((s.bucket at time zone 'UTC')::text, ' ', 'T') || '.000Z",'
             || case when s.value = 'NaN' or abs(s.value) = 'Infinity' then 'null'
                     else s.value::text end || ']',
           ',' order by s.bucket), '') || ']'
    from observai.series(organization_id, name, from_ts, to_ts, step, agg) s
$$;
