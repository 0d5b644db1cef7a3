"""driftline's config schema: one pydantic model for ``configs/local.yaml`` (and any file shaped like it).

The defaults *are* the embedded single-machine setup: local Ray, MLflow on SQLite and every file under one work
folder (``./.driftline`` unless ``DRIFTLINE_WORKDIR`` or ``--workdir`` says otherwise).

>>> cfg = DriftlineConfig()
>>> cfg.train.num_workers
1
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from driftline.core.strict import StrictModel

__all__ = [
    "ELEC2_PATH_ENV",
    "MODEL_NAME_PATTERN",
    "REPO_ROOT",
    "STATE_URL_ENV",
    "TRACKING_URI_ENV",
    "WORKDIR_ENV",
    "DataConfig",
    "DataSource",
    "DatasetConfig",
    "DeploymentResources",
    "DriftlineConfig",
    "FeatureSelection",
    "MlflowConfig",
    "ModelConfig",
    "ModelFamily",
    "Placement",
    "RayConfig",
    "ServeConfig",
    "ServedModel",
    "StateConfig",
    "Task",
    "TrainConfig",
]

WORKDIR_ENV = "DRIFTLINE_WORKDIR"
# A model's name is part of every key of its state (``m/<name>/rollout``) and of its URLs: short and URL-safe.
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$"
ELEC2_PATH_ENV = "DRIFTLINE_ELEC2_PATH"
TRACKING_URI_ENV = "DRIFTLINE_MLFLOW_TRACKING_URI"
STATE_URL_ENV = "DRIFTLINE_STATE_URL"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ELEC2_PATH = (REPO_ROOT / ".." / "shared" / "data" / "elec2" / "elec.csv").resolve()


class DataSource(str, Enum):
    SYNTHETIC = "synthetic"
    ELEC2 = "elec2"


class RayConfig(StrictModel):
    address: str | None = Field(
        default=None,
        description="Ray cluster address; null starts a local Ray (or uses RAY_ADDRESS when it is set).",
    )
    num_cpus: int | None = Field(default=None, ge=1, description="CPUs for a local Ray; null lets Ray decide.")
    log_to_driver: bool = Field(default=False, description="Stream Ray worker logs to the console (noisy).")


class MlflowConfig(StrictModel):
    tracking_uri: str | None = Field(
        default=None,
        description=f"MLflow tracking URI; null means ${TRACKING_URI_ENV}, else sqlite:///<workdir>/mlflow.db.",
    )
    registry_uri: str | None = Field(default=None, description="Model registry URI; null means the tracking URI.")
    experiment: str = Field(default="driftline", min_length=1, description="MLflow experiment for driftline runs.")
    model_name: str = Field(
        default="driftline-model",
        pattern=MODEL_NAME_PATTERN,
        description="Registered model name (1-48 letters, digits, '_', '.', '-': it keys the model's state).",
    )


class StateConfig(StrictModel):
    url: str | None = Field(
        default=None,
        description=(
            f"SQLAlchemy URL of the state database (rollout, serving, loop state, timeline); null means "
            f"${STATE_URL_ENV}, else sqlite:///<workdir>/state/driftline.db. On a cluster: "
            "postgresql+psycopg://user@host:5432/driftline (password from $PGPASSWORD or ~/.pgpass)."
        ),
    )


class DataConfig(StrictModel):
    source: DataSource = Field(default=DataSource.SYNTHETIC, description="Where training data comes from.")
    scenario: str = Field(default="concept_drift", description="Synthetic scenario name (see driftline.datasets).")
    seed: int = Field(default=7, description="Seed of the synthetic stream.")
    n_rows: int = Field(default=20_000, ge=100, description="Rows in the synthetic stream.")
    elec2_path: Path | None = Field(
        default=None,
        description=f"Path to Elec2's elec.csv; null means ${ELEC2_PATH_ENV} or ../shared/data/elec2/elec.csv.",
    )

    def resolved_elec2_path(self) -> Path:
        if self.elec2_path is not None:
            return Path(self.elec2_path).expanduser().resolve()
        env = os.environ.get(ELEC2_PATH_ENV)
        return Path(env).expanduser().resolve() if env else DEFAULT_ELEC2_PATH


class Task(str, Enum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


class FeatureSelection(StrictModel):
    """Which columns are features and of what kind; every column not named here is inferred from its type."""

    exclude: list[str] = Field(default_factory=list, description="Columns that are never features (ids, leaks).")
    categorical: list[str] = Field(default_factory=list, description="Columns forced categorical (e.g. zip codes).")
    numeric: list[str] = Field(default_factory=list, description="Columns forced numeric.")

    @model_validator(mode="after")
    def _disjoint(self) -> FeatureSelection:
        for a, b in (("exclude", "categorical"), ("exclude", "numeric"), ("categorical", "numeric")):
            both = sorted(set(getattr(self, a)) & set(getattr(self, b)))
            if both:
                raise ValueError(f"column(s) {both} are listed in both features.{a} and features.{b}; keep one")
        return self


class DatasetConfig(StrictModel):
    """The user's own table (``driftline init`` writes this section)."""

    path: str = Field(
        min_length=1,
        description="Parquet or CSV: a file, a folder or a glob, local or a pyarrow filesystem URI (s3://, gs://).",
    )
    label: str = Field(min_length=1, description="The target column.")
    task: Task | None = Field(default=None, description="binary | multiclass | regression; null infers it.")
    features: FeatureSelection = Field(
        default_factory=FeatureSelection, description="Which columns are features, and of which kind."
    )
    timestamp: str | None = Field(default=None, description="Time-order column; null keeps the table's row order.")
    id: str | None = Field(
        default=None,
        description="The business key column (an order, a transaction): sent with each request, logged, returned, "
        "never a feature; labels join on it. Null: inferred by init when one string column is unique per row.",
    )
    max_categories: int = Field(
        default=50, ge=2, description="A string column with more distinct values is refused unless declared."
    )


