"""Each kind's serving path equals its library's own predict, before and after save/load."""

import numpy as np
import pytest

from app import features, learners, training
from tests.utils import frame_to_candles, real_series

QUICK = {"xgboost": {"n_estimators": 25}, "catboost": {"iterations": 25}, "sklearn": {}}


@pytest.fixture(scope="module")
def data() -> training.Dataset:
    frame = real_series("EURUSD").iloc[:1200]
    return training.prepare(frame_to_candles("EURUSD", "1h", frame), 0.2)


@pytest.mark.parametrize("kind", learners.KINDS)
def test_fast_path_equals_library_predict(data: training.Dataset, kind: str, tmp_path) -> None:
    params = learners.PARAMS[kind].model_validate(QUICK[kind])
    learner = learners.fit(kind, data.x_train, data.y_train, params, features.FEATURES, 2)
    x = data.x_valid
    reference = learner.reference_predict(x)
    assert reference.shape == (len(x),) and np.all((reference > 0) & (reference < 1))
    # Batches: the very same numbers. One row at a time: the same too.
    np.testing.assert_allclose(learner.predict(x), reference, rtol=1e-12, atol=0)
    singles = np.array([learner.predict(x[i : i + 1])[0] for i in range(20)])
    np.testing.assert_allclose(singles, reference[:20], rtol=1e-12, atol=0)

    file_name = learner.save(tmp_path)
    assert (tmp_path / file_name).is_file()
    loaded = learners.load(kind, tmp_path)
    np.testing.assert_allclose(loaded.predict(x), reference, rtol=1e-12, atol=0)
    np.testing.assert_allclose(loaded.reference_predict(x), reference, rtol=1e-12, atol=0)


def test_unknown_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="max_dept"):
        learners.PARAMS["xgboost"].model_validate({"max_dept": 3})
    with pytest.raises(ValueError, match="greater than 0"):
        learners.PARAMS["sklearn"].model_validate({"C": 0})
