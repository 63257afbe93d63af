"""Dynamic resources of the flags concern (``supastack/flags/``)."""
