"""driftline: keep ML models healthy in production on Ray (drift monitoring, retraining, safe rollout).

Subpackages: ``platform`` (config, registry, rollout, policy, control loop, CLI), ``monitors`` (drift),
``train_jobs`` (training and retraining), ``serve_apps`` (Ray Serve application), ``datasets`` (streams).
"""

__version__ = "0.1.0"
