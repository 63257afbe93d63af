-- Back to an UPDATE tried on every call, then the read.
create or replace function observai.authorize(
  key_digest bytea, user_id uuid, organization text, needs text
) returns observai.principal language plpgsql security definer set search_path = '' as $$
declare
  found observai.principal;
  rights text[];
begin
  if key_digest is not null then
    update observai.api_keys k set last_used_at = now()
    where k.key_digest = authorize.key_digest and k.revoked_at is null
      -- a key used many times a second is recorded at most once a minute
      and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute');
    select k.organization_id, o.tier, k.id, 'api_key', k.scopes
      into found.organization_id, found.tier, found.actor, found.actor_kind, rights
      from observai.api_keys k join observai.organizations o on o.id = k.organization_id
     where k.key_digest = authorize.key_digest and k.revoked_at is null;
    if found.organization_id is null then
      raise exception 'unknown or revoked API key' using errcode = 'OA401';
    end if;
    if organization is not null and organization <> found.organization_id::text
       and organization <> (select slug from observai.organizations
                            where id = found.organization_id) then
      raise exception 'no such organization' using errcode = 'OA404';
    end if;
  else
    select o.id, o.tier, m.user_id, 'user',
           case m.role when 'viewer' then array['read']
                       when 'member' then array['read', 'ingest']
                       else array['read', 'ingest', 'manage'] end
      into found.organization_id, found.tier, found.actor, found.actor_kind, rights
      from observai.organizations o
      join observai.members m on m.organization_id = o.id and m.user_id = authorize.user_id
     where o.slug = organization or o.id::text = organization;
    if found.organization_id is null then
      raise exception 'no such organization' using errcode = 'OA404';
    end if;
  end if;
  if not needs = any(rights) then
    raise exception '%', case needs when 'manage' then 'only owners and admins change this'
                                    else format('this caller may not %s', needs) end
      using errcode = 'OA403';
  end if;
  return found;
end
$$;
