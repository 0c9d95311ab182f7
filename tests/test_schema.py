import pyarrow as pa
import pytest

from factgap.data.schema import QA_SCHEMA, DataValidationError, check_table_columns, mc_table, qa_table


def _rec(i, **kw):
    base = {"id": f"q{i}", "relation": "P17", "subject": "s", "question": "Q?", "answers": ["a"], "split": "train"}
    return {**base, **kw}


def test_valid_records_become_a_sorted_typed_table():
    t = qa_table([_rec(2), _rec(1, answers=["x", "x", " y "], popularity=3)], "f.json")
    assert t.schema == QA_SCHEMA
    assert t.column("id").to_pylist() == ["q1", "q2"]
    assert t.column("answers").to_pylist()[0] == ["x", "y"]


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"answers": []}, "row 1: empty answer list"),
        ({"answers": ["", None]}, "row 1: empty answer list"),
        ({"answers": "Paris"}, "row 1: 'answers' must be a list"),
        ({"split": "validation"}, "row 1: split"),
        ({"question": None}, "row 1: missing field(s) question"),
        ({"id": "q0"}, "row 1: duplicate id 'q0'"),
    ],
)
def test_bad_records_name_file_and_row(bad, message):
    with pytest.raises(DataValidationError) as err:
        qa_table([_rec(0), _rec(1, **bad)], "data/x.json")
    assert str(err.value).startswith("data/x.json, row 1") and message in str(err.value)


def test_missing_column_in_stored_table_names_the_file():
    table = pa.table({"id": ["a"], "question": ["q"]})
    with pytest.raises(DataValidationError, match="questions.parquet: missing column"):
        check_table_columns(table, QA_SCHEMA, "questions.parquet")


def test_multiple_choice_answer_index_is_checked():
    ok = {"id": "m1", "subject": "bio", "question": "?", "choices": ["a", "b"], "answer_index": 1, "split": "test"}
    assert mc_table([ok], "mc").num_rows == 1
    with pytest.raises(DataValidationError, match="row 0: answer_index 2"):
        mc_table([{**ok, "answer_index": 2}], "mc")
