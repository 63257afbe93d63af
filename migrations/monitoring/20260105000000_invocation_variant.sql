-- Which path of a traffic migration served a call ('old' / 'new', set by a function that has
-- two; null otherwise), so a rollout's gates judge the new path by its own calls instead of
-- diluted by the old path's (at 5 % of traffic a regression would be a twentieth of itself).
alter table monitoring.function_invocations add column variant text;
