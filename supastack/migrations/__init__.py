"""SQL migrations: discovery, history, the engine that applies and reverts them, and lint."""
