"""Cache keys: what makes two requests the same (exact) or comparable (semantic)."""

from app.cache import cosine, exact_key, pack, partition, unpack
from app.dispatch import ChatParams


def params(content: str, system: str = "sys", **values) -> ChatParams:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": content}]
    return ChatParams(messages=messages, **values)


def test_the_exact_key_covers_route_messages_and_parameters():
    key = exact_key(["a"], params("hi"))
    assert key == exact_key(["a"], params("hi", user="someone-else"))
    assert key != exact_key(["b"], params("hi"))
    assert key != exact_key(["a"], params("hi "))
    assert key != exact_key(["a"], params("hi", temperature=0.5))
    assert key != exact_key(["a"], params("hi", stop=["\\n"]))


def test_a_partition_holds_the_same_symbols_and_timeframes_in_any_wording():
    # The bench's mix found these: cosine 0.965 between the 1h and the 1d question.
    name = partition(["a"], params("Write a short market brief for EURUSD on the 1h chart."))
    assert name == partition(["a"], params("How does EURUSD look on 1h? A short brief."))
    assert name != partition(
        ["a"], params("Write a short market brief for EURUSD on the 1d chart.")
    )
    assert name != partition(
        ["a"], params("Write a short market brief for GBPUSD on the 1h chart.")
    )
    assert name != partition(["a"], params("Write a short market brief for EURUSD."))


def test_a_partition_holds_same_system_parameters_and_numbers():
    name = partition(["a"], params("close 1.0832 today"))
    assert name == partition(["a"], params("today the close is 1.0832"))
    assert name != partition(["a"], params("close 1.0833 today"))
    assert name != partition(["a"], params("close 1.0832 today", system="other"))
    assert name != partition(["a"], params("close 1.0832 today", max_tokens=9))


def test_vectors_survive_packing_and_cosine_is_scale_free():
    vector = [0.6, 0.8, 0.0]
    assert list(unpack(pack(vector))) == [0.6000000238418579, 0.800000011920929, 0.0]
    assert abs(cosine(vector, [1.2, 1.6, 0.0]) - 1.0) < 1e-9
    assert cosine(vector, [0.0, 0.0, 1.0]) == 0.0
