"""How the benchmark parts measure: builds, starts, memory and layers, in-process benchmarks,
streaming and the AI tiers, each against the engine or the running stack."""
