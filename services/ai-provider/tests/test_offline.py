"""The offline template writer: facts into sentences, a labelled restatement otherwise."""

from app.offline import MARKER, facts, truncate, write

BRIEF = """Write a short market brief from these facts.
- symbol: EURUSD
- last close: 1.0832 at 2024-05-01T10:00Z
- signal (sma_cross): buy
- prediction (xgboost v3): p(up)=0.56
- forecast (5 steps): 1.0840 (1.0810 to 1.0870)
- missing: forecast (deep-learning is not running)
- missing: prediction (ml-processing is not running)
"""


def messages(text: str) -> list[dict]:
    return [
        {"role": "system", "content": "You are a market analyst."},
        {"role": "user", "content": text},
    ]


def test_facts_are_the_label_value_lines():
    assert facts(BRIEF)[:3] == [
        ("symbol", "EURUSD"),
        ("last close", "1.0832 at 2024-05-01T10:00Z"),
        ("signal (sma_cross)", "buy"),
    ]
    assert facts("no facts here\njust: text") == []


def test_a_brief_becomes_a_readable_paragraph():
    text = write(messages(BRIEF))

    assert text.startswith(MARKER)
    assert "This covers EURUSD." in text
    assert "The last close was 1.0832 at 2024-05-01T10:00Z." in text
    assert "The sma_cross signal says buy." in text
    assert "The xgboost v3 model predicts p(up)=0.56." in text
    assert "The forecast (5 steps) is 1.0840 (1.0810 to 1.0870)." in text
    assert (
        "Not available: forecast (deep-learning is not running); "
        "prediction (ml-processing is not running)." in text
    )
    assert "not a language model" in text or "rather than a language model" in text
    assert "\n" not in text


def test_it_is_deterministic():
    assert write(messages(BRIEF)) == write(messages(BRIEF))


def test_any_other_prompt_is_a_labelled_restatement():
    text = write(messages("What will EURUSD do tomorrow?"))

    assert text.startswith(MARKER)
    assert "cannot be answered" in text
    assert '"What will EURUSD do tomorrow?"' in text


def test_a_long_prompt_is_restated_in_part():
    text = write(messages("word " * 500))
    assert text.endswith('..."')
    assert "(500 words)" in text


def test_the_last_user_message_is_the_one_read():
    history = [
        {"role": "user", "content": "- symbol: OLD"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "- symbol: NEW"},
    ]
    assert "This covers NEW." in write(history)


def test_max_tokens_cuts_the_answer():
    text, reason = truncate(write(messages(BRIEF)), 10)
    assert reason == "length"
    assert len(text) < 80
    assert truncate("short", 10) == ("short", "stop")
