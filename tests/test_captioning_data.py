"""Caption files, splits, features and images (rnnkit/data/captions.py, rnnkit/data/images.py)."""

import json
import re
import sys

import numpy as np
import pytest
from tiny_captions import write_encoder, write_images, write_set

from rnnkit.data.captions import (
    CaptionOptions,
    caption_words,
    default_split,
    normalized_caption,
    prepare_captions,
    read_captions,
    read_features,
    read_split,
    split_parts,
)
from rnnkit.data.images import CROP, ImageEncoder, preprocess, write_feature_cache
from rnnkit.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_set(tmp_path_factory.mktemp("captions"))


def test_coco_json_tsv_and_json_lines_give_the_same_captions(tiny, tmp_path):
    tsv, coco = read_captions(tiny["tsv"]), read_captions(tiny["coco"])
    lines = tmp_path / "captions.jsonl"
    lines.write_text("".join(json.dumps({"image": image, "caption": caption, "split": split}) + "\n"
                             for image, caption, split in zip(tsv.images, tsv.captions, tsv.splits)))
    jsonl = read_captions(lines)
    assert tsv.images == coco.images == jsonl.images and tsv.captions == coco.captions == jsonl.captions
    assert tsv.splits == jsonl.splits and coco.splits is None
    assert tsv.places[0] == "line 2" and coco.places[0] == "annotations[0]"


def test_a_tsv_without_header_reads_image_and_caption_and_drops_flickr_numbers(tmp_path):
    path = tmp_path / "Flickr8k.token.txt"
    path.write_text("1000268201_693b08cb0e.jpg#0\tA child in a pink dress .\n"
                    "1000268201_693b08cb0e.jpg#1\tA girl going into a wooden building .\n\n"
                    "1001773457_577c3a7d70.jpg#0\tA black dog and a spotted dog are fighting\n")
    records = read_captions(path)
    assert records.images == ["1000268201_693b08cb0e.jpg"] * 2 + ["1001773457_577c3a7d70.jpg"]
    assert records.places == ["line 1", "line 2", "line 4"] and records.splits is None


@pytest.mark.parametrize("name, content, message", [
    ("c.tsv", "image\tcaption\na.jpg\tA dog\nb.jpg\n", "c.tsv line 3: 1 column(s)"),
    ("c.tsv", "a.jpg\tA dog\nb.jpg\t , .\n", "line 2 column 2: the caption has no words"),
    ("c.tsv", "one column only\n", "line 1: no tab"),
    ("c.tsv", "image\tsplit\tcaption\na.jpg\tdev\tA dog\n", "line 2: split 'dev' is not one of train, val, test"),
    ("c.json", '{"images": [{"id": 1, "file_name": "a.jpg"}],\n "annotations": [{"image_id": 2, "caption": "x"}]}',
     "annotations[0]: its image_id 2 is not in \"images\""),
    ("c.json", '{"images": [],\n "annotations": [', "c.json line 2 column"),
    ("c.json", '[1, 2]', "is not a COCO caption file"),
    ("c.csv", "a,b\n", "unknown caption file type '.csv'"),
    ("c.tsv", "", "holds no captions"),
])
def test_bad_caption_files_are_one_line_errors_naming_the_place(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(message)) as error:
        read_captions(path)
    assert "\n" not in str(error.value)


def test_captions_are_their_lower_cased_words_as_bleu_reads_them():
    assert caption_words("A man's dog, running...") == ["a", "man", "'s", "dog", "running"]
    assert normalized_caption("  Two  CATS on a sofa.\n") == "two cats on a sofa"


def test_split_file_column_and_seeded_default_split_keep_each_image_in_one_part(tiny, tmp_path):
    records = read_captions(tiny["tsv"])
    from_file = split_parts(records, read_split(tiny["split"]))
    from_column = split_parts(records)                                         # the column says the same
    assert {part: set(images) for part, images in from_file.items()} == {
        part: set(images) for part, images in from_column.items()}
    assert sum(len(images) for images in from_file.values()) == len(set(records.images))
    seeded = split_parts(read_captions(tiny["coco"]), None, (0.25, 0.25), seed=3)
    assert seeded == split_parts(read_captions(tiny["coco"]), None, (0.25, 0.25), seed=3)
    assert [len(seeded[part]) for part in ("train", "val", "test")] == [12, 6, 6]
    assert not set(seeded["train"]) & set(seeded["test"])
    three = default_split(["c", "a", "b", "a"], seed=1)
    assert sorted(image for images in three.values() for image in images) == ["a", "b", "c"]
    assert all(len(images) == 1 for images in three.values())
    twice = tmp_path / "split.json"
    twice.write_text(json.dumps({"train": ["a.jpg", "b.jpg"], "val": ["b.jpg"], "test": []}))
    with pytest.raises(DataError, match="image 'b.jpg' is in both train and val"):
        read_split(twice)
    twice.write_text(json.dumps({"train": ["dog/000.png"], "val": ["x.png"], "test": ["y.png"]}))
    with pytest.raises(DataError, match="no image of the val split has a caption"):
        split_parts(records, read_split(twice))


