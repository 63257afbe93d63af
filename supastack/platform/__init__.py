"""The Supabase platform's own APIs: the Management API client, which deploys functions and
secrets and serves the database's and the project's settings."""
