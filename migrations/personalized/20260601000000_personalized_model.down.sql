drop table personalized.archetype_job_logs;
drop table personalized.admin_audit_log;
drop table personalized.date_change_requests;
drop table personalized.recommendation_logs;
drop table personalized.user_archetypes;
drop table personalized.transactions;
drop table personalized.roommates;
drop table personalized.users;
