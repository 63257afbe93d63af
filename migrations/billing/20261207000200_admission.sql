-- What the guard reads on every request, and nothing it writes: whether the caller is blocked
-- (the seconds left), the threat-detection settings and the rate limit. The guard took the
-- caller's token here too (billing.admit: a bucket upsert on every request, 0.14 ms of
-- Postgres, more than half of subscription-status's). Now an instance takes tokens against
-- the shared bucket as it last read it and settles them in batches (functions/_shared/
-- ratelimit.ts); only a request that finds no token there asks billing.admit, which takes a
-- token exactly or blocks the caller. A block stops the caller's next request on every
-- instance at once, as before: it is read here, on every request.
-- (plpgsql: its plan is cached for the session; a SQL function's is made again on every call,
-- 0.12 ms here against 0.01 ms for the query itself.)
create function billing.admission(
  subject text, out blocked_for double precision, out detection jsonb, out limits jsonb
) language plpgsql stable security definer set search_path = '' as $$
begin
  select coalesce((select extract(epoch from b.blocked_until - now())::double precision
                     from billing.blocks b
                    where b.subject = admission.subject and b.blocked_until > now()), 0),
         (select s.value from billing.security_settings s
           where s.category = 'threat_detection' and s.key = 'global_settings'),
         (select s.value from billing.security_settings s
           where s.category = 'rate_limiting' and s.key = 'global_settings')
    into blocked_for, detection, limits;
end
$$;
revoke execute on function billing.admission(text) from public;
