-- A bid and the session it leaves, in one call: submit-bid placed the bid, then read the
-- session (its price and leader after the auto-bids the bid set off), two round trips per bid.
-- This runs both in one; the read sees what the insert's triggers did. Only the backend calls
-- it (the functions' connection), as the other bidding functions.
create function public.place_bid(p_session uuid, p_user uuid, p_amount numeric)
returns table (bid_id bigint, current_price numeric, leader_id uuid)
language plpgsql set search_path = '' as $$
declare
  placed bigint;
begin
  insert into public.bids (session_id, user_id, amount)
  values (p_session, p_user, p_amount)
  returning bids.bid_id into placed;
  return query
    select placed, s.current_price, s.leader_id
      from public.bidding_sessions s where s.session_id = p_session;
end
$$;
revoke execute on function public.place_bid(uuid, uuid, numeric) from public, anon, authenticated;
grant execute on function public.place_bid(uuid, uuid, numeric) to service_role;
