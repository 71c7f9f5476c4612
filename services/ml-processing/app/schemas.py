"""Request and answer bodies of the API."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.learners import Kind
from servicekit.market import SYMBOL_PATTERN, Interval

FeatureValues = dict[str, float] | list[float]


class TrainCreate(BaseModel):
    """POST /models/train: what to train on, which kind of model, and its parameters."""

    model_config = ConfigDict(extra="forbid")

    symbol: Annotated[str, Field(pattern=SYMBOL_PATTERN)]
    interval: Interval
    model: Kind
    limit: Annotated[int | None, Field(ge=1, description="latest candles to read")] = None
    validation_fraction: Annotated[float, Field(ge=0.05, le=0.5)] = 0.2
    params: dict[str, Any] = Field(default_factory=dict)
    promote: bool = Field(default=False, description="promote the new version once trained")


class JobPublic(BaseModel):
    id: str
    kind: str
    symbol: str
    interval: str
    candles: int
    promote: bool
    state: str
    created_ms: int
    started_ms: int | None
    finished_ms: int | None
    version: int | None
    metrics: dict | None
    promoted: bool
    error: str | None


class JobAccepted(JobPublic):
    status_url: str


class ModelPublic(BaseModel):
    """A version's metadata (meta.json) and whether it is the active one."""

    model_config = ConfigDict(extra="allow")

    version: int
    kind: str
    feature_schema: list[str]
    metrics: dict
    trained_on: dict
    params: dict
    created_at: str
    active: bool


class ModelsPublic(BaseModel):
    active: int | None
    history: list[int] = Field(description="previously promoted versions, latest last")
    models: list[ModelPublic]


class ActivePublic(BaseModel):
    active: int | None
    kind: str | None
    history: list[int]


class PredictRequest(BaseModel):
    """One row: {name: value} for every schema name, or the values in schema order."""

    features: FeatureValues
    version: Annotated[int | None, Field(ge=1, description="default: the active model")] = None


class BatchPredictRequest(BaseModel):
    rows: Annotated[list[FeatureValues], Field(min_length=1)]
    version: Annotated[int | None, Field(ge=1, description="default: the active model")] = None


class PredictionPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    version: int
    kind: str
    probability: float = Field(description="P(next close > this close)")
    class_: int = Field(alias="class", description="1 when probability >= 0.5")
    cached: bool


class BatchPredictionPublic(BaseModel):
    version: int
    kind: str
    probabilities: list[float]
    classes: list[int]
    cached: int = Field(description="rows answered from the cache")


class FeaturesPublic(BaseModel):
    symbol: str
    interval: str
    schema_: list[str] = Field(alias="schema")
    start_ms: list[int]
    rows: list[list[float | None]] = Field(description="null where a feature is undefined")
