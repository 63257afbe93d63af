drop function billing.accept_quote(uuid, uuid, text);
drop function billing.create_quote(uuid, text, jsonb);
drop function billing.quote_json(uuid, uuid);
create or replace function billing.apply_event(event_id text) returns text
language plpgsql security definer set search_path = '' as $$
declare
  event billing.webhook_events;
begin
  select * into event from billing.webhook_events e where e.id = apply_event.event_id;
  if event.type not in ('customer.subscription.created', 'customer.subscription.updated',
                        'customer.subscription.deleted') then
    update billing.webhook_events e set status = 'ignored', processed_at = now()
     where e.id = event.id;
    return 'ignored';
  end if;
  perform billing.store_subscription(
    event.payload -> 'data' -> 'object',
    to_timestamp((event.payload ->> 'created')::double precision),
    event.type = 'customer.subscription.deleted');
  update billing.webhook_events e set status = 'processed', processed_at = now()
   where e.id = event.id;
  return 'processed';
end
$$;
drop function billing.store_price(jsonb, timestamptz, boolean);
drop table billing.quote_emails;
drop table billing.quote_items;
drop table billing.quotes;
drop sequence billing.quote_numbers;
drop table billing.prices;
