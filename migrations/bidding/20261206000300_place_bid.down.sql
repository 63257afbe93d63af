drop function public.place_bid(uuid, uuid, numeric);
