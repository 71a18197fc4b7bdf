"""The phrase model at inference: tokens and inputs, numpy weights and decoder, the model responder, the n-gram baseline."""
