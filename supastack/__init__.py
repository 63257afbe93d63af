"""supastack core: everything that decides something or talks to a database or an API.

This package never imports :mod:`pulumi`; the Pulumi layer lives in ``components/`` and
delegates every decision here, so all of it can be tested against real services.
"""
