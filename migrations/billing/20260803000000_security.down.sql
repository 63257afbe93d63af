drop function billing.security_scan();
drop function billing.unblock(text);
drop function billing.admit(text, text);
drop function billing.block(text, text, text, text, text, jsonb);
drop table billing.blocks;
drop table billing.security_incidents;
drop table billing.security_settings;
