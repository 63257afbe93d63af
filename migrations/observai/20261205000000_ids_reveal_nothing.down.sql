-- Back to counted ids (new ones: a UUID cannot become the number it never was).
alter table observai.audit_log drop constraint audit_log_pkey;
-- supastack:destructive the random ids give way to counted ones; each row keeps its content
alter table observai.audit_log drop column id;
alter table observai.audit_log add column id bigint generated always as identity primary key;

alter table observai.anomalies drop constraint anomalies_pkey;
-- supastack:destructive the random ids give way to counted ones; each row keeps its content
alter table observai.anomalies drop column id;
alter table observai.anomalies add column id bigint generated always as identity primary key;

alter table observai.alert_events drop constraint alert_events_pkey;
-- supastack:destructive the random ids give way to counted ones; each row keeps its content
alter table observai.alert_events drop column id;
alter table observai.alert_events add column id bigint generated always as identity primary key;
