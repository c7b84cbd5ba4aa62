"""Multi-objective vocabulary and math: objectives and their directions, non-dominated sorting,
crowding, hypervolume against a declared reference point."""
