"""Passwords: the rules a new one meets, the reset by email, and changing it."""
