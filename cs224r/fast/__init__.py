"""Fast multi-seed training: S seeds as one stacked model on one device, numerically the reference per seed.

``cs224r.fast.awac.FastAWAC`` is the update; ``cs224r.fast.multi_seed_trainer`` runs it with per-seed logs;
``cs224r.fast.members`` lets the members differ in the hyperparameters (a sweep as one model).
The readable reference implementation stays in ``cs224r.agents`` / ``cs224r.critics`` / ``cs224r.policies``.
"""
