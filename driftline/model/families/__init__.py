"""Model families: what a bundle's model is and how it predicts, one file each.

- ``mlp``: driftline's torch MLP (``model/bundle.py``'s :class:`TabularMLP`), the default.
- ``torch``: the user's own ``nn.Module``, built by a factory named by import path (``torch_factory.py``).
- ``xgboost``: a gradient-boosted booster; warm start is continued boosting (``xgboost_booster.py``).
- ``pyfunc``: any MLflow model the user registered, loaded by URI (``pyfunc_model.py``).

Every family lives in the same :class:`~driftline.model.bundle.ModelBundle` (preprocessor, classes, and the weights,
the booster or the URI), so registry, serving and monitoring see one contract: ``predict_proba(frame)``,
``predictor()``, ``to_bytes``/``from_bytes``. ``train_jobs/family_fit.py`` trains any of them.
"""
