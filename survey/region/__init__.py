"""The region an installation serves: its care providers and the municipalities they work in."""
