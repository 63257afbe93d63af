"""Dynamic providers: Pulumi's create/diff/update/delete/read for what no provider covers.

Each provider translates resource properties to calls into ``supastack/`` and back, nothing
more; they hold no state and are pickled into the stack state by Pulumi, so they live in
importable modules (never ``__main__``). Connection strings and tokens arrive as secret inputs
and stay secret in the outputs (``additional_secret_outputs``).
"""
