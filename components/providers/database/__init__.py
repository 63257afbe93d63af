"""Dynamic resources of the database concern (``supastack/database/``)."""
