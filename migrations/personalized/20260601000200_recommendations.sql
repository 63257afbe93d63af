-- Recommendations, the archetype read, date changes, and the admins' audited reads
-- (docs/apps/personalized.md). The functions call recommend() and archetype_of() with the
-- caller their middleware verified; date changes and the admin read are RPCs of the Data API,
-- acting for auth.uid(). Not-allowed and not-found are one answer where telling them apart
-- would say whether someone exists.

-- Supabase's convention for admins: app_metadata.role in the JWT (set by the service only).
create function personalized.is_admin()
returns boolean language sql stable set search_path = '' as $$
  select coalesce((select auth.jwt()) -> 'app_metadata' ->> 'role', '') = 'admin'
$$;

-- Who may read p_user's data: themselves, or an admin (whose read of someone else is audited).
create function personalized.authorize_read(
  p_caller uuid, p_is_admin boolean, p_user uuid, p_action text, p_detail jsonb
) returns void language plpgsql set search_path = '' as $$
begin
  if p_caller = p_user then
    return;
  end if;
  if not p_is_admin then
    raise exception 'you may read only your own data' using errcode = 'PD403';
  end if;
  insert into personalized.admin_audit_log (admin_id, action, subject_user_id, detail)
  values (p_caller, p_action, p_user, p_detail);
end
$$;

-- The user's archetype as stored, or average_user (confidence 0) before their first one.
create function personalized.archetype_of(p_caller uuid, p_is_admin boolean, p_user uuid)
returns jsonb language plpgsql set search_path = '' as $$
declare
  found_one personalized.user_archetypes;
begin
  perform personalized.authorize_read(p_caller, p_is_admin, p_user, 'read_archetype', '{}');
  select * into found_one from personalized.user_archetypes where user_id = p_user;
  return jsonb_build_object(
    'userId', p_user,
    'archetype', coalesce(found_one.archetype_type, 'average_user'),
    'confidence', coalesce(found_one.confidence, 0),
    'features', found_one.features,
    'computedAt', found_one.computed_at);
end
$$;

-- The three options for a date change, scored for the user, and the primary one (the best
-- score); logged. Personalized (the flag on for the user): the archetype's base scores, then
-- the context (days of notice, a weekend, how this roommate answered each option before).
-- Not personalized: the product's default order, the same for everyone, and says so.
create function personalized.recommend(
  p_caller uuid, p_is_admin boolean, p_user uuid, p_roommate uuid, p_target date,
  p_personalized boolean
) returns jsonb language plpgsql set search_path = '' as $$
declare
  archetype personalized.user_archetypes;
  kind text;
  notice integer := p_target - current_date;
  weekend boolean := extract(isodow from p_target) in (6, 7);
  answered jsonb;
  premium bigint;
  split bigint;
  scores jsonb;
  options jsonb;
  chosen text;
  context jsonb;
  logged uuid;
begin
  if notice < 0 or notice > 365 then
    raise exception 'targetDate: between today and a year from now' using errcode = 'PD422';
  end if;
  if p_roommate = p_user then
    raise exception 'roommateId: not the user themselves' using errcode = 'PD422';
  end if;
  perform personalized.authorize_read(p_caller, p_is_admin, p_user, 'recommend',
    jsonb_build_object('roommateId', p_roommate, 'targetDate', p_target));
  insert into personalized.users (user_id) values (p_user) on conflict do nothing;
  select * into archetype from personalized.user_archetypes where user_id = p_user;
  kind := coalesce(archetype.archetype_type, 'average_user');
  -- how this roommate answered each option asked of them by this user (decided ones)
  select coalesce(jsonb_object_agg(option, rate), '{}') into answered from (
    select r.option, round(avg((r.status = 'accepted')::integer), 2) as rate
    from personalized.date_change_requests r
    where r.user_id = p_user and r.roommate_id = p_roommate
      and r.status in ('accepted', 'declined')
    group by r.option having count(*) >= 3) as rates;
  select percentile_disc(0.5) within group (order by amount_cents) filter (where option = 'pay_premium'),
         percentile_disc(0.5) within group (order by amount_cents) filter (where option = 'split_cost')
  into premium, split
  from personalized.transactions where user_id = p_user;
  if p_personalized then
    scores := case kind
      when 'big_spender' then '{"pay_premium": 0.6, "split_cost": 0.3, "swap_dates": 0.1}'
      when 'high_flexibility' then '{"swap_dates": 0.6, "split_cost": 0.3, "pay_premium": 0.1}'
      else '{"split_cost": 0.5, "swap_dates": 0.3, "pay_premium": 0.2}' end;
    if notice <= 2 then  -- short notice: a swap is hard to find, paying gets it done
      scores := scores || jsonb_build_object(
        'pay_premium', (scores ->> 'pay_premium')::numeric + 0.2,
        'swap_dates', (scores ->> 'swap_dates')::numeric - 0.2);
    end if;
    if weekend then
      scores := scores || jsonb_build_object('swap_dates', (scores ->> 'swap_dates')::numeric - 0.1);
    end if;
    select scores || coalesce(jsonb_object_agg(key, (scores ->> key)::numeric
                                               + 0.3 * ((value::text)::numeric - 0.5)), '{}')
    into scores from jsonb_each(answered);
  else
    scores := '{"split_cost": 0.5, "swap_dates": 0.3, "pay_premium": 0.2}';
  end if;
  select jsonb_agg(jsonb_build_object(
           'option', key,
           'score', round((value::text)::numeric, 2),
           'amountCents', case key when 'pay_premium' then coalesce(premium, 2500)
                                   when 'split_cost' then coalesce(split, 1500) else 0 end)
         order by (value::text)::numeric desc, key)
  into options from jsonb_each(scores);
  chosen := options -> 0 ->> 'option';
  context := jsonb_build_object(
    'daysNotice', notice, 'weekend', weekend, 'roommateAcceptance', answered,
    'personalized', p_personalized,
    'reason', case when p_personalized then 'archetype ' || kind || ' and context'
                   else 'personalized defaults are off for this user: the default order' end);
  insert into personalized.recommendation_logs
    (user_id, requested_by, roommate_id, target_date, request, options, primary_option,
     archetype_type, personalized)
  values (p_user, p_caller, p_roommate, p_target,
          jsonb_build_object('userId', p_user, 'roommateId', p_roommate, 'targetDate', p_target),
          options, chosen, case when p_personalized then kind end, p_personalized)
  returning id into logged;
  return jsonb_build_object(
    'recommendationId', logged,
    'primaryRecommendation', options -> 0,
    'options', options,
    'userArchetype', case when p_personalized then jsonb_build_object(
      'type', kind, 'confidence', coalesce(archetype.confidence, 0),
      'computedAt', archetype.computed_at) end,
    'contextFactors', context,
    'personalized', p_personalized);
