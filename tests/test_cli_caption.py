"""`rnnkit caption train | eval | predict` end to end on a tiny made-up set the test writes: features in,
images in (through a tiny ONNX encoder), eval with the baselines and the page, predict, and the one-line
errors; and the coco-mini shortcut on the shared data."""

import re
import sys

import pytest
from tiny_captions import write_encoder, write_images, write_set
from tiny_runs import one_line_error

from rnnkit.cli.main import main

FAST = ["--embedding", "8", "--hidden", "16", "--batch", "8", "--eval-every", "4", "--checkpoint-every", "4",
        "--lr", "0.02", "--beam", "2", "--no-progress"]
SCORES = re.compile(r"^(.*)\nBLEU-1 (\d+\.\d\d)\nBLEU-2 \d+\.\d\d\nBLEU-3 \d+\.\d\d\nBLEU-4 (\d+\.\d\d)$", re.MULTILINE)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("caption-cli")
    paths = write_set(root)
    write_images(root / "images")
    paths["images"] = root / "images"
    paths["encoder"] = write_encoder(root / "encoder.onnx")
    return paths


@pytest.fixture(scope="module")
def features_run(tiny):
    """A run trained on precomputed features (a COCO JSON, a split file, the images only for the page)."""
    run_dir = tiny["root"] / "features-run"
    assert main(["caption", "train", "--captions", str(tiny["coco"]), "--split", str(tiny["split"]),
                 "--features", str(tiny["features"]), "--index", str(tiny["index"]), "--images",
                 str(tiny["images"]), "--out", str(run_dir), "--max-steps", "8", *FAST]) == 0
    return run_dir


def test_train_on_features_writes_the_run_and_scores_the_test_split(features_run):
    assert (features_run / "checkpoints.json").is_file()
    assert (features_run / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert (features_run / "captions-test.html").is_file() and (features_run / "results.json").is_file()


def test_eval_prints_bleu_1_to_4_for_the_model_and_both_baselines(features_run, capsys):
    assert main(["caption", "eval", str(features_run), "--split", "val", "--beam", "3", "--page-images", "2"]) == 0
    out = capsys.readouterr().out
    found = SCORES.findall(out)
    assert [header for header, _, _ in found] == ["model (beam 3)", "nearest-neighbour baseline",
                                                  "best single training caption baseline"]
    assert float(found[1][1]) > 50                        # the tiny set's nearest neighbour has the right kind
    assert "BLEU signature nrefs:" in out
    page = (features_run / "captions-val.html").read_text()
    assert page.count("<figure>") == 2 and page.count("<img src=") == 2


def test_predict_with_the_encoder_of_the_features(features_run, tiny, capsys):
    images = [str(tiny["images"] / "dog" / "000.png"), str(tiny["images"] / "cat" / "001.png")]
    assert main(["caption", "predict", str(features_run), *images, "--encoder", str(tiny["encoder"])]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["caption", "predict", str(features_run), *images]) == 2     # the index names no encoder
    assert "--encoder" in one_line_error(capsys.readouterr().err)


def test_images_in_train_eval_predict_and_their_errors(tiny, tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "run"
    assert main(["caption", "train", "--captions", str(tiny["tsv"]), "--images", str(tiny["images"]), "--encoder",
                 str(tiny["encoder"]), "--out", str(run_dir), "--max-steps", "4", "--conditioning", "init",
                 *FAST]) == 0
    assert (run_dir / "features.safetensors").is_file() and len(SCORES.findall(capsys.readouterr().out)) == 3
    assert main(["caption", "eval", str(run_dir), "--beam", "1", "--page-images", "0"]) == 0
    assert len(SCORES.findall(capsys.readouterr().out)) == 3
    image = str(tiny["images"] / "car" / "002.png")
    assert main(["caption", "predict", str(run_dir), image, image, "--beam", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2

    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    assert main(["caption", "predict", str(run_dir), str(tmp_path / "broken.jpg")]) == 2
    assert "broken.jpg is not an image Pillow can read" in one_line_error(capsys.readouterr().err)
    wide = write_encoder(tmp_path / "wide.onnx", features=9)
    assert main(["caption", "predict", str(run_dir), image, "--encoder", str(wide)]) == 2
    assert "not the one that computed the run's features" in one_line_error(capsys.readouterr().err)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert main(["caption", "predict", str(run_dir), image]) == 2
    assert "pip install 'rnnkit[images]'" in one_line_error(capsys.readouterr().err)


def test_an_encoder_of_another_output_size_is_a_one_line_error(features_run, tiny, tmp_path, capsys):
    wide = write_encoder(tmp_path / "wide.onnx", features=9)
    image = str(tiny["images"] / "car" / "002.png")
    assert main(["caption", "predict", str(features_run), image, "--encoder", str(wide)]) == 2
    assert "gives 9 features per image, the run's model reads 6" in one_line_error(capsys.readouterr().err)


def test_resume_refuses_changed_options_and_missing_data_flags_are_errors(features_run, tiny, tmp_path, capsys):
    assert main(["caption", "train", "--resume", str(features_run), "--hidden", "32", "--max-steps", "12"]) == 2
    assert "--hidden" in one_line_error(capsys.readouterr().err)
    assert main(["caption", "train", "--out", str(tmp_path / "r1"), "--no-progress"]) == 2
    assert "--captions" in one_line_error(capsys.readouterr().err)
    assert main(["caption", "train", "--captions", str(tiny["coco"]), "--out", str(tmp_path / "r2"),
                 "--no-progress"]) == 2
    assert "--features" in one_line_error(capsys.readouterr().err)
    assert main(["caption", "train", "--dataset", "coco-mini", "--captions", str(tiny["coco"]), "--no-progress"]) == 2
    assert "either --dataset or your own files" in one_line_error(capsys.readouterr().err)
    bad = tmp_path / "bad.tsv"
    bad.write_text("image\tcaption\ndog/000.png\t...\n")
    assert main(["caption", "train", "--captions", str(bad), "--features", str(tiny["features"]), "--index",
                 str(tiny["index"]), "--out", str(tmp_path / "r3"), *FAST]) == 2
    assert "bad.tsv line 2 column 2: the caption has no words" in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "r3").exists()


def test_the_coco_mini_shortcut_reads_the_shared_folder(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "coco"
    assert main(["caption", "train", "--dataset", "coco-mini", "--data-dir", str(data_dir), "--out", str(run_dir),
                 "--max-steps", "2", "--max-length", "12", "--embedding", "8", "--hidden", "8", "--beam", "1",
                 "--eval-every", "2", "--no-progress"]) == 0
    found = SCORES.findall(capsys.readouterr().out)
    assert len(found) == 3 and float(found[1][1]) > 30                     # nearest neighbour's BLEU-1 on test
    page = (run_dir / "captions-test.html").read_text()
    assert page.count("<img src=") == 12
