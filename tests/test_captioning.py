"""The captioning task through the Python API: spec, training task, train/resume, evaluate with the
baselines and the page, predict from image files (rnnkit/tasks/captioning.py), on a tiny made-up set."""

import json
import re
import shutil

import numpy as np
import pytest
from tiny_captions import write_encoder, write_images, write_set

from rnnkit.data.datasets import CAPTION_DATASETS
from rnnkit.errors import ConfigError, DataError
from rnnkit.models.captioner import CaptionerConfig
from rnnkit.tasks import captioning as cp
from rnnkit.tasks.captioning import CaptionSource, CaptionSpec

CONFIG = {"eval_every": 4, "checkpoint_every": 4, "lr": 0.02}


def quiet(message):
    return None


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("captioning")
    paths = write_set(root)
    write_images(root / "images")
    paths["images"] = root / "images"
    paths["encoder"] = write_encoder(root / "encoder.onnx")
    return paths


def tiny_spec(tiny, conditioning="concat", **options) -> CaptionSpec:
    source = CaptionSource(captions=str(tiny["coco"]), split=str(tiny["split"]), features=str(tiny["features"]),
                           index=str(tiny["index"]), images=str(tiny["images"]))
    model = CaptionerConfig(conditioning=conditioning, embedding_dim=8, hidden_size=16, dropout=0.1)
    return CaptionSpec(source, model, batch_size=8, **options)


def test_prepare_fills_vocabulary_sizes_and_records_and_the_spec_round_trips(tiny):
    spec = cp.prepare(tiny_spec(tiny, "init"))
    assert spec.vocab.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"] and "dog" in spec.vocab.ids
    assert spec.model.vocab_size == len(spec.vocab) and spec.model.feature_size == 6
    assert spec.data.sha256 and spec.data.features_sha256 and spec.preprocessing == {"made": "up"}
    again = CaptionSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert again.to_json() == spec.to_json()
    assert again.build_model(rng=0).config == spec.model


def test_sources_and_specs_refuse_what_cannot_be_read(tiny, tmp_path):
    with pytest.raises(ConfigError, match="`features` and `index`, or a folder of `images` and an `encoder`"):
        CaptionSource(captions=str(tiny["coco"]))
    with pytest.raises(ConfigError, match="need both files"):
        CaptionSource(captions=str(tiny["coco"]), features=str(tiny["features"]))
    with pytest.raises(ConfigError, match="unknown `dataset` 'coco-max'"):
        CaptionSource.built_in("coco-max")
    with pytest.raises(DataError, match="captioning not found"):
        CaptionSource.built_in("coco-mini", tmp_path)
    with pytest.raises(ConfigError, match="`val_fraction` \\+ `test_fraction`"):
        tiny_spec(tiny, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ConfigError, match="prepare"):
        tiny_spec(tiny).build_model()


def test_built_in_coco_mini_names_the_shared_folders_files(tmp_path):
    (tmp_path / "captioning").mkdir()
    source = CaptionSource.built_in("coco-mini", tmp_path)
    assert source.captions.endswith("captioning/captions.tsv") and source.split.endswith("captioning/split.json")
    assert source.encoder.endswith("encoder.onnx") and source.images.endswith("captioning/images")
    assert source.name == "coco-mini" and set(CAPTION_DATASETS) == {"coco-mini"}
    (tmp_path / "elsewhere" / "captioning").mkdir(parents=True)
    moved = source.moved(tmp_path / "elsewhere", captions=tmp_path / "mine.tsv")
    assert moved.features.endswith("elsewhere/captioning/features.safetensors")
    assert moved.captions == str((tmp_path / "mine.tsv").resolve())


def test_training_task_batches_by_seed_and_epoch_and_a_step_has_gradients(tiny):
    spec = cp.prepare(tiny_spec(tiny))
    model = spec.build_model(rng=0)
    task = cp.training_task(spec, model, seed=3)
    again = cp.training_task(spec, spec.build_model(rng=0), seed=3)
    assert [b.tolist() for b in task.epoch_batches(1)] == [b.tolist() for b in again.epoch_batches(1)]
    assert sorted(np.concatenate(task.epoch_batches(0)).tolist()) == list(range(len(task.train_set)))
    before = task.evaluate()["val_loss"]
    assert np.isfinite(before) and before > 0
    model.zero_grad()
    loss, tokens = task.train_step(task.epoch_batches(0)[0])
    assert np.isfinite(loss) and tokens > 0
    assert all(np.any(model.grads[name] != 0) for name in ("image.weight", "decoder.weight_ih_l0"))


