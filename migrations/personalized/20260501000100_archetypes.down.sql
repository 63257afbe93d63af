drop function personalized.recalculate_all();
drop function personalized.finish_recalculation(bigint, text);
drop function personalized.pause_recalculation(bigint);
drop function personalized.recalculate_batch(bigint);
drop function personalized.start_recalculation(jsonb);
drop function personalized.is_stale(uuid);
drop function personalized.recompute_archetype(uuid, bigint);
drop function personalized.classify(jsonb);
drop function personalized.archetype_features(uuid);
