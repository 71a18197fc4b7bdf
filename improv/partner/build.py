"""Building the partner a session plays with: one function, so the learned model plugs in
with one line. The model loads with numpy alone (no torch)."""

from __future__ import annotations

import random

from improv.config import ResponderSettings
from improv.core.respond.base import Responder
from improv.errors import ConfigError, ModelError


def make_responder(settings: ResponderSettings, seed: int | None = None) -> Responder:
    """The partner named in the settings ("markov" or "model"), imported only when chosen.

    Raises:
        ModelError: the learned model is missing or cannot load (one line).
        ConfigError: an unknown responder name.
    """
    seed = session_seed(settings) if seed is None else seed
    if settings.name == "markov":
        from improv.core.respond.markov import MarkovResponder

        return MarkovResponder(order=settings.markov_order, seed=seed)
    if settings.name == "model":
        try:
            from improv.core.model.responder import ModelResponder
        except ImportError as e:
            raise ModelError(f"the learned model responder is not available ({e}); use --responder markov") from None
        return ModelResponder.load(settings.model or None)
    raise ConfigError(f"responder.name: expected 'markov' or 'model', found {settings.name!r}")


def session_seed(settings: ResponderSettings) -> int:
    """The configured seed, or a fresh one when it is -1."""
    return settings.seed if settings.seed >= 0 else random.SystemRandom().randrange(2**31)
