"""Feature flags as code and gated rollouts (docs/flags-and-rollouts.md)."""
