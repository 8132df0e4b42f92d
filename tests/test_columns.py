"""rnnkit/data/columns.py: one column of a TSV file as a corpus."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.data.columns import iter_column_chunks, read_column
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


def whole_file_column(text: str, column: str) -> str:
    """The column as the whole-file reader made it: splitlines, split at tabs, join the values."""
    lines = text.splitlines()
    index = lines[0].split("\t").index(column)
    return "\n".join(line.split("\t")[index] for line in lines[1:]) + "\n"


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 1 << 20])
def test_streamed_column_equals_the_whole_file_reading_whatever_the_chunk_size(tmp_path, chunk_bytes):
    text = "a\tpoem\r\nx\t春眠\r\ny\t處處\rz\t夜來\nw\t花落\u2028v\t知\x85u\tend"   # all kinds of line break
    path = tmp_path / "t.tsv"
    path.write_text(text, encoding="utf-8", newline="")
    chunks = list(iter_column_chunks(path, "poem", chunk_bytes=chunk_bytes))
    assert "".join(chunks) == whole_file_column(text, "poem") == "春眠\n處處\n夜來\n花落\n知\nend\n"
    assert all(chunk.endswith("\n") for chunk in chunks)


@given(rows=st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00\t\n\r\x0b\x0c\x1c\x1d\x1e"
                                                                           "\x85\u2028\u2029")),
                     min_size=1, max_size=8),
       breaks=st.lists(st.sampled_from(["\n", "\r\n", "\r", "\u2028"]), min_size=9, max_size=9),
       chunk_bytes=st.integers(1, 16))
def test_streamed_column_fuzz(rows, breaks, chunk_bytes):
    lines = ["poem"] + rows
    text = "".join(line + brk for line, brk in zip(lines, breaks))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "t.tsv"
        path.write_bytes(text.encode("utf-8"))
        assert read_column(path, "poem") == "".join(iter_column_chunks(path, "poem", chunk_bytes=chunk_bytes))
        assert read_column(path, "poem") == whole_file_column(text, "poem")


def test_a_header_without_rows_is_a_data_error_not_a_corpus_of_one_newline(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("title\tpoem\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"t.tsv has a header but no rows: its column 'poem' holds no text"):
        read_column(path, "poem")


def test_a_missing_column_shows_a_huge_header_cut_short(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("a" * 3_000_000 + "\tb\nx\ty\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no column 'poem': its header names the columns 'aaa.*\.\.\.', 'b'") as error:
        read_column(path, "poem")
    assert len(str(error.value)) < 500
