"""Comments to quotes: de-identification, review decisions, quote exports and their CLI."""