def metrics_losses(run_dir):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]


def test_train_evaluate_page_and_resume_equals_an_uninterrupted_run(tiny, tmp_path):
    spec = tiny_spec(tiny, "first")
    straight = cp.train(spec, cp.train_config(max_steps=40, **CONFIG), tmp_path / "straight", progress=False,
                        echo=quiet)
    assert straight.step == 40 and straight.best_score is not None
    cp.train(spec, cp.train_config(max_steps=20, **CONFIG), tmp_path / "first", progress=False, echo=quiet)
    resumed = cp.resume(tmp_path / "first", {"max_steps": 40}, progress=False, echo=quiet)
    assert resumed.step == 40
    assert metrics_losses(tmp_path / "first") == metrics_losses(tmp_path / "straight")      # exactly

    run = cp.load_run(tmp_path / "straight")
    scores = cp.evaluate(run, "test", beam=2, page_images=2)
    assert set(scores) == {"model", "nearest-neighbour", "best-caption"}
    assert all(set(by_order) == {1, 2, 3, 4} for by_order in scores.values())
    assert scores["nearest-neighbour"][1].metric == "BLEU-1" and "nrefs:3" in scores["model"][4].signature
    assert scores["nearest-neighbour"][4].score == pytest.approx(100.0)     # three kinds: the neighbour is right
    assert scores["model"][1].score > 20                                     # 40 steps learn the words of a kind
    results = json.loads((tmp_path / "straight" / "results.json").read_text())["captions-test"]
    assert results["model"]["bleu4"] == scores["model"][4].score and results["beam"] == 2
    lines = (tmp_path / "straight" / "captions-test.txt").read_text().splitlines()
    assert len(lines) == 3 and all(len(line.split("\t")) == 3 for line in lines)
    page = (tmp_path / "straight" / "captions-test.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert page.count("<figure>") == 2 and len(sources) == 2 and "a dog runs on the grass" in page
    assert (tmp_path / "straight" / sources[0]).resolve() == (tiny["images"] / "dog" / "007.png").resolve()
    with pytest.raises(ConfigError, match="`split`"):
        cp.evaluate(run, "train")


def test_features_computed_from_images_are_cached_in_the_run_and_predict_reads_image_files(tiny, tmp_path):
    source = CaptionSource(captions=str(tiny["tsv"]), images=str(tiny["images"]), encoder=str(tiny["encoder"]))
    spec = CaptionSpec(source, CaptionerConfig(embedding_dim=8, hidden_size=16), batch_size=8)
    result = cp.train(spec, cp.train_config(max_steps=8, **CONFIG), tmp_path / "run", progress=False, echo=quiet)
    assert (tmp_path / "run" / "features.safetensors").is_file() and result.step == 8
    moved = shutil.move(tmp_path / "run", tmp_path / "moved")                # the cache moves with the run
    run = cp.load_run(moved)
    assert run.spec.data.features_in_run and run.spec.encoder_sha256 == cp.run_encoder(run).sha256
    assert "resize" in run.spec.preprocessing
    assert set(cp.evaluate(run, "val", beam=1, page_images=0)) == {"model", "nearest-neighbour", "best-caption"}
    captions = cp.predict(run, [tiny["images"] / "dog" / "000.png", tiny["images"] / "car" / "001.png"], beam=2)
    assert len(captions) == 2 and all(isinstance(caption, str) for caption in captions)

    other = write_encoder(tmp_path / "other.onnx", seed=1)
    with pytest.raises(ConfigError, match="is not the one that computed the run's features"):
        cp.predict(run, [tiny["images"] / "dog" / "000.png"], encoder=other)
    with pytest.raises(DataError, match="is not an image Pillow can read"):
        cp.predict(run, [tiny["coco"]])


def test_an_encoder_of_another_size_is_refused(tiny, tmp_path):
    spec = cp.prepare(tiny_spec(tiny))
    model = spec.build_model(rng=0)
    run = cp.runs.TrainedRun(tmp_path, spec, model.eval(), {})
    with pytest.raises(ConfigError, match="gives 4 features per image, the run's model reads 6"):
        cp.run_encoder(run, write_encoder(tmp_path / "four.onnx", features=4))
    with pytest.raises(ConfigError, match="does not know which image encoder"):
        cp.run_encoder(run)
