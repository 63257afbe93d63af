drop function monitoring.take_token(text, integer, double precision);
drop table monitoring.rate_limit_buckets;
drop table monitoring.function_invocations;
