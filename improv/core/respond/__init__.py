"""The partners' common shape (`Responder`), the session-learning Markov partner and its licks."""
