drop function observai.latest_minutes(uuid);
drop function observai.check_alerts();
drop function observai.delete_alert(bytea, uuid, text, uuid);
drop function observai.save_alert(bytea, uuid, text, uuid, jsonb);
drop function observai.list_alerts(bytea, uuid, text);
drop function observai.alert_json(observai.alert_definitions);
drop table observai.alert_events;
drop table observai.alert_definitions;
