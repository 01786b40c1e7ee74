"""What families answer: the questionnaires, storing a response, mixing the answer tables."""
