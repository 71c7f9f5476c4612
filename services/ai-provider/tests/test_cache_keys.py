"""Cache keys: what makes two requests the same (exact) or comparable (semantic)."""

from app.cache import cosine, exact_key, pack, partition, unpack
from app.dispatch import ChatParams


def params(content: str, system: str = "sys", **values) -> ChatParams:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": content}]
    return ChatParams(messages=messages, **values)


def test_the_exact_key_covers_route_messages_and_parameters():
    key = exact_key(["a"], params("hi"), scope="shared")
    assert key == exact_key(["a"], params("hi", user="someone-else"), scope="shared")
    assert key != exact_key(["b"], params("hi"), scope="shared")
    assert key != exact_key(["a"], params("hi "), scope="shared")
    assert key != exact_key(["a"], params("hi", temperature=0.5), scope="shared")
    assert key != exact_key(["a"], params("hi", stop=["\\n"]), scope="shared")


def test_each_scope_has_its_own_keys_and_partitions():
    # A user's answers are theirs (the user id is the scope); "shared" is everyone's.
    for derive in (exact_key, partition):
        mine = derive(["a"], params("hi"), scope="user:u1")
        assert mine == derive(["a"], params("hi"), scope="user:u1")
        assert mine != derive(["a"], params("hi"), scope="user:u2")
        assert mine != derive(["a"], params("hi"), scope="shared")


def test_a_partition_holds_the_same_symbols_and_timeframes_in_any_wording():
    # The bench's mix found these: cosine 0.965 between the 1h and the 1d question.
    name = partition(
        ["a"], params("Write a short market brief for EURUSD on the 1h chart."), scope="shared"
    )
    assert name == partition(
        ["a"], params("How does EURUSD look on 1h? A short brief."), scope="shared"
    )
    assert name != partition(
        ["a"], params("Write a short market brief for EURUSD on the 1d chart."), scope="shared"
    )
    assert name != partition(
        ["a"], params("Write a short market brief for GBPUSD on the 1h chart."), scope="shared"
    )
    assert name != partition(
        ["a"], params("Write a short market brief for EURUSD."), scope="shared"
    )


def test_a_partition_holds_same_system_parameters_and_numbers():
    name = partition(["a"], params("close 1.0832 today"), scope="shared")
    assert name == partition(["a"], params("today the close is 1.0832"), scope="shared")
    assert name != partition(["a"], params("close 1.0833 today"), scope="shared")
    assert name != partition(["a"], params("close 1.0832 today", system="other"), scope="shared")
    assert name != partition(["a"], params("close 1.0832 today", max_tokens=9), scope="shared")


def test_vectors_survive_packing_and_cosine_is_scale_free():
    vector = [0.6, 0.8, 0.0]
    assert list(unpack(pack(vector))) == [0.6000000238418579, 0.800000011920929, 0.0]
    assert abs(cosine(vector, [1.2, 1.6, 0.0]) - 1.0) < 1e-9
    assert cosine(vector, [0.0, 0.0, 1.0]) == 0.0
