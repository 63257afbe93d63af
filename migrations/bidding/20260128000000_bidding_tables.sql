-- Competitive bidding (seed: bidding-deployment-guide.md), in `public` as the guide has it.
--
-- The bidding rules live here, in triggers on `bids`, so they hold for every way a bid enters
-- (the submit-bid function, a direct insert through the API, an auto-bid): the session row is
-- locked, so concurrent bids are serialised per session and there is only ever one leader.
-- Access rules (RLS policies, grants) are declared in apps/bidding.yaml.

create table public.bidding_sessions (
  session_id uuid primary key default gen_random_uuid(),
  title text not null check (length(title) between 1 and 200),
  owner_id uuid not null,
  status text not null default 'active'
    check (status in ('scheduled', 'active', 'closed', 'archived')),
  starting_price numeric(12, 2) not null check (starting_price > 0),
  min_increment numeric(12, 2) not null check (min_increment > 0),
  current_price numeric(12, 2),
  leader_id uuid,
  bid_count bigint not null default 0,
  starts_at timestamptz not null default now(),
  ends_at timestamptz not null,
  warned_at timestamptz,
  closed_at timestamptz,
  created_at timestamptz not null default now(),
  check (ends_at > starts_at)
);
-- the jobs scan open sessions by end time, and closed ones by closing time
create index bidding_sessions_open_by_end on public.bidding_sessions (ends_at)
  where status = 'active';
create index bidding_sessions_closed on public.bidding_sessions (closed_at)
  where status = 'closed';
alter table public.bidding_sessions enable row level security;

create table public.bidding_participants (
  session_id uuid not null references public.bidding_sessions on delete cascade,
  user_id uuid not null,
  auto_bid_max numeric(12, 2) check (auto_bid_max > 0),
  auto_bid_set_at timestamptz,
  joined_at timestamptz not null default now(),
  primary key (session_id, user_id)
);
-- RLS checks "is the caller a participant of this session" on every read
create index bidding_participants_by_user on public.bidding_participants (user_id, session_id);
alter table public.bidding_participants enable row level security;

create table public.bids (
  bid_id bigint generated always as identity primary key,
  session_id uuid not null references public.bidding_sessions on delete cascade,
  user_id uuid not null,
  amount numeric(12, 2) not null check (amount > 0),
  is_auto boolean not null default false,
  -- stamped under the session lock: the order bids took effect (ids are drawn before it)
  created_at timestamptz not null default now()
);
create index bids_by_session on public.bids (session_id, created_at);
create index bids_by_user on public.bids (user_id);
alter table public.bids enable row level security;

create table public.bidding_results (
  session_id uuid primary key references public.bidding_sessions on delete cascade,
  winner_id uuid,
  winning_bid_id bigint references public.bids,
  amount numeric(12, 2),
  payment_status text not null default 'pending'
    check (payment_status in ('pending', 'paid', 'failed', 'not_required')),
  settled_at timestamptz not null default now(),
  payment_updated_at timestamptz not null default now()
);
-- the failed-payments alert counts recent failures
create index bidding_results_payment on public.bidding_results (payment_status, payment_updated_at);
alter table public.bidding_results enable row level security;

create table public.bidding_notifications (
  notification_id bigint generated always as identity primary key,
  user_id uuid not null,
  session_id uuid not null references public.bidding_sessions on delete cascade,
  kind text not null check (kind in ('outbid', 'won', 'lost', 'ending_soon')),
  payload jsonb not null default '{}',
  created_at timestamptz not null default now(),
  sent_at timestamptz
);
create index bidding_notifications_by_user on public.bidding_notifications (user_id, created_at);
create index bidding_notifications_unsent on public.bidding_notifications (created_at)
  where sent_at is null;
alter table public.bidding_notifications enable row level security;

-- The session, locked for the rest of the transaction, if it takes bids now. Errors carry their
-- own SQLSTATEs, which the functions turn into HTTP statuses: BD404 no session, BD403 not a
-- participant, BD409 session not open, BD422 amount too low.
create function public.bidding_open_session(p_session uuid) returns public.bidding_sessions
language plpgsql security definer set search_path = '' as $$
declare
  s public.bidding_sessions;
