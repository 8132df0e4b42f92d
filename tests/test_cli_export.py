"""``rnnkit export RUN --to torch|keras|onnx FILE``: the files load where they go, and what cannot go is refused."""

import json

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.tasks import language_model
from tiny_lm import quiet, tiny_config, tiny_spec, write_corpus
from tiny_runs import one_line_error


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    corpus = write_corpus(root)
    language_model.train(tiny_spec(corpus), tiny_config(max_steps=6), root / "run", progress=False, echo=quiet)
    return root / "run"


def test_torch_export_loads_strictly_into_the_modules_its_header_names(run, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from safetensors import safe_open
    from safetensors.torch import load_file
    path = tmp_path / "model.safetensors"
    assert main(["export", str(run), str(path), "--to", "torch"]) == 0
    assert capsys.readouterr().out.strip() == str(path)
    with safe_open(str(path), "pt") as file:                         # the README's recipe
        modules = json.loads(file.metadata()["rnnkit.torch_modules"])
    model = torch.nn.ModuleDict({name: getattr(torch.nn, m["type"])(**m["args"]) for name, m in modules.items()})
    model.load_state_dict(load_file(str(path)), strict=True)
    trained = language_model.load_run(run).model
    ids = np.array([[1], [2], [3]])
    with torch.no_grad():
        hidden, _ = model["rnn"](model["embedding"](torch.from_numpy(ids)))
        logits = model["decoder"](hidden).numpy()
    np.testing.assert_allclose(logits, trained(ids)[0], rtol=1e-5, atol=1e-6)


def test_onnx_export_runs_in_onnxruntime_as_the_model_does(run, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "model.onnx"
    assert main(["export", str(run), str(path), "--to", "onnx"]) == 0
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    trained = language_model.load_run(run).model
    ids = np.array([[4], [1], [0], [2]], dtype=np.int64)
    feeds = {"ids": ids}
    for node in session.get_inputs()[1:]:                             # zero initial states
        feeds[node.name] = np.zeros([s if isinstance(s, int) else 1 for s in node.shape], np.float32)
    logits = session.run(None, feeds)[0]
    np.testing.assert_allclose(logits, trained(ids)[0], rtol=1e-5, atol=1e-5)


def test_keras_export_writes_a_weights_file(run, tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "model.weights.h5"
    assert main(["export", str(run), str(path), "--to", "keras"]) == 0
    with h5py.File(path, "r") as file:
        assert len(file.keys()) > 0


def test_a_file_of_the_wrong_kind_and_a_variant_the_format_lacks_are_one_line_errors(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nowhere"), str(tmp_path / "m.onnx"), "--to", "torch"]) == 2
    assert "a torch export is written to a .safetensors file" in one_line_error(capsys.readouterr().err)
    corpus = write_corpus(tmp_path)
    spec = tiny_spec(corpus)
    peephole = language_model.train(spec, tiny_config(max_steps=2), tmp_path / "run", progress=False, echo=quiet)
    assert main(["export", str(peephole.run_dir), str(tmp_path / "x.safetensors"), "--to", "torch",
                 "--which", "last"]) == 0                           # a plain LSTM goes
    assert main(["export", str(tmp_path / "nowhere"), str(tmp_path / "m.onnx"), "--to", "onnx"]) == 2
    assert "no checkpoint at" in one_line_error(capsys.readouterr().err)
