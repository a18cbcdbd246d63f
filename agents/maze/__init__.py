"""The maze world of seeds 001-003, one idea per module.

grid (mazes and their distributions), env (the Gymnasium-style environment), env_checker
(check_env, a composition of named checks), errors, policies (random walk, shortest path),
rollout (episodes of any checked environment, rollouts of maze policies), objectives
(objectives on episode states, how alike two objectives are), planning (exact, bounded and
soft value iteration), reward_network (the planner's learned reward and its imitation
loss), planner (the learned mesa-optimizer, its settings and deployments), planner_training
(gradient descent trains the planners: the base optimizer's run, whose product they are),
reachability (seed 001), episodes (deployments as graph leaves), reactive (a trained policy
that does not search), replicator (the self-replicator of Example 5), irl (max-ent IRL: the
behavioral objective).
"""
