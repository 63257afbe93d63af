"""The offline applier: the local stack deployed without the Pulumi CLI.

It runs the program (``__main__.py``) under Pulumi's mock runtime and applies every resource it
registers through the same providers ``pulumi up`` would use, in an order that respects only the
declared dependencies (``engine``). ``supastack local deploy`` runs it (``python -m applier``);
the e2e tests use the same engine. It is not ``pulumi up``: staging and prod need the Pulumi CLI.
Part of the Pulumi layer (it imports pulumi), so the core (``supastack/``) runs it as a process.
"""
