-- The booking RPCs: atomic and idempotent. Each locks the event row first, so bookings,
-- cancellations and promotions of one event run one at a time while other events go on in
-- parallel. Errors use their own SQLSTATEs (EV404 not found or not yours, EV409 conflict,
-- EV422 invalid), which the functions turn into HTTP statuses; "does not exist" and "not
-- yours" are one answer. Executable by the service (the functions) only.

create function events.lock_event(p_event_id uuid) returns events.class_events
language plpgsql set search_path = '' as $$
declare
  e events.class_events;
begin
  select * into e from events.class_events where id = p_event_id for update;
  if not found then
    raise exception using errcode = 'EV404', message = 'event not found';
  end if;
  return e;
end
$$;

create function events.book(
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

-- Give free seats to the first waitlisted registrations (in the caller's transaction, after
-- the caller locked the event and changed what it changes: the counts are read here, after it).
-- A promoted paid registration holds its seat while it is paid.
create function events.promote_locked(p_event_id uuid) returns integer
language plpgsql set search_path = '' as $$
declare
  e events.class_events;
  free integer;
  promoted integer := 0;
  w record;
begin
  select * into e from events.class_events where id = p_event_id;
  free := e.capacity - e.reg_count - e.hold_count;
  for w in
    select wl.registration_id from events.event_waitlists wl
    join events.registrations r on r.id = wl.registration_id and r.status = 'waitlisted'
    where wl.event_id = e.id and wl.promoted_at is null
    order by wl.position limit greatest(free, 0)
  loop
    update events.registrations r
    set status = case when r.amount_cents > 0 then 'pending' else 'confirmed' end,
        payment_status = case when r.amount_cents > 0 then 'requires_payment'
                              else 'not_required' end,
        hold_expires_at = case when r.amount_cents > 0 then now() + interval '1 day' end,
        confirmed_at = case when r.amount_cents > 0 then null else now() end,
        updated_at = now()
    where r.id = w.registration_id;
    update events.event_waitlists set promoted_at = now() where registration_id = w.registration_id;
    promoted := promoted + 1;
  end loop;
  return promoted;
end
$$;

create function events.promote_waitlist(p_event_id uuid) returns integer
language plpgsql set search_path = '' as $$
begin
  perform events.lock_event(p_event_id);
  return events.promote_locked(p_event_id);
end
$$;

-- The promotion job: every event with a free seat and someone waiting.
create function events.promote_all_waitlists() returns integer
language plpgsql set search_path = '' as $$
declare
  candidate uuid;
  promoted integer := 0;
begin
  for candidate in
    select distinct wl.event_id from events.event_waitlists wl
    join events.class_events e on e.id = wl.event_id
    where wl.promoted_at is null and e.reg_count + e.hold_count < e.capacity
      and e.starts_at > now()
  loop
    promoted := promoted + events.promote_waitlist(candidate);
  end loop;
  return promoted;
end
$$;

create function events.cancel_registration(p_registration_id uuid, p_customer_id uuid)
returns table (registration_id uuid, status text, promoted integer)
language plpgsql set search_path = '' as $$
declare
  r events.registrations;
  started timestamptz := clock_timestamp();
  count_promoted integer := 0;
begin
  select * into r from events.registrations x
  where x.id = p_registration_id and x.customer_id = p_customer_id;
  if not found then  -- absent and not yours: one answer
    raise exception using errcode = 'EV404', message = 'registration not found';
  end if;
  perform events.lock_event(r.event_id);
  select * into r from events.registrations x where x.id = p_registration_id;
  if r.status <> 'cancelled' then
    update events.registrations x set status = 'cancelled', cancelled_at = now(), updated_at = now()
    where x.id = r.id;
    update events.event_waitlists set promoted_at = coalesce(promoted_at, now())
    where event_waitlists.registration_id = r.id and promoted_at is null;
    count_promoted := events.promote_locked(r.event_id);
  end if;
  insert into events.performance_metrics (metric_name, metric_value, tags)
  values ('booking_operation_duration',
          extract(epoch from clock_timestamp() - started) * 1000,
          jsonb_build_object('operation', 'cancel'));
  return query select r.id, 'cancelled'::text, count_promoted;
end
$$;

-- Payments: the PaymentIntent of a pending registration, and the webhook's outcomes.
create function events.attach_payment_intent(p_registration_id uuid, p_payment_intent text)
returns void language sql set search_path = '' as $$
  update events.registrations set payment_intent_id = p_payment_intent, updated_at = now()
  where id = p_registration_id and status = 'pending'
$$;

-- A pending registration gives its held seat back (its payment failed, its hold expired) and
-- the waitlist moves up; false if it was no longer pending once the event was locked.
create function events.release_hold(p_registration_id uuid, p_event_id uuid) returns boolean
language plpgsql set search_path = '' as $$
declare
  released boolean;
begin
  perform events.lock_event(p_event_id);
  update events.registrations
  set status = 'cancelled', cancelled_at = now(), updated_at = now(), hold_expires_at = null
  where id = p_registration_id and status = 'pending';
  released := found;
  perform events.promote_locked(p_event_id);
  return released;
end
$$;

-- One Stripe event, once: the event id is recorded in the same transaction as its effect.
create function events.apply_stripe_event(p_event_id text, p_type text, p_payment_intent text)
returns text language plpgsql set search_path = '' as $$
declare
  r events.registrations;
  result text;
begin
  insert into events.stripe_events (id, type, payment_intent_id, outcome)
  values (p_event_id, p_type, p_payment_intent, 'processing')
  on conflict (id) do nothing;
  if not found then
    return 'duplicate';
  end if;
  select * into r from events.registrations where payment_intent_id = p_payment_intent;
  if p_type not in ('payment_intent.succeeded', 'payment_intent.payment_failed') then
    result := 'ignored';
  elsif r.id is null then
    result := 'unknown payment intent';
  elsif p_type = 'payment_intent.succeeded' then
    perform events.lock_event(r.event_id);
    update events.registrations
    set status = case when status = 'pending' then 'confirmed' else status end,
        confirmed_at = case when status = 'pending' then now() else confirmed_at end,
        payment_status = 'succeeded', hold_expires_at = null, updated_at = now()
    where id = r.id;
    -- paid after its hold expired: the money is in, the seat is gone; refund by hand
    result := case when r.status = 'pending' then 'confirmed' else 'paid after release' end;
  else
    perform events.release_hold(r.id, r.event_id);
    update events.registrations set payment_status = 'failed', updated_at = now()
    where id = r.id;
    result := 'released';
  end if;
  update events.stripe_events set outcome = result where id = p_event_id;
  return result;
end
$$;

-- The cleanup job: expired payment holds give their seats back (and the waitlist moves up);
-- idempotency keys of cancelled registrations older than 30 days are forgotten.
create function events.cleanup_expired_holds() returns integer
language plpgsql set search_path = '' as $$
declare
  expired record;
  released integer := 0;
begin
  for expired in
    select id, event_id from events.registrations
    where status = 'pending' and hold_expires_at < now()
  loop
    if events.release_hold(expired.id, expired.event_id) then
      released := released + 1;
    end if;
  end loop;
  update events.registrations
  set idempotency_key = 'expired:' || id::text
  where status = 'cancelled' and cancelled_at < now() - interval '30 days'
    and idempotency_key not like 'expired:%';
  return released;
end
$$;

-- Events from series, up to a date, never into the default partition: generation stops at the
-- newest partition pg_partman has made (premade 120 days ahead), and says how far it got.
create function events.generate_events_for_series(p_series events.class_series, p_until date)
returns integer language plpgsql set search_path = '' as $$
declare
  made integer;
begin
  insert into events.class_events (
    series_id, org_id, location_id, instructor_id, title, starts_at, ends_at, capacity,
    price_cents, currency)
  select p_series.id, p_series.org_id, p_series.location_id, p_series.instructor_id,
         p_series.title, slot.starts_at, slot.starts_at + p_series.duration, p_series.capacity,
         p_series.price_cents, p_series.currency
  from generate_series(greatest(p_series.starts_on, current_date),
                       least(coalesce(p_series.ends_on, p_until), p_until),
                       interval '1 day') as day(d)
  cross join lateral (
    select ((day.d::date + p_series.start_time) at time zone p_series.timezone) as starts_at
  ) slot
  where extract(isodow from day.d)::smallint = any (p_series.weekdays)
    and slot.starts_at > now()
  on conflict (series_id, starts_at) do nothing;
  get diagnostics made = row_count;
  return made;
end
$$;

create function events.partitions_until() returns date
language sql stable set search_path = '' as $$
  select coalesce(max(substring(pg_get_expr(c.relpartbound, c.oid)
                      from 'TO \(''([0-9-]+)')::date), current_date)
  from pg_inherits i join pg_class c on c.oid = i.inhrelid
  where i.inhparent = 'events.class_events'::regclass
    and pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
$$;

create function events.generate_events_for_all(p_until date)
returns table (events_created integer, generated_until date)
language plpgsql set search_path = '' as $$
declare
  horizon date := least(p_until, events.partitions_until() - 1);
  s events.class_series;
  made integer := 0;
begin
  for s in select * from events.class_series where status = 'active' and not legacy loop
    made := made + events.generate_events_for_series(s, horizon);
  end loop;
  return query select made, horizon;
end
$$;

-- The legacy model into the new one (class_instances -> a one-off series and its event,
-- class_registrations and waitlists -> registrations). Idempotent: ids are kept, so a second
-- run finds everything done. The counts are checked; a mismatch rolls the whole run back.
create function events.migrate_class_instances_to_events() returns jsonb
language plpgsql set search_path = '' as $$
declare
  result jsonb;
begin
  insert into events.class_series (
    id, org_id, location_id, instructor_id, title, weekdays, start_time, duration, timezone,
    starts_on, ends_on, capacity, price_cents, legacy)
  select i.id, i.org_id, i.location_id, i.instructor_id, i.title,
         array[extract(isodow from i.starts_at at time zone 'UTC')::smallint],
         (i.starts_at at time zone 'UTC')::time, i.ends_at - i.starts_at, 'UTC',
         (i.starts_at at time zone 'UTC')::date, (i.starts_at at time zone 'UTC')::date,
         greatest(i.capacity, 1), i.price_cents, true
  from events.class_instances i
  on conflict (id) do nothing;
  insert into events.class_events (
    id, series_id, org_id, location_id, instructor_id, title, starts_at, ends_at, capacity,
    price_cents)
  select i.id, i.id, i.org_id, i.location_id, i.instructor_id, i.title, i.starts_at, i.ends_at,
         i.capacity, i.price_cents
  from events.class_instances i
  on conflict (series_id, starts_at) do nothing;
  insert into events.registrations (
    id, event_id, event_starts_at, org_id, customer_id, status, idempotency_key, created_at,
    confirmed_at, cancelled_at)
  select cr.id, i.id, i.starts_at, i.org_id, cr.customer_id, cr.status, 'legacy:' || cr.id,
         cr.created_at, case when cr.status = 'confirmed' then cr.created_at end,
         case when cr.status = 'cancelled' then cr.created_at end
  from events.class_registrations cr join events.class_instances i on i.id = cr.instance_id
  on conflict (id) do nothing;
  insert into events.registrations (
    id, event_id, event_starts_at, org_id, customer_id, status, idempotency_key, created_at)
  select w.id, i.id, i.starts_at, i.org_id, w.customer_id, 'waitlisted', 'legacy:' || w.id,
         w.created_at
  from events.waitlists w join events.class_instances i on i.id = w.instance_id
  on conflict (id) do nothing;
  insert into events.event_waitlists (registration_id, event_id, customer_id, org_id, created_at)
  select w.id, i.id, w.customer_id, i.org_id, w.created_at
  from events.waitlists w join events.class_instances i on i.id = w.instance_id
  where not exists (select 1 from events.event_waitlists x where x.registration_id = w.id)
  order by w.instance_id, w.position;
  result := jsonb_build_object(
    'class_instances', (select count(*) from events.class_instances),
    'class_series', (select count(*) from events.class_series s
                     where s.legacy and s.id in (select id from events.class_instances)),
    'class_events', (select count(*) from events.class_events e
                     where e.id in (select id from events.class_instances)),
    'class_registrations', (select count(*) from events.class_registrations),
    'waitlists', (select count(*) from events.waitlists),
    'registrations', (select count(*) from events.registrations r
                      where r.idempotency_key like 'legacy:%'));
  if (result ->> 'class_series') <> (result ->> 'class_instances')
     or (result ->> 'class_events') <> (result ->> 'class_instances')
     or (result ->> 'registrations')::bigint
        <> (result ->> 'class_registrations')::bigint + (result ->> 'waitlists')::bigint then
    raise exception using errcode = 'EV409',
      message = 'migrated counts do not match the legacy tables: ' || result::text;
  end if;
  return result;
end
$$;

-- The down path of the data migration: the rows it made go (the legacy tables are untouched).
create function events.revert_class_instance_migration() returns jsonb
language plpgsql set search_path = '' as $$
declare
  registrations_removed integer;
  events_removed integer;
begin
  delete from events.registrations r using events.class_instances i
  where r.event_id = i.id and r.idempotency_key like 'legacy:%';
  get diagnostics registrations_removed = row_count;
  delete from events.class_events e using events.class_instances i
  where e.id = i.id and e.series_id = i.id;
  get diagnostics events_removed = row_count;
  delete from events.class_series s using events.class_instances i where s.id = i.id and s.legacy;
  return jsonb_build_object('registrations', registrations_removed, 'class_events', events_removed);
end
$$;

revoke execute on all functions in schema events from public;
grant execute on function events.is_org_staff(uuid) to authenticated;
