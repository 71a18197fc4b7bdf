"""The partner's side of a session: building a responder and reading ahead in the player's rests."""
