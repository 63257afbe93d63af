"""Delivery: the stack outputs, smoke tests, per-app verification, rollback."""
