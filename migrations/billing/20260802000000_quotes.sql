-- Quotes (the guide's quote-processor and quote-pdf-generator, docs/apps/billing.md): priced
-- from the prices Stripe sells, kept by the webhook pipeline from Stripe's `price.*` events;
-- accepted by paying them (a Stripe PaymentIntent for the total).

-- Prices as Stripe's events describe them: the newest description wins.
create table billing.prices (
  id text primary key check (id ~ '^price_[A-Za-z0-9_]{1,255}$'),
  product_name text not null check (length(product_name) between 1 and 200),
  unit_amount bigint not null check (unit_amount >= 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  active boolean not null default true,
  event_created timestamptz not null,
  updated_at timestamptz not null default now()
);

create sequence billing.quote_numbers;

create table billing.quotes (
  id uuid primary key default gen_random_uuid(),
  number text not null unique
    default 'Q-' || lpad(nextval('billing.quote_numbers')::text, 6, '0'),
  user_id uuid not null,
  -- the client's Idempotency-Key and a digest of what it asked: a retry returns the quote,
  -- the same key with other items is refused
  idempotency_key text not null check (length(idempotency_key) between 1 and 200),
  request_digest text not null,
  currency text not null,
  total bigint not null check (total >= 0),
  status text not null default 'open' check (status in ('open', 'accepted')),
  valid_until timestamptz not null,
  payment_intent_id text,
  created_at timestamptz not null default now(),
  accepted_at timestamptz,
  unique (user_id, idempotency_key)
);
create index quotes_by_user on billing.quotes (user_id, created_at desc);

create table billing.quote_items (
  quote_id uuid not null references billing.quotes on delete cascade,
  position bigint not null,
  price_id text not null references billing.prices,
  description text not null,
  quantity bigint not null check (quantity between 1 and 10000),
  unit_amount bigint not null,
  amount bigint not null,
  primary key (quote_id, position)
);

-- Emails of a quote's PDF, once per message Resend accepted (a retried request gets the same
-- id back from Resend and records nothing new).
create table billing.quote_emails (
  provider_id text primary key,
  quote_id uuid not null references billing.quotes on delete cascade,
  sent_at timestamptz not null default now()
);

alter table billing.prices enable row level security;
alter table billing.quotes enable row level security;
alter table billing.quote_items enable row level security;
alter table billing.quote_emails enable row level security;

-- Keep a price as a `price.*` event describes it (a deleted price stays, inactive: quotes
-- refer to it).
create function billing.store_price(price jsonb, observed timestamptz, deleted boolean)
returns void language plpgsql security definer set search_path = '' as $$
begin
  if price ->> 'object' is distinct from 'price' or price ->> 'unit_amount' is null then
    raise exception 'data.object is not a price with a unit_amount';
  end if;
  insert into billing.prices as p
    (id, product_name, unit_amount, currency, active, event_created)
  values (price ->> 'id',
          coalesce(price ->> 'nickname', price -> 'product' ->> 'name', price ->> 'product'),
          (price ->> 'unit_amount')::bigint, price ->> 'currency',
          not deleted and coalesce((price ->> 'active')::boolean, true), observed)
  on conflict (id) do update
    set product_name = excluded.product_name, unit_amount = excluded.unit_amount,
        currency = excluded.currency, active = excluded.active,
        event_created = excluded.event_created, updated_at = now()
    where p.event_created <= excluded.event_created;
end
$$;

-- Apply one event: subscriptions and prices are kept as Stripe has them; other types are
-- recorded as ignored. Raises on an event it cannot apply (the job is retried).
create or replace function billing.apply_event(event_id text) returns text
language plpgsql security definer set search_path = '' as $$
declare
  event billing.webhook_events;
  observed timestamptz;
begin
  select * into event from billing.webhook_events e where e.id = apply_event.event_id;
  observed := to_timestamp((event.payload ->> 'created')::double precision);
  if event.type in ('customer.subscription.created', 'customer.subscription.updated',
                    'customer.subscription.deleted') then
    perform billing.store_subscription(event.payload -> 'data' -> 'object', observed,
                                       event.type = 'customer.subscription.deleted');
  elsif event.type in ('price.created', 'price.updated', 'price.deleted') then
    perform billing.store_price(event.payload -> 'data' -> 'object', observed,
                                event.type = 'price.deleted');
  else
    update billing.webhook_events e set status = 'ignored', processed_at = now()
     where e.id = event.id;
    return 'ignored';
  end if;
  update billing.webhook_events e set status = 'processed', processed_at = now()
   where e.id = event.id;
  return 'processed';
end
$$;

-- A quote as its owner sees it: null when it is not theirs or does not exist (one answer).
create function billing.quote_json(quote_id uuid, owner uuid) returns jsonb
language sql stable security definer set search_path = '' as $$
  select jsonb_build_object(
    'id', q.id, 'number', q.number, 'currency', q.currency, 'total', q.total,
    'status', case when q.status = 'open' and q.valid_until < now() then 'expired'
                   else q.status end,
    'validUntil', q.valid_until, 'createdAt', q.created_at, 'acceptedAt', q.accepted_at,
    'paymentIntentId', q.payment_intent_id,
    'items', (select jsonb_agg(jsonb_build_object(
                'priceId', i.price_id, 'description', i.description, 'quantity', i.quantity,
                'unitAmount', i.unit_amount, 'amount', i.amount) order by i.position)
                from billing.quote_items i where i.quote_id = q.id))
    from billing.quotes q where q.id = quote_json.quote_id and q.user_id = quote_json.owner
$$;

-- Price a quote for `owner` from `items` ([{price, quantity, description?}], 1 to 50), valid
-- for 30 days. Bad input is BQ422 naming items[i].field; a retried Idempotency-Key returns
-- the first quote (`replayed`: true), the same key with other items is BQ409. Concurrent retries: one insert
-- wins, the others wait for it and return its quote.
create function billing.create_quote(owner uuid, request_key text, items jsonb)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare
  digest text := encode(sha256(convert_to(items::text, 'UTF8')), 'hex');
  item jsonb;
  price billing.prices;
  quantity bigint;
  quote_currency text;
  created uuid;
  existing billing.quotes;
  i int := 0;
begin
  if jsonb_typeof(items) is distinct from 'array' or jsonb_array_length(items) not between 1 and 50 then
    raise exception 'items: a list of 1 to 50 {price, quantity}' using errcode = 'BQ422';
  end if;
  for item in select value from jsonb_array_elements(items) loop
    if jsonb_typeof(item) <> 'object' or jsonb_typeof(item -> 'price') <> 'string' then
      raise exception 'items[%].price: a price id', i using errcode = 'BQ422';
    end if;
    if jsonb_typeof(item -> 'quantity') <> 'number' or (item ->> 'quantity') !~ '^[0-9]{1,5}$'
       or (item ->> 'quantity')::bigint not between 1 and 10000 then
      raise exception 'items[%].quantity: a whole number, 1 to 10000', i using errcode = 'BQ422';
    end if;
    if item ? 'description' and (jsonb_typeof(item -> 'description') <> 'string'
                                 or length(item ->> 'description') > 200) then
      raise exception 'items[%].description: text, at most 200 characters', i
        using errcode = 'BQ422';
    end if;
    if exists (select from jsonb_object_keys(item) k where k not in ('price', 'quantity', 'description')) then
      raise exception 'items[%]: only price, quantity and description', i using errcode = 'BQ422';
    end if;
    select * into price from billing.prices p where p.id = item ->> 'price' and p.active;
    if not found then
      raise exception 'items[%].price: no such price on sale', i using errcode = 'BQ422';
    end if;
    if quote_currency is not null and price.currency <> quote_currency then
      raise exception 'items[%].price: priced in %, the quote in %', i, price.currency,
        quote_currency using errcode = 'BQ422';
    end if;
    quote_currency := price.currency;
    i := i + 1;
  end loop;

  insert into billing.quotes (user_id, idempotency_key, request_digest, currency, total, valid_until)
  values (owner, request_key, digest, quote_currency, 0, now() + interval '30 days')
  on conflict (user_id, idempotency_key) do nothing
  returning id into created;
  if created is null then
    select * into existing from billing.quotes q
     where q.user_id = owner and q.idempotency_key = request_key;
    if existing.request_digest <> digest then
      raise exception 'Idempotency-Key was used for another quote' using errcode = 'BQ409';
    end if;
    return billing.quote_json(existing.id, owner) || '{"replayed": true}';
  end if;

  insert into billing.quote_items (quote_id, position, price_id, description, quantity,
                                   unit_amount, amount)
  select created, e.ordinality - 1, p.id, coalesce(e.value ->> 'description', p.product_name),
         (e.value ->> 'quantity')::bigint, p.unit_amount,
         p.unit_amount * (e.value ->> 'quantity')::bigint
    from jsonb_array_elements(items) with ordinality e
    join billing.prices p on p.id = e.value ->> 'price';
  update billing.quotes q set total = (select sum(amount) from billing.quote_items
                                        where quote_items.quote_id = created)
   where q.id = created;
  return billing.quote_json(created, owner) || '{"replayed": false}';
end
$$;

-- Mark an open, unexpired quote of `owner` accepted with its PaymentIntent. BQ404: not theirs
-- or no such quote (one answer); BQ409: expired, or accepted with another PaymentIntent.
create function billing.accept_quote(quote_id uuid, owner uuid, payment_intent text)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare
  quote billing.quotes;
begin
  select * into quote from billing.quotes q
   where q.id = accept_quote.quote_id and q.user_id = owner for update;
  if not found then
    raise exception 'no such quote' using errcode = 'BQ404';
  end if;
  if quote.status = 'accepted' then
    if quote.payment_intent_id is distinct from payment_intent then
      raise exception 'the quote is already accepted' using errcode = 'BQ409';
    end if;
  elsif quote.valid_until < now() then
    raise exception 'the quote expired at %', quote.valid_until using errcode = 'BQ409';
  else
    update billing.quotes q set status = 'accepted', accepted_at = now(),
                                payment_intent_id = payment_intent
     where q.id = quote.id;
  end if;
  return billing.quote_json(quote.id, owner);
end
$$;

revoke execute on function billing.store_price(jsonb, timestamptz, boolean),
  billing.quote_json(uuid, uuid), billing.create_quote(uuid, text, jsonb),
  billing.accept_quote(uuid, uuid, text) from public;
