drop function personalized.admin_user_archetypes(uuid);
drop function personalized.decide_date_change(uuid, boolean);
drop function personalized.submit_date_change(uuid, text);
drop function personalized.recommend(uuid, boolean, uuid, uuid, date, boolean);
drop function personalized.archetype_of(uuid, boolean, uuid);
drop function personalized.authorize_read(uuid, boolean, uuid, text, jsonb);
drop function personalized.is_admin();
