"""Ended care trajectories: reading and validating the CSV, importing it, its CLI."""
