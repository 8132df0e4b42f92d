"""A tiny made-up captioning set the tests write: images of three kinds (red dogs, green cats, blue cars),
captions from templates, their features, the files in every format rnnkit reads, small PNG images and an
ONNX encoder (the mean colour of the image times a fixed matrix) built with onnx.helper."""

import json

import numpy as np

KINDS = {"dog": ((200, 40, 30), ["a dog runs on the grass", "a brown dog plays in a park", "the dog is running"]),
         "cat": ((40, 190, 60), ["a cat sits on a sofa", "a small cat sleeping on the sofa", "the cat is sitting"]),
         "car": ((30, 50, 210), ["a car parked on the street", "a blue car on a road", "the car is parked"])}
FEATURES = 6


def image_names(count_per_kind: int = 8) -> list[tuple[str, str]]:
    """(image name, kind), in the folder layout images/KIND/NNN.png."""
    return [(f"{kind}/{k:03d}.png", kind) for kind in KINDS for k in range(count_per_kind)]


def captions_of(kind: str, k: int) -> list[str]:
    """Two or three captions per image (so that the number of references varies), mixed case and punctuation."""
    templates = KINDS[kind][1]
    chosen = templates[: 2 + k % 2]
    return [text.capitalize() + ("." if i % 2 else "") for i, text in enumerate(chosen)]


def split_of(names: list[tuple[str, str]]) -> dict[str, list[str]]:
    parts = {"train": [], "val": [], "test": []}
    for i, (name, _) in enumerate(names):
        parts["val" if i % 8 == 6 else "test" if i % 8 == 7 else "train"].append(name)
    return parts


def encoder_matrix(seed: int = 0) -> np.ndarray:
    """W (3, F) of the tiny encoder: features = relu(mean RGB of the preprocessed image @ W)."""
    return np.random.default_rng(seed).uniform(-1, 1, (3, FEATURES)).astype(np.float32)


def features_of(names: list[tuple[str, str]], seed: int = 0) -> np.ndarray:
    """Features near each kind's own point (precomputed features, as a user would bring them)."""
    rng = np.random.default_rng(seed)
    centres = {kind: rng.uniform(0, 2, FEATURES) for kind in KINDS}
    return np.stack([centres[kind] + 0.1 * rng.standard_normal(FEATURES) for _, kind in names]).astype(np.float32)


def write_set(root, count_per_kind: int = 8) -> dict:
    """Every file of the set under ``root``; a dict of their paths."""
    from safetensors.numpy import save_file
    root.mkdir(parents=True, exist_ok=True)
    names = image_names(count_per_kind)
    parts = split_of(names)
    split_name = {name: part for part, images in parts.items() for name in images}
    rows = [(name, kind, caption) for k, (name, kind) in enumerate(names) for caption in captions_of(kind, k)]
    paths = {"root": root}
    paths["tsv"] = root / "captions.tsv"
    paths["tsv"].write_text("image\tsplit\tcaption\n" + "".join(f"{name}\t{split_name[name]}\t{caption}\n"
                                                                 for name, _, caption in rows), encoding="utf-8")
    coco = {"images": [{"id": 100 + i, "file_name": name} for i, (name, _) in enumerate(names)],
            "annotations": [{"id": j, "image_id": 100 + [n for n, _ in names].index(name), "caption": caption}
                            for j, (name, _, caption) in enumerate(rows)]}
    paths["coco"] = root / "captions.json"
    paths["coco"].write_text(json.dumps(coco), encoding="utf-8")
    paths["split"] = root / "split.json"
    paths["split"].write_text(json.dumps({"seed": 0, **parts}), encoding="utf-8")
    paths["features"] = root / "features.safetensors"
    save_file({"features": features_of(names)}, str(paths["features"]))
    paths["index"] = root / "features_index.json"
    paths["index"].write_text(json.dumps({"tensor": "features", "images": [name for name, _ in names],
                                          "encoder_sha256": None, "preprocessing": {"made": "up"}}),
                              encoding="utf-8")
    return paths


def write_images(folder, count_per_kind: int = 8, size=(40, 30)) -> list[str]:
    """A small PNG per image of the set (its kind's colour, with noise); their names."""
    from PIL import Image
    rng = np.random.default_rng(0)
    names = []
    for name, kind in image_names(count_per_kind):
        colour = np.array(KINDS[kind][0])
        pixels = np.clip(colour + rng.integers(-30, 30, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        names.append(name)
    return names


def write_encoder(path, features: int = FEATURES, seed: int = 0):
    """An ONNX encoder: image (N, 3, 224, 224) -> relu(mean over the pixels (N, 3) @ W (3, F))."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    weight = encoder_matrix(seed)[:, :features] if features <= FEATURES else np.ones((3, features), np.float32)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
         helper.make_node("MatMul", ["mean", "weight"], ["projected"]),
         helper.make_node("Relu", ["projected"], ["features"])],
        "tiny_encoder",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", features])],
        [numpy_helper.from_array(weight, "weight")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