class ModelFamily(str, Enum):
    MLP = "mlp"
    TORCH = "torch"
    XGBOOST = "xgboost"
    PYFUNC = "pyfunc"


class ModelConfig(StrictModel):
    """Which model family driftline trains (see driftline/model/families)."""

    family: ModelFamily = Field(
        default=ModelFamily.MLP,
        description="mlp (driftline's MLP, widths in train.hidden_sizes), torch (your nn.Module), xgboost, pyfunc.",
    )
    factory: str | None = Field(
        default=None,
        description="torch family: import path of your network factory, mypkg.nets:build(n_in, n_out, **params).",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="torch: the factory's keyword arguments; xgboost: booster params (max_depth, eta, ...) plus "
        "num_boost_round (cold, default 100) and warm_rounds (continued boosting on retrain, default 30).",
    )

    uri: str | None = Field(
        default=None, description="pyfunc family: your registered MLflow model, e.g. models:/churn-sklearn/3."
    )
    retrain: str = Field(
        default="none",
        description="pyfunc family: how to retrain, `none` (you register candidates yourself) or the import path of "
        "fit(train, valid, init_model) -> model (a fitted scikit-learn estimator or an MLflow model URI), run as a "
        "Ray task.",
    )

    @model_validator(mode="after")
    def _family_needs(self) -> ModelConfig:
        if self.family is ModelFamily.TORCH and not self.factory:
            raise ValueError("model.family torch needs model.factory, e.g. mypkg.nets:build")
        if self.family is ModelFamily.PYFUNC and not self.uri:
            raise ValueError("model.family pyfunc needs model.uri, e.g. models:/churn-sklearn/3")
        return self


class TrainConfig(StrictModel):
    num_workers: int = Field(default=1, ge=1, description="Ray Train workers (data-parallel ranks).")
    cpus_per_worker: float = Field(default=1.0, gt=0, description="CPUs each Ray Train worker reserves.")
    train_rows: int = Field(default=5_000, ge=50, description="Rows of the stream's start used to train the champion.")
    validation_fraction: float = Field(default=0.2, gt=0, lt=1, description="Share held out for validation.")
    epochs: int = Field(default=8, ge=1, description="Passes over the training data.")
    batch_size: int = Field(default=128, ge=1, description="Rows per optimiser step on each worker.")
    learning_rate: float = Field(default=3e-3, gt=0, description="Adam learning rate.")
    hidden_sizes: tuple[int, ...] = Field(default=(32, 16), description="Hidden layer widths of the MLP.")
    seed: int = Field(default=0, description="Seed for weights and shuffling.")

    @field_validator("hidden_sizes")
    @classmethod
    def _positive_widths(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(w < 1 for w in value):
            raise ValueError("hidden_sizes must be a non-empty list of positive integers, e.g. [32, 16]")
        return value


class Autoscaling(StrictModel):
    """Ray Serve autoscaling of one deployment: replicas follow the requests in flight per replica."""

    min_replicas: int = Field(default=1, ge=1, description="Fewest replicas (an idle model slot shrinks to this).")
    max_replicas: int = Field(default=4, ge=1, description="Most replicas.")
    target_ongoing_requests: float = Field(
        default=4.0, gt=0, description="Requests in flight per replica that the autoscaler aims for."
    )
    upscale_delay_s: float = Field(default=3.0, ge=0, description="How long load must stay high before scaling out.")
    downscale_delay_s: float = Field(default=30.0, ge=0, description="How long load must stay low before scaling in.")
    look_back_period_s: float = Field(default=30.0, gt=0, description="The load is averaged over this window.")
    metrics_interval_s: float = Field(default=10.0, gt=0, description="How often the load is sampled.")

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) exceeds max_replicas ({self.max_replicas})")
        if self.look_back_period_s <= self.metrics_interval_s:
            raise ValueError(
                f"look_back_period_s ({self.look_back_period_s}) must exceed metrics_interval_s "
                f"({self.metrics_interval_s}): the load is averaged over several samples"
            )
        return self

    def to_serve(self) -> dict[str, Any]:
        """The ``autoscaling_config`` of ``serve.deployment``."""
        return self.model_dump()


