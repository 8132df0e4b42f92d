"""rnnkit/data/labelled.py (and tables.py): a user's labelled texts from .csv / .tsv, and the stratified split."""

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.data.labelled import (DEFAULT_FRACTIONS, LabelledTexts, label_indices, label_names, read_labelled_file,
                                  stratified_split)
from rnnkit.errors import ConfigError, DataError


def write(tmp_path, text, name="reviews.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def write_rows(tmp_path, rows, name="reviews.csv"):
    """Rows written by the csv module itself (quoting what needs quotes)."""
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as file:
        csv.writer(file, delimiter="\t" if name.endswith(".tsv") else ",").writerows(rows)
    return path


def three_classes(count=30):
    names = ["bad", "Good", "meh"]
    return [["text", "label"]] + [[f"review {i}", names[i % 3]] for i in range(count)]


def one_line_data_error(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as error:
        call(*args, **kwargs)
    message = str(error.value)
    assert "\n" not in message and message
    return message


# -- reading ---------------------------------------------------------------------------------


def test_csv_with_quoted_fields_keeps_commas_quotes_and_line_breaks_in_the_text(tmp_path):
    path = write(tmp_path, 'id,text,label\n1,"fine, really",pos\n2,"she said ""no""\nand left",neg\n3,plain,pos\n')
    data = read_labelled_file(path, "text", "label")
    assert data.texts == ["fine, really", 'she said "no"\nand left', "plain"]
    assert data.labels == ["pos", "neg", "pos"]
    assert data.lines == [2, 3, 5]          # the row of line 3 ends on line 4
    assert data.splits is None and len(data) == 3


def test_tsv_is_read_with_tabs_and_commas_stay_in_the_text(tmp_path):
    path = write(tmp_path, "label\ttext\nyes\ta, b, c\nno\t\"quoted\ttab\"\n", "t.tsv")
    data = read_labelled_file(path, "text", "label")
    assert data.texts == ["a, b, c", "quoted\ttab"] and data.labels == ["yes", "no"]


def test_three_classes_keep_their_names_and_are_numbered_in_sorted_order(tmp_path):
    data = read_labelled_file(write_rows(tmp_path, three_classes()), "text", "label")
    assert data.label_names == ["Good", "bad", "meh"] == label_names(data.labels)
    assert data.label_indices()[:3].tolist() == [1, 0, 2]
    texts, labels = data.take([0, 1, 2])
    assert texts == ["review 0", "review 1", "review 2"] and labels.tolist() == [1, 0, 2]
    assert labels.dtype == np.int64


def test_byte_order_mark_spaces_in_header_and_labels_and_blank_lines_are_ignored(tmp_path):
    path = write(tmp_path, "\ufefftext , label\nnice, pos\n\nawful ,neg \n")
    data = read_labelled_file(path, "text", "label")
    assert data.texts == ["nice", "awful "] and data.labels == ["pos", "neg"] and data.lines == [2, 4]


def test_another_encoding(tmp_path):
    path = write(tmp_path, "text,label\ncafé,a\nthé,b\n", encoding="latin-1")
    assert read_labelled_file(path, "text", "label", encoding="latin-1").texts == ["café", "thé"]
    assert "real `encoding`, e.g. latin-1" in one_line_data_error(read_labelled_file, path, "text", "label")
    with pytest.raises(ConfigError, match="unknown `encoding` 'klingon'"):
        read_labelled_file(path, "text", "label", encoding="klingon")


def test_split_column_with_aliases_of_dev(tmp_path):
    rows = [["text", "label", "part"], ["a", "x", "train"], ["b", "y", "Train"], ["c", "x", "val"],
            ["d", "y", "validation"], ["e", "x", " valid"], ["f", "y", "dev"], ["g", "x", "TEST"]]
    data = read_labelled_file(write_rows(tmp_path, rows), "text", "label", split_column="part")
    assert data.splits == ["train", "train", "dev", "dev", "dev", "dev", "test"]
    parts = data.split_indices()
    assert {name: rows.tolist() for name, rows in parts.items()} == {
        "train": [0, 1], "dev": [2, 3, 4, 5], "test": [6]}


def test_without_a_split_column_the_parts_are_a_stratified_split(tmp_path):
    data = read_labelled_file(write_rows(tmp_path, three_classes(60)), "text", "label")
    parts = data.split_indices()
    assert [len(parts[name]) for name in ("train", "dev", "test")] == [48, 6, 6]
    for name in ("train", "dev", "test"):
        assert Counter(np.asarray(data.labels)[parts[name]].tolist()) == {
            "train": {"bad": 16, "Good": 16, "meh": 16}, "dev": {"bad": 2, "Good": 2, "meh": 2},
            "test": {"bad": 2, "Good": 2, "meh": 2}}[name]
    assert all((a == b).all() for a, b in zip(parts.values(), data.split_indices(seed=0).values()))
    assert not all((a == b).all() for a, b in zip(parts.values(), data.split_indices(seed=1).values()))


# -- errors, each one line naming what is wrong ------------------------------------------------


def test_missing_and_empty_files(tmp_path):
    assert "does not exist" in one_line_data_error(read_labelled_file, tmp_path / "nope.csv", "text", "label")
    assert "is empty" in one_line_data_error(read_labelled_file, write(tmp_path, ""), "text", "label")
    (tmp_path / "folder.csv").mkdir()
    assert "is a directory" in one_line_data_error(read_labelled_file, tmp_path / "folder.csv", "text", "label")
    message = one_line_data_error(read_labelled_file, write(tmp_path, "text,label\n"), "text", "label")
    assert "has a header but no rows" in message


def test_a_txt_file_is_refused_with_what_to_do(tmp_path):
    message = one_line_data_error(read_labelled_file, write(tmp_path, "text,label\na,b\n", "r.txt"), "text", "label")
    assert "r.txt is a .txt file: labelled texts are read from a .csv (comma-separated) or .tsv" in message


def test_a_missing_column_lists_the_header(tmp_path):
    path = write(tmp_path, "review,stars\na,1\nb,2\n")
    message = one_line_data_error(read_labelled_file, path, "text", "stars")
    assert "has no column 'text' (`text_column`): its header has the columns 'review', 'stars'" in message
    message = one_line_data_error(read_labelled_file, path, "review", "label")
    assert "no column 'label' (`label_column`)" in message
    message = one_line_data_error(read_labelled_file, path, "review", "stars", split_column="split")
    assert "no column 'split' (`split_column`)" in message


def test_a_duplicated_column_is_ambiguous(tmp_path):
    message = one_line_data_error(read_labelled_file, write(tmp_path, "text,text,label\na,b,c\n"), "text", "label")
    assert "2 columns named 'text'" in message


@pytest.mark.parametrize("row, expected", [
    ("   ,pos", r"line 3: the text \(column 'text'\) is empty"),
    ("words,", r"line 3: the label \(column 'label'\) is empty"),
    ("a, b,pos", r"line 3: 3 fields, but the header has 2: put a field that holds a comma in double quotes"),
    ("alone", r"line 3: 1 fields, but the header has 2"),
])
def test_bad_rows_name_file_and_line(tmp_path, row, expected):
    path = write(tmp_path, f"text,label\nfine,neg\n{row}\nok,pos\n")
    message = one_line_data_error(read_labelled_file, path, "text", "label")
    assert message.startswith(str(path)) and re.search(expected, message), message


def test_a_wrong_width_tsv_row_says_tab(tmp_path):
    path = write(tmp_path, "text\tlabel\nfine\tneg\nx\ty\tz\n", "r.tsv")
    assert "r.tsv line 3: 3 fields, but the header has 2: put a field that holds a tab in double quotes" in \
        one_line_data_error(read_labelled_file, path, "text", "label")


def test_an_unclosed_quote_names_the_line_where_the_row_starts(tmp_path):
    path = write(tmp_path, 'text,label\nfine,neg\n"never closed,pos\n' + "more text\n" * 20000)
    message = one_line_data_error(read_labelled_file, path, "text", "label")
    assert "line 3: field larger than field limit" in message and "check the quotes" in message


def test_a_single_class_is_refused(tmp_path):
    message = one_line_data_error(read_labelled_file, write(tmp_path, "text,label\na,pos\nb,pos\n"), "text", "label")
    assert "every row has the label 'pos' (column 'label'): a classifier needs at least two classes" in message


def test_an_unknown_split_names_the_row(tmp_path):
    path = write(tmp_path, "text,label,split\na,x,train\nb,y,holdout\n")
    message = one_line_data_error(read_labelled_file, path, "text", "label", split_column="split")
    assert "line 3: split 'holdout' (column 'split') is not train, dev or test" in message


def test_a_split_column_without_training_rows_is_refused(tmp_path):
    path = write(tmp_path, "text,label,split\na,x,dev\nb,y,test\n")
    message = one_line_data_error(read_labelled_file, path, "text", "label", split_column="split")
    assert "no row's split (column 'split') is train" in message


def test_too_few_rows_for_a_dev_and_test_part_says_how_many_are_needed(tmp_path):
    data = read_labelled_file(write(tmp_path, "text,label\na,x\nb,y\nc,z\nd,x\n"), "text", "label")
    with pytest.raises(DataError) as error:
        data.split_indices()
    message = str(error.value)
    assert message.startswith(str(data.path)) and "\n" not in message
    assert "4 rows of 3 classes are too few to split into a training part and dev, test: " \
           "that takes at least 5 rows" in message


def test_label_indices_refuse_an_unknown_class():
    assert label_indices(["b", "a"], ["a", "b"]).tolist() == [1, 0]
    with pytest.raises(DataError, match="label 'c' is not one of the model's classes"):
        label_indices(["c"], ["a", "b"])


# -- the stratified split ----------------------------------------------------------------------


def test_stratified_split_rounds_each_class_and_gives_the_rest_to_the_last_part():
    labels = [0] * 10 + [1] * 25
    train, dev, test = stratified_split(labels, (0.6, 0.2, 0.2), seed=0)
    assert [len(train), len(dev), len(test)] == [21, 7, 7]  # class 0: 6/2/2, class 1: 15/5/5
    assert sorted(np.concatenate([train, dev, test]).tolist()) == list(range(35))
    assert np.sum(np.asarray(labels)[dev]) == 5


def test_stratified_split_is_deterministic_for_a_seed_and_sorted():
    labels = ["a"] * 20 + ["b"] * 7 + ["c"] * 13
    first, again = stratified_split(labels, seed=3), stratified_split(labels, seed=3)
    assert all((x == y).all() for x, y in zip(first, again))
    assert all((np.diff(part) > 0).all() for part in first)
    assert any((x != y).any() for x, y in zip(first, stratified_split(labels, seed=4)))


def test_small_classes_still_train_and_dev_and_test_are_never_empty():
    labels = ["big"] * 6 + ["one", "two", "two"]   # rounding alone gives "one" no training row and dev no row
    train, dev, test = stratified_split(labels)
    values = np.asarray(labels)
    assert set(values[train]) == {"big", "one", "two"}
    assert len(dev) >= 1 and len(test) >= 1
    assert len(train) + len(dev) + len(test) == len(labels)


def test_a_zero_fraction_part_stays_empty():
    train, dev, test = stratified_split([0] * 5 + [1] * 5, (0.9, 0.1, 0.0))
    assert len(test) == 0 and len(dev) >= 1 and len(train) + len(dev) == 10


def test_bad_fractions_are_a_config_error():
    with pytest.raises(ConfigError, match="`fractions`"):
        stratified_split([0, 1, 0, 1], (0.5, 0.6, -0.1))
    with pytest.raises(ConfigError, match="`fractions`"):
        stratified_split([0, 1, 0, 1], (0.0, 0.5, 0.5))


@given(counts=st.lists(st.integers(1, 40), min_size=2, max_size=5),
       fractions=st.sampled_from([DEFAULT_FRACTIONS, (0.6, 0.2, 0.2), (0.34, 0.33, 0.33), (0.9, 0.05, 0.05)]),
       seed=st.integers(0, 3))
def test_stratified_split_guarantees(counts, fractions, seed):
    labels = np.repeat(np.arange(len(counts)), counts)
    if len(labels) < len(counts) + 2:
        with pytest.raises(DataError, match=f"at least {len(counts) + 2} rows"):
            stratified_split(labels, fractions, seed)
        return
    parts = stratified_split(labels, fractions, seed)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))   # a partition
    assert set(labels[parts[0]].tolist()) == set(range(len(counts)))             # every class trains
    assert all(len(part) >= 1 for part in parts)
    for label, count in enumerate(counts):                                       # stratified, up to rounding
        if count >= 10:
            share = np.sum(labels[parts[0]] == label) / count
            assert abs(share - fractions[0]) <= 1.5 / count


def test_a_labelled_texts_object_can_be_made_directly():
    data = LabelledTexts(path=Path("x.csv"), texts=["a", "b"], labels=["n", "p"])
    assert data.label_names == ["n", "p"] and data.take([1])[1].tolist() == [1]
