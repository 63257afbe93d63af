"""Bringing what already runs under the stack: a Supabase CLI project made an app."""
