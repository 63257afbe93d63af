-- Back to the first release's checks and grants (the audit's findings return with them).
drop index public.bidding_results_by_winning_bid;
drop index public.bidding_notifications_by_session;

grant execute on function
  public.bidding_open_session(uuid), public.bids_check(), public.bidding_answer_auto_bids(uuid),
  public.bids_apply(), public.set_auto_bid(uuid, uuid, numeric), public.close_session(uuid),
  public.close_expired_sessions(), public.queue_expiration_warnings(interval),
  public.archive_closed_sessions(interval)
to public, anon, authenticated;

create or replace function public.bids_check() returns trigger
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

create or replace function public.set_auto_bid(p_session uuid, p_user uuid, p_max numeric)
returns jsonb
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

drop function public.bidding_may_bid(uuid, uuid);
