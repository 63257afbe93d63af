"""The events app, deployed once by the program (offline harness) to a fresh local target with a
local Stripe and e-mail provider, and tested by concern: bookings (capacity, idempotency,
cancellation, promotion), payments, the schema (data migration, partitions, RLS), search and
the jobs."""
