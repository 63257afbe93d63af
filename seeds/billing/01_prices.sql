-- Prices to quote on the stacks that seed (local, staging; never prod, where the prices are
-- Stripe's own, kept by its price.* events). Dated at the epoch: any event from Stripe about
-- the same id is newer and wins.
insert into billing.prices (id, product_name, unit_amount, currency, event_created)
values ('price_starter_monthly', 'Starter plan (monthly)', 1900, 'usd', 'epoch'),
       ('price_pro_monthly', 'Pro plan (monthly)', 4900, 'usd', 'epoch'),
       ('price_extra_seat', 'Extra seat (monthly)', 1200, 'usd', 'epoch'),
       ('price_onboarding', 'Onboarding session', 25000, 'usd', 'epoch')
on conflict do nothing;
