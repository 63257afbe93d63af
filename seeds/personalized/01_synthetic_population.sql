-- The documented synthetic population (docs/apps/personalized.md): 1,000 users in 500
-- roommate pairs, each with the history of one of three behaviours, generated from a fixed
-- seed (the same rows on every stack that seeds), then classified once.
--
--   behaviour   share  how they settled past date changes (option: probability, amount)
--   spender     18 %   pay_premium .7 (40-120 EUR), split_cost .2 (20-60), swap_dates .1
--   flexible    23 %   swap_dates .7, split_cost .2 (5-20), pay_premium .1 (10-30)
--   average     59 %   split_cost .5 (5-25), swap_dates .25, pay_premium .25 (10-40)
--
-- 5 % of users have fewer than 3 transactions (too little history: average_user); the others
-- 3 to 24, over the last 170 days. The classification lands the population in the guide's
-- expected distribution (big_spender 15-20 %, high_flexibility 20-25 %, average_user 55-65 %),
-- which verify: checks. Ids are md5 of a fixed text, so they never collide with real users'.

select setseed(0.17);

create temporary table synthetic_people on commit drop as
select n, md5('personalized-synthetic-' || n)::uuid as user_id,
       case when r < 0.18 then 'spender' when r < 0.41 then 'flexible' else 'average' end
         as behaviour,
       case when random() < 0.05 then floor(random() * 3) else 3 + floor(random() * 22) end
         as history
from (select n, random() as r from generate_series(1, 1000) as n) as drawn
order by n;

insert into personalized.users (user_id, synthetic)
select user_id, true from synthetic_people order by n
on conflict (user_id) do nothing;

-- pairs (1, 2), (3, 4), ...: each the other's roommate
insert into personalized.roommates (user_id, roommate_id)
select a.user_id, b.user_id
from synthetic_people a join synthetic_people b
  on b.n = case when a.n % 2 = 1 then a.n + 1 else a.n - 1 end
on conflict do nothing;

insert into personalized.transactions
  (user_id, roommate_id, option, amount_cents, days_notice, created_at)
select p.user_id, r.roommate_id, chosen.option,
       case chosen.option
         when 'swap_dates' then 0
         when 'pay_premium' then case p.behaviour when 'spender' then 4000 + floor(random() * 8001)
                                                  when 'flexible' then 1000 + floor(random() * 2001)
                                                  else 1000 + floor(random() * 3001) end
         else case p.behaviour when 'spender' then 2000 + floor(random() * 4001)
                               when 'flexible' then 500 + floor(random() * 1501)
                               else 500 + floor(random() * 2001) end
       end,
       floor(random() * 31), now() - random() * interval '170 days'
from synthetic_people p
join personalized.roommates r on r.user_id = p.user_id
cross join lateral generate_series(1, p.history::integer) as t(k)
cross join lateral (select random() + 0 * t.k as x) as draw  -- per row (correlated)
cross join lateral (select case p.behaviour
    when 'spender' then case when draw.x < 0.7 then 'pay_premium' when draw.x < 0.9 then 'split_cost'
                             else 'swap_dates' end
    when 'flexible' then case when draw.x < 0.7 then 'swap_dates' when draw.x < 0.9 then 'split_cost'
                              else 'pay_premium' end
    else case when draw.x < 0.5 then 'split_cost' when draw.x < 0.75 then 'swap_dates'
              else 'pay_premium' end end as option) as chosen
where not exists (select 1 from personalized.transactions where user_id = p.user_id)
order by p.n, t.k;

select personalized.recalculate_all();
