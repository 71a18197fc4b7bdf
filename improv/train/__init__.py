"""Training and evaluation of the phrase model: the only place torch is needed."""
