from collections import Counter

import numpy as np
import pytest

from rnnkit.data.sentiment import SPLITS, load_chnsenticorp, load_sst2
from rnnkit.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def sst2(data_dir):
    return {split: load_sst2(data_dir / "sentiment_sst2", split) for split in SPLITS}


@pytest.fixture(scope="module")
def chnsenticorp(data_dir):
    return {split: load_chnsenticorp(data_dir / "sentiment_chnsenticorp_htl", split) for split in SPLITS}


def test_sst2_has_the_official_split_sizes_and_class_counts(sst2):
    assert {split: len(examples) for split, examples in sst2.items()} == {"train": 6920, "dev": 872, "test": 1821}
    assert Counter(label for _, label in sst2["train"]) == {0: 3310, 1: 3610}
    assert sst2["dev"][0] == ("one long string of cliches .", 0)


def test_chnsenticorp_split_is_80_10_10_of_the_nonempty_reviews(chnsenticorp):
    sizes = {split: len(examples) for split, examples in chnsenticorp.items()}
    assert sizes == {"train": 6212, "dev": 776, "test": 777}
    assert all(text.strip() for examples in chnsenticorp.values() for text, _ in examples)


def test_chnsenticorp_parts_are_disjoint(chnsenticorp):
    parts = [{text for text, _ in examples} for examples in chnsenticorp.values()]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_chnsenticorp_parts_keep_the_share_of_positives(chnsenticorp):
    shares = [np.mean([label for _, label in examples]) for examples in chnsenticorp.values()]
    assert np.ptp(shares) < 0.005
    assert 0.68 < shares[0] < 0.69


def test_chnsenticorp_split_is_fixed_by_its_seed(data_dir, chnsenticorp):
    folder = data_dir / "sentiment_chnsenticorp_htl"
    assert load_chnsenticorp(folder, "dev") == chnsenticorp["dev"]
    assert load_chnsenticorp(folder, "dev", seed=1) != chnsenticorp["dev"]


def test_unknown_split_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown split 'validation'"):
        load_sst2(tmp_path, "validation")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match="train.tsv not found"):
        load_sst2(tmp_path, "train")


def test_bad_label_names_file_and_line(tmp_path):
    (tmp_path / "dev.tsv").write_text("label\tsentence\n1\tfine .\npositive\tgreat .\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev.tsv:3: expected a label 0 or 1"):
        load_sst2(tmp_path, "dev")