class DeploymentResources(StrictModel):
    num_replicas: int = Field(default=1, ge=1, description="Replicas of this deployment (when not autoscaling).")
    num_cpus: float = Field(default=0.25, ge=0, description="CPUs each replica reserves (fractional fits 2 cores).")
    max_ongoing_requests: int = Field(default=64, ge=1, description="Concurrent requests per replica.")
    autoscaling: Autoscaling | None = Field(
        default=None, description="Scale between min and max replicas with the load; replaces num_replicas."
    )

    def replicas(self) -> dict[str, Any]:
        """``num_replicas`` or ``autoscaling_config``, as ``serve.deployment`` takes them."""
        if self.autoscaling is None:
            return {"num_replicas": self.num_replicas}
        return {"autoscaling_config": self.autoscaling.to_serve()}


class ModelBatching(StrictModel):
    """Concurrent requests to one model version are answered as one batch (``serve_apps/micro_batch.py``)."""

    max_batch_size: int = Field(default=16, ge=1, description="Most requests in one model call (1 turns it off).")
    wait_seconds: float = Field(
        default=0.002, ge=0, description="Longest a request waits for others to join its batch."
    )


class Placement(str, Enum):
    """Where a served model's champion and candidate run."""

    INLINE = "inline"  # inside every ingress replica: one hop, for models of kilobytes to a few hundred megabytes
    REMOTE = "remote"  # slot deployments behind the ingress: large models, GPUs, a candidate scaled on its own


class ServedModel(StrictModel):
    """One model of an application: its name in URLs (``/models/{name}/predict``), the registered model it serves
    (default: the same name) and where its versions run (default: ``serve.placement``)."""

    name: str = Field(pattern=MODEL_NAME_PATTERN, description="The model's name in URLs, logs and metrics.")
    registered_model: str | None = Field(
        default=None, pattern=MODEL_NAME_PATTERN, description="Registered MLflow model; default: name."
    )
    placement: Placement | None = Field(default=None, description="inline or remote; default: serve.placement.")

    @property
    def registered(self) -> str:
        return self.registered_model or self.name


class ServeConfig(StrictModel):
    host: str = Field(default="127.0.0.1", description="HTTP host the Serve proxy binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="HTTP port; 0 picks a free one.")
    app_name: str = Field(default="driftline", min_length=1, description="Serve application name.")
    route_prefix: str = Field(default="/", description="Route prefix of the application.")
    max_batch_rows: int = Field(default=1_000, ge=1, description="Largest batch /predict accepts (else 413).")
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest request body, checked before parsing (else 413)."
    )
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A model call slower than this counts as an error of its variant."
    )
    placement: Placement = Field(
        default=Placement.INLINE,
        description=(
            "inline: the ingress replicas hold the champion and candidate (no second hop); remote: slot deployments "
            "sized by serve.model serve them."
        ),
    )
    models: list[ServedModel] = Field(
        default_factory=list,
        description=(
            "The models this application serves, each at /models/{name}/... (and the v2 protocol's "
            "/v2/models/{name}/...); empty: the one model mlflow.model_name, also at /predict and /feedback."
        ),
    )
    router: DeploymentResources = Field(
        default_factory=DeploymentResources, description="The router deployment: replicas, CPUs, autoscaling."
    )
    model: DeploymentResources = Field(
        default_factory=DeploymentResources, description="Each model slot deployment of placement remote."
    )
    batching: ModelBatching = Field(
        default_factory=ModelBatching, description="Concurrent calls to one version answered in one model call."
    )
    admin_token: str | None = Field(
        default=None, description="Bearer token of the admin API; prefer $DRIFTLINE_ADMIN_TOKEN. None disables it."
    )
    labeller_token: str | None = Field(
        default=None,
        description="Bearer token of trusted label pipelines: labels by business key or request id, no rollouts; "
        "prefer $DRIFTLINE_LABELLER_TOKEN (or its digest, $DRIFTLINE_LABELLER_TOKEN_SHA256). The admin token also "
        "labels.",
    )
    shadow_timeout_seconds: float = Field(default=2.0, gt=0, description="A shadow call slower than this is dropped.")
    shadow_max_in_flight: int = Field(default=32, ge=1, description="Shadow calls beyond this are skipped, not queued.")
    poll_seconds: float = Field(default=0.5, gt=0, description="How often routers and replicas re-read serving state.")
    log_flush_rows: int = Field(default=2_000, ge=1, description="Prediction-log rows buffered before a flush.")
    log_flush_seconds: float = Field(default=2.0, gt=0, description="Longest time a log record waits in memory.")
    log_rescan_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often the log writer takes in log files it did not write (driftline score's batch "
        "predictions), so labels by id join them.",
    )
    score_batch_rows: int = Field(default=4_096, ge=1, description="Rows per model call in driftline score.")
    feedback_window_hours: float = Field(
        default=48.0,
        gt=0,
        description=(
            "A prediction can be labelled for this many hours after it was made (days: 168 is a week); a later "
            "label answers 410 expired. Every prediction in the window stays labellable whatever the traffic: "
            "the log writer checks labels against an on-disk index, with memory independent of the window."
        ),
    )
    label_index_dir: Path | None = Field(
        default=None,
        description=(
            "Folder of the log writer's on-disk label index (default <workdir>/logs/label_index). On a cluster "
            "whose work folder is a network file system, point it at a node-local disk: SQLite must not run over "
            "NFS; a writer started on another node rebuilds the index from the window's logs."
        ),
    )

    @model_validator(mode="after")
    def _models_distinct(self) -> ServeConfig:
        for what, values in (
            ("name", [m.name for m in self.models]),
            ("registered model", [m.registered for m in self.models]),
        ):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"serve.models: the {what} {', '.join(twice)} appears more than once; each model once")
        return self

    @model_validator(mode="after")
    def _batches_fit(self) -> ServeConfig:
        if self.model.max_ongoing_requests < self.batching.max_batch_size:
            raise ValueError(
                f"model.max_ongoing_requests ({self.model.max_ongoing_requests}) is below batching.max_batch_size "
                f"({self.batching.max_batch_size}): a batch could never fill; raise the first or lower the second"
            )
        return self


