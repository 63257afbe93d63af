-- An admin is a signed-in user with Supabase's admin claim (app_metadata.role, set by the
-- service only). A token with the claim but no subject used to count as an admin: its reads of
-- everyone's archetypes were allowed and audited as nobody's (admin_id null).
create or replace function personalized.is_admin()
returns boolean language sql stable set search_path = '' as $$
  select (select auth.uid()) is not null
     and coalesce((select auth.jwt()) -> 'app_metadata' ->> 'role', '') = 'admin'
$$;
