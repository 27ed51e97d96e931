"""Cluster facts: the machine table, OAR parsing, inventory."""
