-- Back to personalized.is_admin() of 20260601000200_recommendations.sql.
create or replace function personalized.is_admin()
returns boolean language sql stable set search_path = '' as $$
  select coalesce((select auth.jwt()) -> 'app_metadata' ->> 'role', '') = 'admin'
$$;