def test_prepared_corpus_numbers_training_words_and_keeps_every_reference(tiny):
    records = read_captions(tiny["tsv"])
    table = read_features(tiny["features"], tiny["index"])
    corpus = prepare_captions(records, split_parts(records), table, CaptionOptions(min_count=2))
    train, test = corpus.parts["train"], corpus.parts["test"]
    assert corpus.vocab.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"] and "dog" in corpus.vocab.ids
    assert len(test.images) == 3 and [len(refs) for refs in test.references] == [3, 3, 3]
    assert test.references[test.images.index("dog/007.png")][0] == "a dog runs on the grass"
    np.testing.assert_array_equal(test.features, table.take(test.images))
    batch = train.batch([0, 1, 2])
    assert batch.features.shape == (3, 6) and batch.target_inputs.shape == batch.target_outputs.shape
    assert batch.target_inputs[0].tolist() == [2, 2, 2] and batch.target_tokens == sum(
        len(train.caption_ids[i]) + 1 for i in range(3))


def test_features_must_fit_their_index_and_cover_every_image(tiny, tmp_path):
    index = json.loads(tiny["index"].read_text())
    short = tmp_path / "short.json"
    short.write_text(json.dumps({**index, "images": index["images"][:-1]}))
    with pytest.raises(DataError, match=r"has shape \(24, 6\), but .* lists 23 images"):
        read_features(tiny["features"], short)
    table = read_features(tiny["features"], tiny["index"])
    with pytest.raises(DataError, match="no row for image 'zebra.png'"):
        table.take(["dog/000.png", "zebra.png"])
    with pytest.raises(DataError, match="is not a safetensors file"):
        read_features(tiny["index"], tiny["index"])


# -- images ----------------------------------------------------------------------------------------
def test_tiny_encoder_gives_features_and_the_cache_reads_back(tmp_path):
    names = write_images(tmp_path / "images", count_per_kind=2)
    encoder = ImageEncoder(write_encoder(tmp_path / "encoder.onnx"))
    assert encoder.feature_size == 6 and len(encoder.sha256) == 64
    features = encoder.encode([tmp_path / "images" / name for name in names])
    assert features.shape == (6, 6) and np.all(features >= 0)
    assert not np.allclose(features[0], features[2])                          # a dog is not a cat
    write_feature_cache(tmp_path / "cache", names, features, encoder)
    table = read_features(tmp_path / "cache" / "features.safetensors", tmp_path / "cache" / "features_index.json")
    np.testing.assert_array_equal(table.take(names), features)
    assert table.index["encoder_sha256"] == encoder.sha256 and "resize" in table.index["preprocessing"]


def test_preprocessing_keeps_the_short_side_centre_and_scale(tmp_path):
    from PIL import Image
    pixels = np.zeros((300, 600, 3), np.uint8)
    pixels[:, 300:] = 255                                                  # right half white
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    x = preprocess(tmp_path / "wide.png")
    assert x.shape == (3, CROP, CROP) and x.dtype == np.float32
    assert x[:, :, 0].max() == pytest.approx(-127 / 128) and x[:, :, -1].min() == pytest.approx(128 / 128)
    Image.fromarray(pixels[:, :, 0], mode="L").save(tmp_path / "grey.png")
    assert preprocess(tmp_path / "grey.png").shape == (3, CROP, CROP)          # greyscale becomes RGB


def test_unreadable_image_missing_extra_and_bad_encoder_are_one_line_errors(tmp_path, monkeypatch):
    (tmp_path / "not.jpg").write_bytes(b"this is no JPEG")
    with pytest.raises(DataError, match="not.jpg is not an image Pillow can read"):
        preprocess(tmp_path / "not.jpg")
    with pytest.raises(DataError, match="does not exist"):
        preprocess(tmp_path / "missing.jpg")
    with pytest.raises(DataError, match="is not an ONNX model onnxruntime can run"):
        ImageEncoder(tmp_path / "not.jpg")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match=r"pip install 'rnnkit\[images\]'"):
        ImageEncoder(tmp_path / "encoder.onnx")


def test_shared_encoder_and_preprocessing_reproduce_the_shared_features(data_dir):
    folder = data_dir / "captioning"
    table = read_features(folder / "features.safetensors", folder / "features_index.json")
    encoder = ImageEncoder(folder / "encoder.onnx")
    assert encoder.sha256 == table.index["encoder_sha256"]
    images = [table.images[0], table.images[-1]]
    features = encoder.encode([folder / "images" / image for image in images])
    np.testing.assert_allclose(features, table.take(images), atol=1e-4)
