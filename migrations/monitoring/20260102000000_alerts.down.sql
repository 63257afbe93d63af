drop function monitoring.evaluate_alerts();
drop function monitoring.notify(monitoring.alert_rules, text, double precision);
drop function monitoring.metric_value(text, interval);
drop function monitoring.cron_failures(text, interval);
drop function monitoring.function_p95_ms(text, interval);
drop function monitoring.function_error_rate(text, interval);
drop table monitoring.alert_events;
drop table monitoring.alert_rules;
drop table monitoring.alert_channels;
