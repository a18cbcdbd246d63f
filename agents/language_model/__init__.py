"""The language-model world of seed 000: Markov-chain data, the batched MLP, gradient descent and annealing, schedules, perturbations."""
