"""PyMC models of the package and the pure IRT functions they share."""
