"""Invitations: tokens, their life cycle and opting out."""
