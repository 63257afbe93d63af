"""The stack's plan: the app graph (which app waits for which, global names checked across
apps) and the plan of one stack (every app's migrations, functions, jobs, rules, seeds, flags),
built from the settings, the manifests and the target before anything is declared."""
