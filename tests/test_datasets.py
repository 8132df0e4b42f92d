"""rnnkit/data/datasets.py: the data folder and the registry of built-in datasets."""

from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.datasets import (SERIES_FOLDER, TEXT_DATASETS, default_data_dir, load_builtin_series,
                                  load_text_split, text_dataset)
from rnnkit.data.sentiment import load_sst2
from rnnkit.errors import ConfigError, DataError


def test_default_data_dir_is_rnnkit_data_else_shared_data(monkeypatch):
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    assert default_data_dir() == Path("../shared/data")
    monkeypatch.setenv("RNNKIT_DATA", "/somewhere/data")
    assert default_data_dir() == Path("/somewhere/data")


def test_registry_describes_each_text_dataset():
    assert sorted(TEXT_DATASETS) == ["chnsenticorp", "sst2"]
    sst2, chinese = text_dataset("sst2"), text_dataset("chnsenticorp")
    assert (sst2.folder, sst2.tokenizer, sst2.labels) == ("sentiment_sst2", "words", ("negative", "positive"))
    assert (chinese.folder, chinese.tokenizer) == ("sentiment_chnsenticorp_htl", "chinese")
    assert list(sst2.labels) == sorted(sst2.labels)   # the same order as a user's labels get
    assert sst2.path("/data") == Path("/data/sentiment_sst2")


def test_unknown_dataset_or_split_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown dataset 'imdb': use one of chnsenticorp, sst2"):
        text_dataset("imdb")
    with pytest.raises(ConfigError, match="unknown split 'val'"):
        load_text_split("sst2", "val", tmp_path)
    with pytest.raises(ConfigError, match="unknown series 'sunspots'"):
        load_builtin_series("sunspots", tmp_path)


def test_a_missing_dataset_folder_names_data_dir(tmp_path):
    with pytest.raises(DataError, match=r"sentiment_sst2 not found: set RNNKIT_DATA or pass `data_dir`"):
        load_text_split("sst2", "train", tmp_path)


def test_load_text_split_gives_texts_and_label_indices(tmp_path):
    folder = tmp_path / "sentiment_sst2"
    folder.mkdir()
    (folder / "dev.tsv").write_text("label\tsentence\n1\tgreat .\n0\tdull .\n", encoding="utf-8")
    texts, labels = load_text_split("sst2", "dev", tmp_path)
    assert texts == ["great .", "dull ."] and labels.tolist() == [1, 0] and labels.dtype == np.int64


def test_real_datasets_load_through_the_registry(data_dir):
    texts, labels = load_text_split("sst2", "dev", data_dir)
    expected = [label for _, label in load_sst2(data_dir / "sentiment_sst2", "dev")]
    assert len(texts) == 872 and labels.tolist() == expected
    texts, labels = load_text_split("chnsenticorp", "test", data_dir)
    assert len(texts) == 777 and set(labels.tolist()) == {0, 1}
    series = load_builtin_series("airline-passengers", data_dir)
    assert len(series.values) == 144 and series.period == 12
    assert (data_dir / SERIES_FOLDER).is_dir()
