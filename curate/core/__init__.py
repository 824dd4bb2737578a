"""Layer 0, the stage framework and what every stage shares: the step base class and its protocol,
the stage registry, the recipe loader, text features and word splitting, and hashing."""
