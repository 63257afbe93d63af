drop function billing.validate_production(boolean);
drop function billing.monthly_cost(date);
drop function billing.record_costs(date);
drop function billing.migration_paths(text, interval);
drop function billing.performance_summary(interval);
drop table billing.traffic_halts;
drop table billing.cost_metrics;
drop table billing.cost_plan;
drop table billing.performance_targets;
