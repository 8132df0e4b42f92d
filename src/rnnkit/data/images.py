"""Image files to feature vectors, through a frozen image encoder in ONNX format (onnxruntime, Pillow).

    encoder = ImageEncoder("encoder.onnx")               # its SHA-256, input and output sizes
    features = encoder.encode(["a.jpg", "b.jpg"])         # (2, F) float32
    write_feature_cache(folder, ["a.jpg", "b.jpg"], features, encoder)   # features.safetensors + index

The preprocessing (``PREPROCESSING``; EfficientNet-Lite's, that of the shared captioning
folder's ``features.safetensors``):

    1. decode with Pillow, convert to RGB (the EXIF orientation is ignored, as COCO does)
    2. resize so that the shorter side is S = 256 px (bicubic); the longer side becomes
       max(S, round(L S / shorter))
    3. centre-crop C x C, C = 224: left = (W - C) // 2, top = (H - C) // 2
    4. x = (pixel - 127) / 128, float32, laid out (3, C, C), channels R, G, B

The encoder takes a float32 batch (N, 3, C, C) and gives (N, F). onnxruntime and Pillow are
an optional extra (``pip install 'rnnkit[images]'``), imported when an image is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rnnkit.data.tables import file_sha256
from rnnkit.errors import ConfigError, DataError

SHORTER_SIDE, CROP, OFFSET, SCALE = 256, 224, 127.0, 128.0
PREPROCESSING = {
    "decode": "Pillow Image.open(...).convert(\"RGB\"); EXIF orientation ignored",
    "resize": f"shorter side to {SHORTER_SIDE} px, Pillow Image.BICUBIC, longer side max({SHORTER_SIDE}, "
              f"round(L*{SHORTER_SIDE}/S))",
    "crop": f"center {CROP}x{CROP}: left=(W-{CROP})//2, top=(H-{CROP})//2 on the resized image",
    "normalize": f"(x - {OFFSET}) / {SCALE} on uint8 RGB values, same for all channels",
    "layout": f"float32 NCHW (N,3,{CROP},{CROP}), channel order R,G,B",
}
FEATURES_FILE, INDEX_FILE = "features.safetensors", "features_index.json"
EXTRA = "pip install 'rnnkit[images]'"
BATCH = 16


def _pillow():
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ConfigError(f"reading images needs Pillow and onnxruntime: {EXTRA}") from None
    return Image, UnidentifiedImageError


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(f"reading images needs onnxruntime and Pillow: {EXTRA}") from None
    return onnxruntime


def preprocess(path: str | Path) -> np.ndarray:
    """An image file -> float32 (3, 224, 224), as ``PREPROCESSING`` says."""
    Image, UnidentifiedImageError = _pillow()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file: check the path")
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"{path} is not an image Pillow can read ({type(error).__name__}): give a JPEG or PNG "
                        "file") from None
    width, height = image.size
    scale = SHORTER_SIDE / min(width, height)
    size = (max(SHORTER_SIDE, round(width * scale)), max(SHORTER_SIDE, round(height * scale)))
    image = image.resize(size, Image.BICUBIC)
    left, top = (size[0] - CROP) // 2, (size[1] - CROP) // 2
    pixels = np.asarray(image.crop((left, top, left + CROP, top + CROP)), dtype=np.float32)
    return np.ascontiguousarray(((pixels - OFFSET) / SCALE).transpose(2, 0, 1))


class ImageEncoder:
    """A frozen image encoder in ONNX format: float32 images (N, 3, 224, 224) -> features (N, F)."""

    def __init__(self, path: str | Path):
        onnxruntime = _onnxruntime()
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"the encoder {self.path} does not exist or is not a file: check the path")
        self.sha256 = file_sha256(self.path)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as error:   # onnxruntime raises its own types for a file it cannot load
            raise DataError(f"{self.path} is not an ONNX model onnxruntime can run ({type(error).__name__})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise DataError(f"the encoder {self.path} must take one input (N, 3, {CROP}, {CROP}) and give "
                            "features (N, F)")
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        self._feature_size: int | None = None

    @property
    def feature_size(self) -> int:
        """F, from the output's shape, or from encoding a blank image when the shape does not say."""
        if self._feature_size is None:
            size = self.session.get_outputs()[0].shape[-1]
            self._feature_size = size if isinstance(size, int) else self._run(np.zeros((1, 3, CROP, CROP),
                                                                                     np.float32)).shape[1]
        return self._feature_size

    def _run(self, batch: np.ndarray) -> np.ndarray:
        try:
            (features, *_) = self.session.run([self.output_name], {self.input_name: batch})
        except Exception as error:   # onnxruntime's own error types
            raise DataError(f"the encoder {self.path} cannot encode a batch of shape {batch.shape} "
                            f"({type(error).__name__}): it must take (N, 3, {CROP}, {CROP}) images") from None
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or len(features) != len(batch):
            raise DataError(f"the encoder {self.path} gives outputs of shape {features.shape} for {len(batch)} "
                            "images: it must give (N, F) features")
        return features

    def encode(self, paths: Sequence[str | Path], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Features (N, F) of the image files ``paths``, a batch of 16 at a time; ``progress(k)`` after each
        batch of k images."""
        if not len(paths):
            raise DataError("no image to encode")
        rows = []
        for begin in range(0, len(paths), BATCH):
            chunk = paths[begin:begin + BATCH]
            rows.append(self._run(np.stack([preprocess(path) for path in chunk])))
            if progress is not None:
                progress(len(chunk))
        features = np.concatenate(rows)
        self._feature_size = features.shape[1]
        if not np.all(np.isfinite(features)):
            raise DataError(f"the encoder {self.path} gave features that are not finite")
        return features

    def record(self) -> dict:
        """What an index records of the encoder and the preprocessing."""
        return {"encoder": str(self.path.resolve()), "encoder_sha256": self.sha256, "preprocessing": PREPROCESSING}


def write_feature_cache(folder: str | Path, images: Sequence[str], features: np.ndarray,
                        encoder: ImageEncoder) -> tuple[Path, Path]:
    """FOLDER/features.safetensors and FOLDER/features_index.json in the shared folder's format (row i is
    image ``images[i]``), written atomically; their paths."""
    from safetensors.numpy import save_file

    from rnnkit.training.atomic import atomic_write_text
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    features_path, index_path = folder / FEATURES_FILE, folder / INDEX_FILE
    partial = features_path.with_name(features_path.name + ".partial")
    save_file({"features": np.ascontiguousarray(features, dtype=np.float32)}, str(partial))
    partial.replace(features_path)
    index = {"features_file": FEATURES_FILE, "tensor": "features", "shape": list(features.shape),
             "dtype": "float32", "images": list(images), **encoder.record()}
    atomic_write_text(index_path, json.dumps(index, indent=1) + "\n")
    return features_path, index_path
