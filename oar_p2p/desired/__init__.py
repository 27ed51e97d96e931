"""Desired state: what the spec asks every machine to hold."""
