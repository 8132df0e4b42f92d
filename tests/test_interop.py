"""rnnkit/interop/__init__.py: each name imports its module on first use, so optional packages stay optional."""

import subprocess
import sys

import pytest


def test_names_import_their_module_only_when_used():
    code = ("import sys, rnnkit.interop as interop\n"
            "assert not {'onnx', 'h5py', 'keras', 'torch'} & set(sys.modules), sorted(sys.modules)\n"
            "interop.export_torch\n"
            "assert 'rnnkit.interop.torch' in sys.modules and not {'onnx', 'h5py', 'keras', 'torch'} & set(sys.modules)\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_unknown_name_is_an_attribute_error():
    import rnnkit.interop
    with pytest.raises(AttributeError, match="no attribute 'export_tflite'"):
        rnnkit.interop.export_tflite  # noqa: B018
