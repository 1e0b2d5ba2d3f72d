"""Sign-in limits that fit an office (README, "Sign-in limits"): failures are
counted per account and per address, successes never."""
