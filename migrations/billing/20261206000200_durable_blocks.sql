-- A block and its incident are committed durably whichever connection records them: the
-- guard now takes its tokens on the functions' telemetry connections (synchronous_commit off:
-- a debit a crash loses gives a caller a token back), and a block recorded in that
-- transaction makes its commit wait for the disk, as the security record it is.
create or replace function billing.block(
  subject text, function_name text, event_type text, threat_level text, auto_response text,
  detail jsonb
) returns void language plpgsql security definer set search_path = '' as $$
declare
  duration interval := make_interval(secs => (
    select (s.value ->> 'blockDuration')::double precision from billing.security_settings s
     where s.category = 'rate_limiting' and s.key = 'global_settings'));
begin
  perform set_config('synchronous_commit', 'on', true);
  insert into billing.blocks as b (subject, blocked_until, reason)
  values (block.subject, now() + duration, block.event_type)
  on conflict on constraint blocks_pkey do update
    set blocked_until = excluded.blocked_until, reason = excluded.reason
    where b.blocked_until <= now();
  if found then
    insert into billing.security_incidents
      (event_type, threat_level, subject, function_name, detail, auto_response)
    values (block.event_type, block.threat_level, block.subject, block.function_name,
            block.detail, block.auto_response);
  end if;
end
$$;
