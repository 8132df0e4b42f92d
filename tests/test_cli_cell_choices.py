"""Every task whose model takes any cell of ``models.char_lm.RECURRENT_LAYERS`` offers all of them as --cell (issue
17: minGRU and minLSTM for every task); translation and captioning's decoder takes LSTM and GRU only."""

import pytest

from rnnkit.cli.main import build_parser, main
from rnnkit.models.char_lm import RECURRENT_LAYERS
from tiny_forecasts import TINY, write_series


def cell_choices(*command: str) -> list[str]:
    parser = build_parser()
    for name in command:
        parser = next(action for action in parser._actions if action.dest in ("command", "action")).choices[name]
    return sorted(next(action for action in parser._actions if action.dest == "cell").choices)


@pytest.mark.parametrize("command", [("train",), ("classify", "train"), ("forecast", "train"),
                                     ("forecast", "backtest"), ("music", "train")], ids=" ".join)
def test_the_cell_choices_are_the_models_table(command):
    assert cell_choices(*command) == sorted(RECURRENT_LAYERS)
    assert {"mingru", "minlstm"} <= set(RECURRENT_LAYERS)


@pytest.mark.parametrize("command", [("translate", "train"), ("caption", "train")], ids=" ".join)
def test_the_seq2seq_decoders_offer_lstm_and_gru(command):
    assert cell_choices(*command) == ["gru", "lstm"]


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_a_forecaster_trains_with_a_min_cell(tmp_path, capsys, cell):
    data, _ = write_series(tmp_path / "data")
    run = tmp_path / "run"
    assert main(["forecast", "train", "--data-dir", str(data), "--out", str(run), "--cell", cell, *TINY]) == 0
    assert "persistence" in capsys.readouterr().out