class DriftlineConfig(StrictModel):
    """The whole config; every section has single-machine defaults."""

    workdir: Path = Field(
        default=Path(".driftline"),
        description=f"Work folder for MLflow's database, artifacts, logs and state (env ${WORKDIR_ENV} overrides).",
    )
    ray: RayConfig = Field(default_factory=RayConfig, description="Which Ray to use (local or a cluster).")
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig, description="Tracking, registry, model name.")
    data: DataConfig = Field(
        default_factory=DataConfig, description="The built-in streams (synthetic, Elec2) when no dataset is given."
    )
    dataset: DatasetConfig | None = Field(
        default=None, description="The user's own table; when set, it replaces data (the synthetic or Elec2 stream)."
    )
    model: ModelConfig = Field(default_factory=ModelConfig, description="The model family and its settings.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training the champion on Ray Train.")
    serve: ServeConfig = Field(default_factory=ServeConfig, description="The Serve application and its models.")
    state: StateConfig = Field(
        default_factory=StateConfig, description="The state database (rollouts, serving, loop, timeline)."
    )

    @property
    def workdir_path(self) -> Path:
        return Path(self.workdir).expanduser().resolve()

    @property
    def tracking_uri(self) -> str:
        # Not MLFLOW_TRACKING_URI: mlflow.set_tracking_uri() rewrites that variable in-process whenever any URI is
        # set, so it would leak one config's store into the next.
        env = os.environ.get(TRACKING_URI_ENV)
        return self.mlflow.tracking_uri or env or f"sqlite:///{self.workdir_path / 'mlflow.db'}"

    @property
    def state_url(self) -> str:
        env = os.environ.get(STATE_URL_ENV)
        return self.state.url or env or f"sqlite:///{self.workdir_path / 'state' / 'driftline.db'}"

    @property
    def registry_uri(self) -> str:
        return self.mlflow.registry_uri or self.tracking_uri

    @property
    def artifact_root(self) -> Path:
        return self.workdir_path / "artifacts"

    def served_models(self) -> list[ServedModel]:
        """The models the Serve application serves, each with its placement resolved."""
        models = self.serve.models or [ServedModel(name=self.mlflow.model_name)]
        return [m.model_copy(update={"placement": m.placement or self.serve.placement}) for m in models]

    def for_model(self, model: ServedModel) -> DriftlineConfig:
        """This config seen from one served model: ``mlflow.model_name`` is its registered model (the registry, the
        state and the logs of that view are the model's own)."""
        if model.registered == self.mlflow.model_name:
            return self
        return self.model_copy(update={"mlflow": self.mlflow.model_copy(update={"model_name": model.registered})})

    def with_overrides(self, **changes: Any) -> DriftlineConfig:
        """Return a copy with dotted-path overrides applied and validated, e.g. ``{"serve.port": 0}``."""
        data = self.model_dump(mode="python")
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node[key]
            node[leaf] = value
        return DriftlineConfig.model_validate(data)
