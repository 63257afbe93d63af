-- The guide's default organization (its seed.sql), on the stacks that seed (local, staging;
-- never prod). Its id is a fixed UUID: the guide's 'default-org-uuid' is not one. Members and
-- API keys are added by people, never by a seed: a key in a file would be a key in git.
insert into observai.organizations (id, name, slug, tier)
values ('00000000-0000-4000-8000-00000000da7a', 'Default Organization', 'default', 'free')
on conflict do nothing;
