drop view events.active_alerts;
drop function events.get_booking_performance_summary();
drop function events.get_cron_job_history(integer);
drop function events.get_cron_job_status();
drop function events.get_system_health_summary();
drop function events.health_check_booking_system();
drop function events.health_check_database();
