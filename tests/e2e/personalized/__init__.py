"""The personalized-defaults app, deployed once by the program (offline harness) to a fresh
local target with its synthetic population seeded, and tested by concern: archetypes,
recommendations, who may ask for what, the flag, and the stack's smoke tests."""
