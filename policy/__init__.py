"""supastack's CrossGuard policy pack; the validators are in :mod:`policy.validators`."""
