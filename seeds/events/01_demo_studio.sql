-- A demo studio for the local stack: an organization, a location, an instructor and two weekly
-- series; their events for the next 120 days come from the generator (as the daily job does).
insert into events.organizations (id, slug, name, path, branding) values
  ('0b5c7f4e-0000-4000-8000-000000000001', 'demo-studio', 'Demo Studio', 'demo_studio',
   '{"color": "#0f766e"}');
insert into events.locations (id, org_id, name, address) values
  ('0b5c7f4e-0000-4000-8000-000000000002', '0b5c7f4e-0000-4000-8000-000000000001',
   'Main room', 'Bahnhofstrasse 1, Zurich');
insert into events.instructors (id, org_id, name) values
  ('0b5c7f4e-0000-4000-8000-000000000003', '0b5c7f4e-0000-4000-8000-000000000001', 'Alex');
insert into events.class_series (org_id, location_id, instructor_id, title, weekdays, start_time,
  duration, starts_on, capacity, price_cents) values
  ('0b5c7f4e-0000-4000-8000-000000000001', '0b5c7f4e-0000-4000-8000-000000000002',
   '0b5c7f4e-0000-4000-8000-000000000003', 'Morning yoga', '{1,3,5}', '07:30', '1 hour',
   current_date, 20, 0),
  ('0b5c7f4e-0000-4000-8000-000000000001', '0b5c7f4e-0000-4000-8000-000000000002',
   '0b5c7f4e-0000-4000-8000-000000000003', 'Evening spin', '{2,4}', '18:00', '45 minutes',
   current_date, 12, 2500);
select events.generate_events_for_all(current_date + 120);