begin
  select * into s from public.bidding_sessions where session_id = p_session for update;
  if not found then
    raise exception 'bidding session % does not exist', p_session using errcode = 'BD404';
  end if;
  if s.status <> 'active' or clock_timestamp() < s.starts_at or clock_timestamp() >= s.ends_at then
    raise exception 'bidding session % is not open for bids', p_session using errcode = 'BD409';
  end if;
  return s;
end
$$;

-- The least the next bid may be: the starting price, then the best bid plus the increment.
create function public.bidding_minimum(s public.bidding_sessions) returns numeric
language sql immutable set search_path = '' as $$
  select coalesce(s.current_price + s.min_increment, s.starting_price)
$$;

-- Before a bid: the session is open, the bidder takes part, the amount is at least the minimum.
create function public.bids_check() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  s public.bidding_sessions := public.bidding_open_session(new.session_id);
begin
  if not exists (select 1 from public.bidding_participants p
                 where p.session_id = new.session_id and p.user_id = new.user_id) then
    raise exception 'user % does not take part in session %', new.user_id, new.session_id
      using errcode = 'BD403';
  end if;
  if new.amount < public.bidding_minimum(s) then
    raise exception 'a bid of % is below the minimum of %', new.amount, public.bidding_minimum(s)
      using errcode = 'BD422', detail = public.bidding_minimum(s)::text;
  end if;
  new.created_at := clock_timestamp();
  return new;
end
$$;

