"""The bidding app, deployed once by the program (offline harness) to a fresh local target, and
tested by concern: the guide's verification steps, the RLS matrix and the rules under 50
concurrent bidders, and the functions' answers."""
