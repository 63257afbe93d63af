drop view personalized.request_conversion;
drop view personalized.follow_rate_by_archetype;
drop view personalized.follow_rate_hourly;
drop view personalized.edge_function_logs;
