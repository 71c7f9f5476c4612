"""Build, start, test and measure the tiered platform: one module per concern."""
