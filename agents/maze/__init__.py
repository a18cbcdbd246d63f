"""The maze world of seeds 001-003: the grid, its Gymnasium-style environment, objectives, the learned planner (a mesa-optimizer), the reactive policy, the self-replicator, max-ent IRL."""
