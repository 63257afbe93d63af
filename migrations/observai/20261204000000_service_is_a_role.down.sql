-- Back to the key functions of 20260701000000_tenancy.sql.
create or replace function observai.create_api_key(
  organization_id uuid, name text, scopes text[]
) returns table (id uuid, prefix text, api_key text)
language plpgsql security definer set search_path = '' as $$
declare
  caller uuid := (select auth.uid());
  secret text := 'oai_' || encode(extensions.gen_random_bytes(20), 'hex');
begin
  if caller is not null and create_api_key.organization_id not in
     (select observai.my_organizations('admin')) then
    raise exception 'no such organization' using errcode = 'OA404';
  end if;
  if scopes is null or scopes = '{}' or not scopes <@ array['ingest', 'read'] then
    raise exception 'scopes: ingest and/or read' using errcode = 'OA422';
  end if;
  insert into observai.api_keys as k
    (organization_id, name, prefix, key_digest, scopes, created_by)
  values (create_api_key.organization_id, create_api_key.name, left(secret, 12),
          extensions.digest(secret, 'sha256'), create_api_key.scopes, caller)
  returning k.id, k.prefix into id, prefix;
  perform observai.audit(create_api_key.organization_id, caller,
                         case when caller is null then 'service' else 'user' end,
                         'api_key.created', prefix, jsonb_build_object('scopes', scopes));
  api_key := secret;
  return next;
end
$$;
create or replace function observai.revoke_api_key(key_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  caller uuid := (select auth.uid());
  revoked observai.api_keys;
begin
  update observai.api_keys k set revoked_at = now()
  where k.id = key_id and k.revoked_at is null
    and (caller is null or k.organization_id in (select observai.my_organizations('admin')))
  returning * into revoked;
  if revoked.id is null then
    raise exception 'no such API key' using errcode = 'OA404';
  end if;
  perform observai.audit(revoked.organization_id, caller,
                         case when caller is null then 'service' else 'user' end,
                         'api_key.revoked', revoked.prefix);
end
$$;
