"""How the networks keep and lose information: the memory lens, typical values, the distance probe,
the long-range lab, state space and fixed points, the unit explorer, interventions, what-if edits,
ablation, and the bundled models' shipped results."""
