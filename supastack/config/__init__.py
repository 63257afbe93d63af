"""Stack settings, app manifests and the plan: what a stack deploys, read and checked."""
