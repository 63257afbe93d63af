-- What the hardening audit found (docs/security.md):
--
-- 1. bids_check runs BEFORE the row-level security check of an INSERT, so its errors told a
--    signed-in user things about sessions they cannot read: whether a session id exists, who
--    takes part in it, whether it is open and its current price. The caller's right comes
--    first now, and "no such session" and "not yours" are one answer (BD404, same text);
--    set_auto_bid follows the same order.
-- 2. The SECURITY DEFINER functions were executable by anon and authenticated (Supabase's
--    default privileges in `public` grant EXECUTE on every new function): set_auto_bid takes
--    the user as a parameter, close_session ends anyone's auction. Only the backend (the
--    functions' connection, service_role) may call them; triggers fire regardless.
-- 3. Foreign keys without a covering index (a delete of a session scanned every notification).

-- Whether `p_user` takes part in `p_session` and whoever is asking may act for them: the API
-- roles only for themselves (auth.uid()), the backend for the user it names.
create function public.bidding_may_bid(p_session uuid, p_user uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select (current_setting('role') not in ('anon', 'authenticated') or p_user = auth.uid())
    and exists (select 1 from public.bidding_participants p
                where p.session_id = p_session and p.user_id = p_user)
$$;

create or replace function public.bids_check() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  s public.bidding_sessions;
begin
  if not public.bidding_may_bid(new.session_id, new.user_id) then
    raise exception 'no bidding session % that you take part in', new.session_id
      using errcode = 'BD404';
  end if;
  s := public.bidding_open_session(new.session_id);
  if new.amount < public.bidding_minimum(s) then
    raise exception 'a bid of % is below the minimum of %', new.amount, public.bidding_minimum(s)
      using errcode = 'BD422', detail = public.bidding_minimum(s)::text;
  end if;
  new.created_at := clock_timestamp();
  return new;
end
$$;

create or replace function public.set_auto_bid(p_session uuid, p_user uuid, p_max numeric)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  s public.bidding_sessions;
begin
  if not public.bidding_may_bid(p_session, p_user) then
    raise exception 'no bidding session % that you take part in', p_session
      using errcode = 'BD404';
  end if;
  s := public.bidding_open_session(p_session);
  if p_max < public.bidding_minimum(s) then
    raise exception 'an auto-bid maximum of % is below the minimum of %', p_max,
      public.bidding_minimum(s) using errcode = 'BD422', detail = public.bidding_minimum(s)::text;
  end if;
  update public.bidding_participants
  set auto_bid_max = p_max, auto_bid_set_at = clock_timestamp()
  where session_id = p_session and user_id = p_user;
  if s.leader_id is distinct from p_user then
    perform public.bidding_answer_auto_bids(p_session);
  end if;
  return (select jsonb_build_object('currentPrice', current_price, 'leaderId', leader_id)
          from public.bidding_sessions where session_id = p_session);
end
$$;

revoke execute on function
  public.bidding_may_bid(uuid, uuid), public.bidding_open_session(uuid), public.bids_check(),
  public.bidding_answer_auto_bids(uuid), public.bids_apply(),
  public.set_auto_bid(uuid, uuid, numeric), public.close_session(uuid),
  public.close_expired_sessions(), public.queue_expiration_warnings(interval),
  public.archive_closed_sessions(interval)
from public, anon, authenticated;

-- Plain index builds: the engine runs each file in one transaction (concurrent builds need a
-- non-transactional migration, not supported yet); both tables are small (a result per
-- session, notifications are archived), so the write lock is brief.
-- squawk-ignore require-concurrent-index-creation
create index bidding_notifications_by_session on public.bidding_notifications (session_id);
-- squawk-ignore require-concurrent-index-creation
create index bidding_results_by_winning_bid on public.bidding_results (winning_bid_id);
