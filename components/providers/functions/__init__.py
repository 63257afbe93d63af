"""Dynamic resources of the functions concern (``supastack/functions/``)."""
