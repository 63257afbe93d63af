drop view monitoring.table_sizes;
drop view monitoring.slow_queries;
