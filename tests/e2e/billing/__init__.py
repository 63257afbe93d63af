"""The billing app, deployed once by the program (offline harness) to a fresh local target
with a local Stripe and e-mail provider, and tested by concern: the webhook pipeline, the
subscription and quote functions, the guard, and the operations functions and smoke tests."""
