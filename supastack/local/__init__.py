"""The embedded ``local`` target: a Postgres 15 cluster and the edge runtime, on this machine."""
