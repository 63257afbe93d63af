-- The audit log, anomalies and alert events took their ids from one sequence each, shared by
-- every organization: a tenant reading its own rows saw the gaps between its ids, and so how
-- much every other organization logged, detected and fired in between. Their ids are random
-- UUIDs from now on; existing rows get one too (nothing references these ids, and nothing
-- orders by them: each table is read by time, through its `at` index). The primary keys are
-- rebuilt under the file's lock: the tables are written by the hub's own jobs and functions,
-- which wait for it (one index build each), and no client inserts ids of its own.
-- squawk-ignore-file ban-drop-constraint, ban-alter-identity, adding-serial-primary-key-field, constraint-missing-not-valid
alter table observai.audit_log drop constraint audit_log_pkey;
alter table observai.audit_log alter column id drop identity;
-- supastack:destructive the counted ids are what leaked; each row keeps its content
alter table observai.audit_log alter column id set data type uuid using gen_random_uuid();
alter table observai.audit_log alter column id set default gen_random_uuid();
alter table observai.audit_log add primary key (id);

alter table observai.anomalies drop constraint anomalies_pkey;
alter table observai.anomalies alter column id drop identity;
-- supastack:destructive the counted ids are what leaked; each row keeps its content
alter table observai.anomalies alter column id set data type uuid using gen_random_uuid();
alter table observai.anomalies alter column id set default gen_random_uuid();
alter table observai.anomalies add primary key (id);

alter table observai.alert_events drop constraint alert_events_pkey;
alter table observai.alert_events alter column id drop identity;
-- supastack:destructive the counted ids are what leaked; each row keeps its content
alter table observai.alert_events alter column id set data type uuid using gen_random_uuid();
alter table observai.alert_events alter column id set default gen_random_uuid();
alter table observai.alert_events add primary key (id);
