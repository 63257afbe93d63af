"""Dynamic resources of the migrations concern (``supastack/migrations/``)."""
