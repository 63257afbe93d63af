-- Undoes the bidding tables. Destructive: a stack with backups dumps the database first.
drop function public.archive_closed_sessions(interval);
drop function public.queue_expiration_warnings(interval);
drop function public.close_expired_sessions();
drop function public.close_session(uuid);
drop function public.set_auto_bid(uuid, uuid, numeric);
drop table public.bidding_notifications;
drop table public.bidding_results;
drop table public.bids;
drop function public.bids_immutable();
drop function public.bids_apply();
drop function public.bids_check();
drop function public.bidding_answer_auto_bids(uuid);
drop function public.bidding_minimum(public.bidding_sessions);
drop function public.bidding_open_session(uuid);
drop table public.bidding_participants;
drop table public.bidding_sessions;