end
$$;

-- The signed-in user asks their roommate for a date change, settled by the option they chose
-- from a recommendation of theirs (which records whether they followed it).
create function personalized.submit_date_change(p_recommendation uuid, p_option text)
returns uuid language plpgsql security definer set search_path = '' as $$
declare
  me uuid := (select auth.uid());
  recommendation personalized.recommendation_logs;
  made uuid;
begin
  select * into recommendation from personalized.recommendation_logs
  where id = p_recommendation and user_id = me for update;
  if not found then  -- someone else's and missing alike
    raise exception 'no such recommendation' using errcode = 'PD404';
  end if;
  if p_option not in ('swap_dates', 'split_cost', 'pay_premium') then
    raise exception 'option: one of swap_dates, split_cost, pay_premium' using errcode = 'PD422';
  end if;
  if recommendation.followed_recommendation is not null then
    raise exception 'a date change was already submitted for it' using errcode = 'PD409';
  end if;
  insert into personalized.users (user_id) values (me), (recommendation.roommate_id)
  on conflict do nothing;
  insert into personalized.date_change_requests
    (user_id, roommate_id, target_date, option, amount_cents, recommendation_id)
  select me, recommendation.roommate_id, recommendation.target_date, p_option,
         coalesce((o ->> 'amountCents')::bigint, 0), p_recommendation
  from jsonb_array_elements(recommendation.options) o where o ->> 'option' = p_option
  returning id into made;
  update personalized.recommendation_logs
  set followed_recommendation = (p_option = recommendation.primary_option)
  where id = p_recommendation;
  return made;
end
$$;

-- The roommate accepts or declines a date change asked of them; accepting records the
-- transaction (the asking user's history).
create function personalized.decide_date_change(p_request uuid, p_accept boolean)
returns text language plpgsql security definer set search_path = '' as $$
declare
  me uuid := (select auth.uid());
  asked personalized.date_change_requests;
begin
  update personalized.date_change_requests
  set status = case when p_accept then 'accepted' else 'declined' end, decided_at = now()
  where id = p_request and roommate_id = me and status = 'submitted'
  returning * into asked;
  if not found then
    raise exception 'no such open request for you' using errcode = 'PD404';
  end if;
  if p_accept then
    insert into personalized.transactions (user_id, roommate_id, option, amount_cents, days_notice)
    values (asked.user_id, asked.roommate_id, asked.option, asked.amount_cents,
            greatest(asked.target_date - current_date, 0));
  end if;
  return asked.status;
end
$$;

-- An admin's read of archetypes (one user's, or everyone's): the Data API's way for admins to
-- read others' data, audited. Volatile: PostgREST calls it with POST, in a writable transaction.
create function personalized.admin_user_archetypes(p_user uuid default null)
returns setof personalized.user_archetypes language plpgsql volatile security definer
set search_path = '' as $$
begin
  if not personalized.is_admin() then
    raise exception 'admins only' using errcode = 'PD403';
  end if;
  insert into personalized.admin_audit_log (admin_id, action, subject_user_id, detail)
  values ((select auth.uid()), 'read_archetypes', p_user,
          jsonb_build_object('scope', case when p_user is null then 'all' else 'one' end));
  return query select * from personalized.user_archetypes a
               where p_user is null or a.user_id = p_user order by a.user_id;
end
$$;

-- Nothing here is callable by the API roles unless granted below; the functions run as the
-- service (their database URL).
revoke execute on all functions in schema personalized from public;
grant execute on function personalized.is_admin() to authenticated, service_role;
grant execute on function personalized.submit_date_change(uuid, text) to authenticated;
grant execute on function personalized.decide_date_change(uuid, boolean) to authenticated;
grant execute on function personalized.admin_user_archetypes(uuid) to authenticated;
