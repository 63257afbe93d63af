-- Back to events.book of 20260401000100_booking_rpcs.sql.
create or replace function events.book(
  p_event_id uuid, p_customer_id uuid, p_idempotency_key text, p_payment_method text
) returns table (
  registration_id uuid, status text, payment_status text, amount_cents integer,
  currency text, replayed boolean
)
language plpgsql set search_path = '' as $$
declare
  started timestamptz := clock_timestamp();
  e events.class_events;
  r events.registrations;
  paid boolean;
  chosen text;
begin
  if p_payment_method not in ('stripe', 'twint', 'none') then
    raise exception using errcode = 'EV422', message = 'paymentMethod must be stripe, twint or none';
  end if;
  e := events.lock_event(p_event_id);
  -- After the lock: a retry of the same key, even one sent at the same time, waits for the
  -- first and then finds its registration.
  select * into r from events.registrations
  where customer_id = p_customer_id and idempotency_key = p_idempotency_key;
  if found then
    if r.event_id <> p_event_id then
      raise exception using errcode = 'EV409',
        message = 'this Idempotency-Key was used for another booking';
    end if;
    return query select r.id, r.status, r.payment_status, r.amount_cents, r.currency, true;
    return;
  end if;
  if e.status <> 'published' then
    raise exception using errcode = 'EV404', message = 'event not found';
  end if;
  if e.starts_at <= now() then
    raise exception using errcode = 'EV409', message = 'the event has started';
  end if;
  if exists (select 1 from events.registrations x where x.event_id = p_event_id
             and x.customer_id = p_customer_id and x.status <> 'cancelled') then
    raise exception using errcode = 'EV409', message = 'already registered for this event';
  end if;
  paid := e.price_cents > 0;
  if paid and p_payment_method = 'none' then
    raise exception using errcode = 'EV422', message = 'this event needs a paymentMethod';
  end if;
  chosen := case when e.reg_count + e.hold_count >= e.capacity then 'waitlisted'
                 when paid then 'pending' else 'confirmed' end;
  insert into events.registrations as reg (
    event_id, event_starts_at, org_id, customer_id, status, idempotency_key, payment_method,
    payment_status, amount_cents, currency, hold_expires_at, confirmed_at)
  values (
    e.id, e.starts_at, e.org_id, p_customer_id, chosen, p_idempotency_key,
    case when paid then p_payment_method else 'none' end,
    case when chosen = 'pending' then 'requires_payment' else 'not_required' end,
    e.price_cents, e.currency,
    case when chosen = 'pending' then now() + interval '15 minutes' end,
    case when chosen = 'confirmed' then now() end)
  returning * into r;
  if chosen = 'waitlisted' then
    insert into events.event_waitlists (registration_id, event_id, customer_id, org_id)
    values (r.id, e.id, p_customer_id, e.org_id);
  end if;
  insert into events.performance_metrics (metric_name, metric_value, tags)
  values ('booking_operation_duration',
          extract(epoch from clock_timestamp() - started) * 1000,
          jsonb_build_object('operation', 'book', 'status', chosen));
  return query select r.id, r.status, r.payment_status, r.amount_cents, r.currency, false;
end
$$;
