"""Operations as code: pg_cron jobs and alert rules."""
