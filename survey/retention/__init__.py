"""How long data is kept: purging contact data, coarsening episodes, erasing old answers."""
