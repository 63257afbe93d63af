drop function events.refresh_all_materialized_views();
drop materialized view events.org_analytics_mv;
drop materialized view events.instructor_schedule_mv;
drop materialized view events.customer_dashboard_mv;
drop materialized view events.event_search_mv;
