"""Postgres: connections, SQL text, settings, access rules, Vault, backups, advisors."""
