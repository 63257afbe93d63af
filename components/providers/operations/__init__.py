"""Dynamic resources of the operations concern (``supastack/operations/``)."""
