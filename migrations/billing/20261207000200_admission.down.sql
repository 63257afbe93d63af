-- The guard before this migration calls billing.admit on every request, which stays.
drop function billing.admission(text);
