-- ObservAI hub (../shared/seeds/observai-hub-deployment-guide.md): organizations send metrics,
-- the hub rolls them up, finds anomalies and alerts (docs/apps/observai.md).
--
-- Tenancy: organizations on a tier, their members (Supabase auth users) with a role, API keys
-- (stored as SHA-256 digests, shown once), and an audit log. Row level security lets a member
-- read their organizations' rows only; every write goes through the functions below, which
-- check the caller's role and write the audit row in the same transaction.

-- What each tier may do: how long its points are kept, how many points one ingest request may
-- carry, and how many ingest requests a minute the organization may send.
create table observai.tiers (
  tier text primary key,
  retention interval not null,
  max_batch_points bigint not null check (max_batch_points > 0),
  ingest_per_minute bigint not null check (ingest_per_minute > 0)
);
insert into observai.tiers values
  ('free', '7 days', 100, 60),
  ('pro', '30 days', 1000, 600),
  ('team', '90 days', 5000, 3000),
  ('enterprise', '365 days', 10000, 12000);

create table observai.organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  tier text not null default 'free' references observai.tiers,
  created_at timestamptz not null default now()
);

create table observai.members (
  organization_id uuid not null references observai.organizations on delete cascade,
  user_id uuid not null,
  role text not null check (role in ('owner', 'admin', 'member', 'viewer')),
  added_at timestamptz not null default now(),
  primary key (organization_id, user_id)
);
create index members_by_user on observai.members (user_id);

-- A key is `oai_` and 40 hex digits; `prefix` (its first 12 characters) names it in lists and
-- logs. Only the SHA-256 digest is stored: a key is 160 random bits, so a fast digest is as
-- safe as a slow one and lets every ingest request find its key by index.
create table observai.api_keys (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references observai.organizations on delete cascade,
  name text not null check (length(name) between 1 and 100),
  prefix text not null,
  key_digest bytea not null unique,
  scopes text[] not null check (scopes <> '{}' and scopes <@ array['ingest', 'read']),
  created_by uuid,
  created_at timestamptz not null default now(),
  revoked_at timestamptz,
  last_used_at timestamptz
);
create index api_keys_by_organization on observai.api_keys (organization_id);

create table observai.audit_log (
  id bigint generated always as identity primary key,
  organization_id uuid not null references observai.organizations on delete cascade,
  -- a user id, or the API key's id for key callers; null for the platform's jobs
  actor uuid,
  actor_kind text not null check (actor_kind in ('user', 'api_key', 'service', 'job')),
  action text not null,
  target text,
  details jsonb not null default '{}',
  at timestamptz not null default now()
);
create index audit_log_by_organization on observai.audit_log (organization_id, at desc);

-- The caller's organizations (security definer: policies on members would otherwise recurse).
create function observai.my_organizations(min_role text default 'viewer')
returns setof uuid language sql stable security definer set search_path = '' as $$
  select m.organization_id from observai.members m
  where m.user_id = (select auth.uid())
    and array_position(array['viewer', 'member', 'admin', 'owner'], m.role)
        >= array_position(array['viewer', 'member', 'admin', 'owner'], min_role)
$$;
revoke execute on function observai.my_organizations(text) from public;
grant execute on function observai.my_organizations(text) to authenticated, service_role;

-- Who is calling, for the functions: an API key (by digest) or a member, and the right the
-- call needs (ingest, read, manage). Returns the organization and the caller; raises OA404 for
-- an organization the caller cannot see, whether or not it exists, OA401 for an unknown or
-- revoked key, and OA403 for a caller without the right (keys: their scopes; members: viewers
-- read, members also ingest, owners and admins also manage).
create type observai.principal as (
  organization_id uuid,
  tier text,
  actor uuid,
  actor_kind text
);

create function observai.authorize(
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
revoke execute on function observai.authorize(bytea, uuid, text, text) from public;
grant execute on function observai.authorize(bytea, uuid, text, text) to service_role;

create function observai.audit(
  organization_id uuid, actor uuid, actor_kind text, action text, target text,
  details jsonb default '{}'
) returns void language sql security definer set search_path = '' as $$
  insert into observai.audit_log (organization_id, actor, actor_kind, action, target, details)
  values (organization_id, actor, actor_kind, action, target, details)
$$;
revoke execute on function observai.audit(uuid, uuid, text, text, text, jsonb) from public;

-- A new key for an organization (its owners and admins; the service for any): the key is
-- returned once and never stored.
create function observai.create_api_key(
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
revoke execute on function observai.create_api_key(uuid, text, text[]) from public;
grant execute on function observai.create_api_key(uuid, text, text[])
  to authenticated, service_role;

create function observai.revoke_api_key(key_id uuid) returns void
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
revoke execute on function observai.revoke_api_key(uuid) from public;
grant execute on function observai.revoke_api_key(uuid) to authenticated, service_role;

alter table observai.tiers enable row level security;
alter table observai.organizations enable row level security;
alter table observai.members enable row level security;
alter table observai.api_keys enable row level security;
alter table observai.audit_log enable row level security;
