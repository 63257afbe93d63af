"""Edge functions: packaging, the Management API client, function secrets, drains."""
