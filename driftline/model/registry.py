"""The MLflow adapter: log a bundle as an MLflow pyfunc model, register versions, move aliases, load them back.

Everything driftline asks of MLflow goes through :class:`ModelRegistry` (model versions, aliases, and the runs
that drift reports log), so the rest of the code never imports mlflow directly. A model version's directory holds
``artifacts/bundle.pt`` (the torch bundle) and ``artifacts/reference_profile.json`` (the drift reference), and
loads with ``mlflow.pyfunc.load_model`` too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from driftline.core.config import DriftlineConfig
from driftline.core.errors import ModelNotFoundError, RegistryError
from driftline.model.bundle import ModelBundle

__all__ = [
    "CANDIDATE",
    "CHAMPION",
    "DriftlinePyfunc",
    "ModelRegistry",
    "RegisteredVersion",
    "alias_uri",
    "load_profile_json",
]

CHAMPION = "champion"
CANDIDATE = "candidate"
_BUNDLE = "bundle"


def alias_uri(model_name: str, alias: str = CHAMPION) -> str:
    """The MLflow URI of a model's alias.

    >>> alias_uri("driftline-model")
    'models:/driftline-model@champion'
    """
    return f"models:/{model_name}@{alias}"


_PROFILE = "reference_profile"

try:
    import mlflow.pyfunc

    _PythonModel: Any = mlflow.pyfunc.PythonModel
except ImportError:  # pragma: no cover - mlflow is a hard dependency
    _PythonModel = object


class DriftlinePyfunc(_PythonModel):  # type: ignore[misc]
    """MLflow pyfunc face of a bundle: ``predict(frame)`` returns the predicted class and class probabilities (for
    regression, the predicted number)."""

    def load_context(self, context: Any) -> None:
        self.bundle = ModelBundle.from_bytes(Path(context.artifacts[_BUNDLE]).read_bytes())

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        if self.bundle.is_regression:
            return pd.DataFrame({"prediction": self.bundle.predict_values(model_input)})
        proba = self.bundle.predict_proba(model_input)
        out = pd.DataFrame({f"proba_{c}": proba[:, i] for i, c in enumerate(self.bundle.classes)})
        out.insert(0, "prediction", [self.bundle.classes[i] for i in proba.argmax(axis=1)])
        return out


def _requirements() -> list[str]:
    """What a fresh environment needs to load the model: this exact driftline (its bundle format) and torch."""
    from importlib.metadata import version

    return [f"driftline=={version('driftline')}", f"torch=={version('torch')}", "pandas", "numpy"]


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class ModelRegistry:
    """Narrow adapter over MLflow tracking + registry for one registered model name."""

    def __init__(self, cfg: DriftlineConfig) -> None:
        import mlflow
        from mlflow import MlflowClient

        self.cfg = cfg
        self.name = cfg.mlflow.model_name
        cfg.workdir_path.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(cfg.tracking_uri)
        mlflow.set_registry_uri(cfg.registry_uri)
        self._mlflow = mlflow
        self.client = MlflowClient(tracking_uri=cfg.tracking_uri, registry_uri=cfg.registry_uri)

    @property
    def champion_uri(self) -> str:
        return alias_uri(self.name, CHAMPION)

    def experiment_id(self) -> str:
        """The driftline experiment, created with its artifacts under the work folder when it is new."""
        try:
            found = self.client.get_experiment_by_name(self.cfg.mlflow.experiment)
            if found is not None:
                return str(found.experiment_id)
            location = None
            if self.cfg.tracking_uri.startswith("sqlite:"):
                location = self.cfg.artifact_root.as_uri()  # absolute, so Serve replicas in other cwd's find it
            return str(self.client.create_experiment(self.cfg.mlflow.experiment, artifact_location=location))
        except Exception as exc:
            raise RegistryError(
                f"MLflow at {self.cfg.tracking_uri} is not usable: {exc}",
                "Check mlflow.tracking_uri in the config (is the server up, is the path writable?).",
            ) from exc

    def register(
        self,
        bundle: ModelBundle,
        *,
        profile_json: str,
        example: pd.DataFrame,
        metrics: dict[str, float],
        params: dict[str, Any],
        tags: dict[str, str],
        run_name: str,
    ) -> RegisteredVersion:
        """Log ``bundle`` as a pyfunc model in a new run and register it as the next version (no alias set)."""
        from mlflow.models import infer_signature

        pyfunc = DriftlinePyfunc()
        pyfunc.bundle = bundle
        features = example[list(bundle.preprocessor.schema.feature_names)].head(5)
        signature = infer_signature(features, pyfunc.predict(None, features))
        with (
            tempfile.TemporaryDirectory() as tmp,
            self._mlflow.start_run(experiment_id=self.experiment_id(), run_name=run_name) as run,
        ):
            bundle_path, profile_path = Path(tmp) / "bundle.pt", Path(tmp) / "reference_profile.json"
            bundle_path.write_bytes(bundle.to_bytes())
            profile_path.write_text(profile_json)
            self._mlflow.log_params(params)
            self._mlflow.log_metrics(metrics)
            self._mlflow.set_tags(tags)
            info = self._mlflow.pyfunc.log_model(
                name="model",
                python_model=pyfunc,
                artifacts={_BUNDLE: str(bundle_path), _PROFILE: str(profile_path)},
                signature=signature,
                pip_requirements=_requirements() + self._inner_requirements(bundle),
            )
            # One registry call creates the version with all its tags (a tag per call cost ~35 ms each).
            registered = self._mlflow.register_model(info.model_uri, self.name, tags=tags)
        return RegisteredVersion(self.name, str(registered.version), run.info.run_id)

    def log_estimator(self, estimator: Any, run_name: str) -> str:
        """Log a fitted scikit-learn-style estimator (a pyfunc-family retrain's result) as an MLflow model; its URI."""
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
            raise RegistryError(
                f"The retrain function returned {type(estimator).__name__}, which driftline cannot log.",
                "Return a fitted scikit-learn estimator, or log the model yourself and return its MLflow URI.",
            )
        with self._mlflow.start_run(experiment_id=self.experiment_id(), run_name=run_name):
            info = self._mlflow.sklearn.log_model(sk_model=estimator, name="model")
        return str(info.model_uri)

    def _inner_requirements(self, bundle: ModelBundle) -> list[str]:
        """pyfunc family: what the user's own MLflow model needs (its requirements.txt), so a fresh environment that
        installs this version's requirements can load it; nothing for the other families."""
        if bundle.family != "pyfunc":
            return []
        try:
            text = Path(self._mlflow.artifacts.download_artifacts(f"{bundle.uri}/requirements.txt")).read_text()
        except Exception:  # a model logged without requirements: nothing to add
            return []
        own = ("driftline", "torch", "pandas", "numpy")
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(("#", "-"))]
        return [line for line in lines if not line.lower().startswith(own)]

    def set_alias(self, alias: str, version: str, reason: str = "") -> None:
        """Point ``alias`` at ``version``, then record the move and its ``reason`` on the timeline (MLflow keeps no
        history of aliases; ``driftline history`` reads this one)."""
        from driftline.core.alias_history import ALIAS_SET
        from driftline.core.state_db import model_state
        from driftline.core.timeline import Timeline

        previous = self.alias_version(alias)
        self.client.set_registered_model_alias(self.name, alias, version)
        if previous != str(version):
            message = f"{self.name}@{alias} -> v{version}" + (f": {reason}" if reason else "")
            Timeline(model_state(self.cfg)).append(
                ALIAS_SET, message, alias=alias, version=str(version), previous=previous, model=self.name, reason=reason
            )

    def delete_alias(self, alias: str) -> None:
        if self.alias_version(alias) is not None:
            self.client.delete_registered_model_alias(self.name, alias)

    def alias_version(self, alias: str) -> str | None:
        """The version behind ``alias``, None when the model or the alias does not exist; an outage raises."""
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.name, alias).version)
        except Exception as exc:  # a connection error or a timeout is an outage, never "no such alias"
            missing = getattr(exc, "error_code", None) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")
            if isinstance(exc, MlflowException) and missing and "not found" in str(exc):
                return None
            raise RegistryError(
                f"MLflow at {self.cfg.registry_uri} is unreachable or refused alias {alias!r} of {self.name!r}: "
                f"{type(exc).__name__}: {exc}",
                "Check that the MLflow server is up (config mlflow.tracking_uri); driftline retries at the next tick.",
            ) from None

    def resolve(self, model_uri: str) -> str:
        """Version number behind ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` (or a bare version/alias)."""
        ref = model_uri.removeprefix(f"models:/{self.name}")
        ref = ref.lstrip("/")
        if ref.startswith("@"):
            version = self.alias_version(ref[1:])
            if version is None:
                raise ModelNotFoundError(
                    f"Registered model {self.name!r} has no alias {ref[1:]!r}.",
                    "Train and register one first: `driftline train`.",
                )
            return version
        if ref.isdigit():
            return ref
        if model_uri.startswith("models:/"):
            raise ModelNotFoundError(f"{model_uri!r} is not a model of {self.name!r}.", f"Use {self.champion_uri}.")
        return self.resolve(f"models:/{self.name}@{model_uri}")

    def _download(self, version: str, tmp: str) -> Path:
        try:
            return Path(
                self._mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{self.name}/{version}", dst_path=tmp)
            )
        except Exception as exc:
            raise ModelNotFoundError(
                f"Could not load version {version} of {self.name!r} from {self.cfg.registry_uri}: {exc}",
                "Check the version exists (`driftline models`) and the artifact store is reachable.",
            ) from exc

    def load_bundle(self, model_uri: str) -> tuple[ModelBundle, str]:
        version = self.resolve(model_uri)
        with tempfile.TemporaryDirectory() as tmp:
            folder = self._download(version, tmp)
            return ModelBundle.from_bytes((folder / "artifacts" / "bundle.pt").read_bytes()), version

    def load_profile_json(self, model_uri: str) -> str:
        version = self.resolve(model_uri)
        with tempfile.TemporaryDirectory() as tmp:
            return (self._download(version, tmp) / "artifacts" / "reference_profile.json").read_text()

    def log_run(
        self,
        run_name: str,
        write_files: Callable[[str], Path],
        metrics: Callable[[], dict[str, float]],
        tags: dict[str, str],
        artifact_path: str,
    ) -> str:
        """One tracking run in the driftline experiment: ``write_files(run_id)`` writes a folder that is logged as
        artifacts under ``artifact_path``, then ``metrics()`` and ``tags`` are logged. Returns the run id."""
        from mlflow.exceptions import MlflowException

        try:
            with self._mlflow.start_run(experiment_id=self.experiment_id(), run_name=run_name) as run:
                folder = write_files(str(run.info.run_id))
                self._mlflow.log_metrics(metrics())
                self._mlflow.set_tags(tags)
                self._mlflow.log_artifacts(str(folder), artifact_path=artifact_path)
                return str(run.info.run_id)
        except MlflowException as exc:
            raise RegistryError(
                f"Could not log run {run_name!r} to MLflow at {self.cfg.tracking_uri}: {exc}.",
                "Check the tracking URI (config mlflow.tracking_uri) or pass --no-mlflow.",
            ) from None

    def version_tags(self, version: str) -> dict[str, str]:
        return dict(self.client.get_model_version(self.name, version).tags)


def load_profile_json(model_uri: str, cfg: DriftlineConfig) -> str:
    """The reference profile (JSON) stored with the model version behind ``model_uri``."""
    if model_uri.startswith("models:/"):
        name = model_uri.removeprefix("models:/").split("@")[0].split("/")[0]
        cfg = cfg.with_overrides(**{"mlflow.model_name": name})
    return ModelRegistry(cfg).load_profile_json(model_uri)
