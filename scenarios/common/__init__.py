"""Setups shared by several scenarios (the Markov data of the gradient-descent scenarios, the maze plots)."""