-- Answer a session's leader with the auto-bids of the others, closed-form (proxy bidding):
-- the highest ceiling wins at the second-highest ceiling plus the increment, never above its
-- own ceiling. At most two bids, so it never loops.
create function public.bidding_answer_auto_bids(p_session uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  s public.bidding_sessions;
  challenger public.bidding_participants;
  leader_ceiling numeric;
  runner_up numeric;
begin
  select * into s from public.bidding_sessions where session_id = p_session;
  select * into challenger from public.bidding_participants p
  where p.session_id = p_session and p.user_id is distinct from s.leader_id
    and p.auto_bid_max >= public.bidding_minimum(s)
  order by p.auto_bid_max desc, p.auto_bid_set_at asc
  limit 1;
  if not found then
    return;
  end if;
  leader_ceiling := greatest(coalesce(s.current_price, 0), coalesce(
    (select auto_bid_max from public.bidding_participants
     where session_id = p_session and user_id = s.leader_id), 0));
  if challenger.auto_bid_max > leader_ceiling then
    runner_up := greatest(leader_ceiling, coalesce(
      (select max(auto_bid_max) from public.bidding_participants
       where session_id = p_session and user_id <> challenger.user_id), 0));
    insert into public.bids (session_id, user_id, amount, is_auto)
    values (p_session, challenger.user_id, least(challenger.auto_bid_max, greatest(
      runner_up + s.min_increment, public.bidding_minimum(s))), true);
  else
    insert into public.bids (session_id, user_id, amount, is_auto)
    values (p_session, challenger.user_id, challenger.auto_bid_max, true);
    if leader_ceiling >= challenger.auto_bid_max + s.min_increment then
      insert into public.bids (session_id, user_id, amount, is_auto)
      values (p_session, s.leader_id, challenger.auto_bid_max + s.min_increment, true);
    end if;
  end if;
end
$$;

-- After a bid: it leads; the one it overtook is told; a manual bid is answered by auto-bids.
create function public.bids_apply() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  previous uuid;
begin
  select leader_id into previous from public.bidding_sessions where session_id = new.session_id;
  update public.bidding_sessions
  set current_price = new.amount, leader_id = new.user_id, bid_count = bid_count + 1
  where session_id = new.session_id;
  if previous is not null and previous <> new.user_id then
    insert into public.bidding_notifications (user_id, session_id, kind, payload)
    values (previous, new.session_id, 'outbid', jsonb_build_object('amount', new.amount));
  end if;
  if not new.is_auto then
    perform public.bidding_answer_auto_bids(new.session_id);
  end if;
  return null;
end
$$;

create trigger bids_check before insert on public.bids
  for each row execute function public.bids_check();
create trigger bids_apply after insert on public.bids
  for each row execute function public.bids_apply();
-- bids are immutable, whoever asks
create function public.bids_immutable() returns trigger
language plpgsql set search_path = '' as $$
begin
  raise exception 'bids are immutable' using errcode = 'BD409';
end
$$;
create trigger bids_immutable before update on public.bids
  for each row execute function public.bids_immutable();

-- Set (or raise) a participant's auto-bid ceiling; it answers the current leader at once.
create function public.set_auto_bid(p_session uuid, p_user uuid, p_max numeric) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  s public.bidding_sessions := public.bidding_open_session(p_session);
begin
  if p_max < public.bidding_minimum(s) then
    raise exception 'an auto-bid maximum of % is below the minimum of %', p_max,
      public.bidding_minimum(s) using errcode = 'BD422', detail = public.bidding_minimum(s)::text;
  end if;
  update public.bidding_participants
  set auto_bid_max = p_max, auto_bid_set_at = clock_timestamp()
  where session_id = p_session and user_id = p_user;
  if not found then
    raise exception 'user % does not take part in session %', p_user, p_session
      using errcode = 'BD403';
  end if;
  if s.leader_id is distinct from p_user then
    perform public.bidding_answer_auto_bids(p_session);
  end if;
  return (select jsonb_build_object('currentPrice', current_price, 'leaderId', leader_id)
          from public.bidding_sessions where session_id = p_session);
end
$$;

-- Close a session: the leader wins at the current price; everyone is told.
create function public.close_session(p_session uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  s public.bidding_sessions;
begin
  update public.bidding_sessions set status = 'closed', closed_at = now()
  where session_id = p_session and status = 'active'
  returning * into s;
  if not found then
    return;
  end if;
  insert into public.bidding_results (session_id, winner_id, winning_bid_id, amount, payment_status)
  values (s.session_id, s.leader_id,
          (select bid_id from public.bids where session_id = s.session_id and user_id = s.leader_id
           order by created_at desc, bid_id desc limit 1),
          s.current_price, case when s.leader_id is null then 'not_required' else 'pending' end);
  insert into public.bidding_notifications (user_id, session_id, kind, payload)
  select p.user_id, s.session_id, case when p.user_id = s.leader_id then 'won' else 'lost' end,
         jsonb_build_object('amount', s.current_price)
  from public.bidding_participants p where p.session_id = s.session_id;
end
$$;

-- The jobs: close what has ended, warn about what ends soon, archive what closed long ago.
create function public.close_expired_sessions() returns integer
language plpgsql security definer set search_path = '' as $$
declare
  ended uuid;
  closed integer := 0;
begin
  for ended in
    select session_id from public.bidding_sessions
    where status = 'active' and ends_at <= now()
    for update skip locked
  loop
    perform public.close_session(ended);
    closed := closed + 1;
  end loop;
  return closed;
end
$$;

create function public.queue_expiration_warnings(p_within interval) returns integer
language plpgsql security definer set search_path = '' as $$
declare
  warned integer;
begin
  with ending as (
    update public.bidding_sessions set warned_at = now()
    where status = 'active' and warned_at is null and ends_at > now() and ends_at <= now() + p_within
    returning session_id, ends_at
  ), queued as (
    insert into public.bidding_notifications (user_id, session_id, kind, payload)
    select p.user_id, e.session_id, 'ending_soon', jsonb_build_object('endsAt', e.ends_at)
    from ending e join public.bidding_participants p using (session_id)
    returning 1
  )
  select count(*) into warned from ending;
  return warned;
end
$$;

create function public.archive_closed_sessions(p_older_than interval) returns integer
language plpgsql security definer set search_path = '' as $$
declare
  archived integer;
begin
  update public.bidding_sessions set status = 'archived'
  where status = 'closed' and closed_at < now() - p_older_than;
  get diagnostics archived = row_count;
  return archived;
end
$$;

-- Only the service (functions, jobs) calls these; the API roles never do.
revoke all on function public.set_auto_bid(uuid, uuid, numeric),
  public.bidding_open_session(uuid),
  public.close_session(uuid), public.close_expired_sessions(),
  public.queue_expiration_warnings(interval), public.archive_closed_sessions(interval),
  public.bidding_answer_auto_bids(uuid)
  from public, anon, authenticated;
grant execute on function public.set_auto_bid(uuid, uuid, numeric),
  public.close_session(uuid), public.close_expired_sessions(),
  public.queue_expiration_warnings(interval), public.archive_closed_sessions(interval)
  to service_role;
