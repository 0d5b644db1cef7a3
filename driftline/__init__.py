"""driftline: keep ML models healthy in production on Ray (drift monitoring, retraining, safe rollout).

Layers, bottom to top (a package imports only from those below it): ``core`` (errors, config, paths, files, stats),
``datasets`` (tables and streams), ``model`` (the artifact and the MLflow registry), ``monitors`` (drift),
``rollout`` (pure rollout logic), ``train_jobs`` (training and retraining), ``serve_apps`` (the Ray Serve data
plane), ``platform`` (policy, control loop, backtest, CLI, demo).
"""

__version__ = "0.1.0"
