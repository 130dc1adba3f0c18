"""Neural and analytic models: energy and score networks, noise-conditional variants, test targets."""
