"""rnnkit/data/columns.py: one column of a TSV file as a corpus."""

import pytest

from rnnkit.data.columns import read_column
from rnnkit.errors import DataError


def test_reads_the_named_column_one_row_per_line(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("author\ttitle\tpoem\na\tx\t春眠不覺曉，\nb\ty\t處處聞啼鳥。\n", encoding="utf-8")
    assert read_column(path, "poem") == "春眠不覺曉，\n處處聞啼鳥。\n"


def test_missing_column_and_ragged_rows_are_data_errors(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("author\tpoem\na\tb\tc\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column 'title'"):
        read_column(path, "title")
    with pytest.raises(DataError, match="line 2: 3 fields"):
        read_column(path, "poem")


def test_tang_poems_column_has_every_poem(data_dir):
    text = read_column(data_dir / "tang_poems" / "tang_poems.tsv", "poem")
    poems = text.splitlines()
    assert len(poems) == 36712
    assert poems[0].startswith("秦川雄帝宅，函谷壯皇居。")
