"""The forecasting workflows (``rnnkit.tasks.forecasting``) through the Python API: the series source
(built in, or the user's CSV), train, refit, resume (with data that moved), evaluate, ensembles, predict."""

import hashlib
import shutil
from dataclasses import replace

import numpy as np
import pytest

from rnnkit.errors import ConfigError, DataError
from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.tasks import forecasting
from rnnkit.tasks.forecasting import ForecastSpec, Member, Scores, SeriesSource
from rnnkit.tasks.runs import TrainResult
from tiny_forecasts import (is_png, noisy_season, results, tiny_config, tiny_spec, train_losses, write_csv,
                            write_series)


def quiet(_):
    """An ``echo`` that says nothing."""


def fast_spec(data, **options) -> ForecastSpec:
    """A small LSTM (hidden 4, look-back 6) on the airline look-alike in ``data``."""
    model = ForecasterConfig(hidden_size=4, horizon=options.pop("horizon", 1))
    return ForecastSpec(SeriesSource.built_in("airline-passengers", data), model, **{"look_back": 6, **options})


def fast_config(**options):
    return forecasting.train_config(**{"epochs": 15, "eval_every": 5, **options})


def evaluate_run(run_dir, **options) -> Scores:
    members, spec = forecasting.load_members([run_dir])
    return forecasting.evaluate(members, spec, run_dir, **options)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A run of horizon 2 on a 72-month look-alike of the airline series, scored as `forecast train` does."""
    root = tmp_path_factory.mktemp("forecasting")
    data, _ = write_series(root / "data")
    run_dir = root / "run"
    result = forecasting.train(fast_spec(data, horizon=2), fast_config(), run_dir, progress=False, echo=quiet)
    assert isinstance(result, TrainResult) and result.run_dir == run_dir and result.step > 0
    evaluate_run(run_dir)
    evaluate_run(run_dir, steps=2, strategy="direct")
    return run_dir, data


# -- the series ------------------------------------------------------------------------------


def test_a_source_is_either_a_csv_column_or_a_built_in_series(tmp_path):
    with pytest.raises(ConfigError, match="give either a CSV `file` .* or a built-in `series`, not neither"):
        SeriesSource()
    with pytest.raises(ConfigError, match="not both"):
        SeriesSource(file="sales.csv", column="units", series="shampoo")
    with pytest.raises(ConfigError, match="which column of sales.csv is the series\\? give its `column`"):
        SeriesSource(file="sales.csv")
    with pytest.raises(ConfigError, match="unknown series 'sunspots'"):
        SeriesSource(series="sunspots")
    source = SeriesSource.built_in("shampoo", tmp_path)
    assert source.folder == str((tmp_path / "time_series").resolve()) and source.name == "shampoo"
    assert SeriesSource(file=str(tmp_path / "sales.csv"), column="units").name == "sales"


def test_a_moved_series_is_found_where_it_is_now_and_only_there(tmp_path):
    built_in = SeriesSource.built_in("shampoo", tmp_path / "old")
    assert built_in.moved(data_dir=tmp_path / "new").folder == str((tmp_path / "new" / "time_series").resolve())
    assert built_in.moved() == built_in
    own = SeriesSource(file=str(tmp_path / "old.csv"), column="units", date_column="month")
    assert own.moved(file=tmp_path / "new.csv") == SeriesSource(file=str((tmp_path / "new.csv").resolve()),
                                                                column="units", date_column="month")
    with pytest.raises(ConfigError, match="the built-in series shampoo: give `data_dir` to say where it is now"):
        built_in.moved(file=tmp_path / "new.csv")
    with pytest.raises(ConfigError, match="old.csv: give `file` to say where it is now"):
        own.moved(data_dir=tmp_path)


def test_a_spec_names_its_bad_fields():
    source = SeriesSource(series="shampoo", folder="/nowhere")
    for options, field in (({"train_fraction": 1.0}, "train_fraction"), ({"val_fraction": -0.1}, "val_fraction"),
                           ({"look_back": 0}, "look_back"), ({"batch_size": 2.5}, "batch_size"),
                           ({"dtype": "float16"}, "dtype")):
        with pytest.raises(ConfigError, match=f"`{field}`"):
            ForecastSpec(source, **options)
    with pytest.raises(ConfigError, match="unknown scaler 'robust'"):
        ForecastSpec(source, scaler="robust")


def test_a_spec_goes_into_the_checkpoint_and_comes_back_the_same(trained_run):
    run_dir, data = trained_run
    run = forecasting.load_run(run_dir)
    expected, _, _ = forecasting.prepare(fast_spec(data, horizon=2))
    assert run.spec == expected and ForecastSpec.from_json(run.spec.to_json()) == run.spec
    assert run.spec.transform.seasonal_lag == 12 and run.spec.transform.difference      # the series' season


# -- train, evaluate, predict ----------------------------------------------------------------


def test_train_and_evaluate_score_the_model_and_both_baselines_and_draw_them(trained_run):
    run_dir, _ = trained_run
    scores = results(run_dir)
    assert set(scores["airline-passengers-1-step"]) == {"lstm", "persistence", "seasonal naive"}
    assert set(scores["airline-passengers-2-step"]) == {"lstm (direct)", "persistence", "seasonal naive"}
    for png in ("curves.png", "forecast-1.png", "forecast-2.png"):
        assert is_png(run_dir / png)


def test_evaluate_scores_rmse_and_mae_several_steps_ahead(trained_run, tmp_path):
    run_dir, _ = trained_run
    scores = evaluate_run(run_dir, steps=3)
    assert scores.title == "airline-passengers: 24 test points, 3-step-ahead forecasts"
    assert list(scores.table) == ["lstm (recursive)", "persistence", "seasonal naive"]
    assert all(set(errors) == {"rmse", "mae"} for errors in scores.table.values())
    assert results(run_dir)["airline-passengers-3-step"] == scores.table
    text = forecasting.format_table(scores).splitlines()
    assert text[0] == scores.title and text[1].split() == ["method", "RMSE", "MAE"]
    assert text[2].startswith("lstm (recursive)") and text[4].startswith("seasonal naive")


def test_an_ensemble_averages_its_members_forecasts(trained_run, tmp_path):
    run_dir, data = trained_run
    other = tmp_path / "run-seed-1"
    forecasting.train(fast_spec(data), fast_config(seed=1), other, progress=False, echo=quiet)
    evaluate_run(other)
    members, spec = forecasting.load_members([run_dir, other])
    assert all(isinstance(m, Member) for m in members) and spec == forecasting.load_run(run_dir).spec
    ensemble = forecasting.evaluate(members, spec, tmp_path).table
    alone = [results(run)["airline-passengers-1-step"] for run in (run_dir, other)]
    assert set(ensemble) == {"lstm ensemble", "persistence", "seasonal naive"}
    assert ensemble["persistence"] == alone[0]["persistence"]
    # the mean forecast's absolute error is at most the mean of the members' (triangle inequality)
    assert ensemble["lstm ensemble"]["mae"] <= (alone[0]["lstm"]["mae"] + alone[1]["lstm"]["mae"]) / 2 + 1e-9


def test_evaluate_on_the_validation_part_scores_its_points(trained_run):
    run_dir, _ = trained_run
    scores = evaluate_run(run_dir, part="val")
    assert scores.title.startswith("airline-passengers: 7 val points")          # 15 % of the first 48 months
    assert set(results(run_dir)["airline-passengers-1-step-val"]) == {"lstm", "persistence", "seasonal naive"}
    assert is_png(run_dir / "forecast-1-val.png")
    with pytest.raises(ConfigError, match="unknown part 'train'"):
        evaluate_run(run_dir, part="train")


def test_an_ensemble_of_different_test_parts_is_refused(trained_run, tmp_path):
    run_dir, data = trained_run
    other = tmp_path / "shorter-training"
    forecasting.train(fast_spec(data, train_fraction=0.8), fast_config(max_steps=2), other, progress=False,
                      echo=quiet)
    with pytest.raises(ConfigError, match="differ in train_fraction: an ensemble needs runs of the same series "
                                          "and `train_fraction`"):
        forecasting.load_members([run_dir, other])


def test_direct_forecasts_beyond_the_horizon_are_refused(trained_run):
    run_dir, _ = trained_run
    with pytest.raises(ConfigError, match="direct forecast reaches 2 steps"):
        evaluate_run(run_dir, steps=3, strategy="direct")


def test_predict_gives_the_next_months_in_the_series_units(trained_run):
    run_dir, _ = trained_run
    times, values = forecasting.predict(forecasting.load_run(run_dir), steps=3)
    assert [str(t) for t in times] == ["1955-01", "1955-02", "1955-03"]
    assert values.shape == (3,) and np.all((100 < values) & (values < 400))
    with pytest.raises(ConfigError, match="unknown strategy 'sideways'"):
        forecasting.predict(forecasting.load_run(run_dir), strategy="sideways")


def test_a_new_run_will_not_overwrite_a_run(trained_run):
    run_dir, data = trained_run
    with pytest.raises(ConfigError, match="already holds a run"):
        forecasting.train(fast_spec(data), fast_config(), run_dir, progress=False)


def test_too_long_a_look_back_is_a_data_error(tmp_path):
    data, _ = write_series(tmp_path / "data")
    with pytest.raises(DataError, match="leave no training or validation window"):
        forecasting.train(fast_spec(data, look_back=40), fast_config(), tmp_path / "run", progress=False)


def test_log_transform_of_the_real_airline_series_trains(data_dir, tmp_path):
    spec = ForecastSpec(SeriesSource.built_in("airline-passengers", data_dir), ForecasterConfig(hidden_size=4),
                        look_back=6, log=True)
    forecasting.train(spec, fast_config(), tmp_path / "run", progress=False, echo=quiet)
    assert "48 test points" in evaluate_run(tmp_path / "run").title
    assert forecasting.load_run(tmp_path / "run").spec.transform.log


# -- refit -----------------------------------------------------------------------------------


def test_refit_retrains_for_the_best_number_of_updates_without_the_test_part(tmp_path):
    data, _ = write_series(tmp_path / "data")
    runs = [tmp_path / "run", tmp_path / "run-other-test-part"]
    spec, config = fast_spec(data, batch_size=1), fast_config(epochs=2)            # one window per update
    forecasting.train(spec, config, runs[0], refit=True, progress=False, echo=quiet)
    path = data / "time_series" / "airline-passengers.csv"
    lines = path.read_text().splitlines()
    lines[49:] = [f"{line.split(',')[0]},{10 * int(line.split(',')[1])}" for line in lines[49:]]   # test months
    path.write_text("\n".join(lines) + "\n")
    forecasting.train(spec, config, runs[1], refit=True, progress=False, echo=quiet)
    refit, early, other = (forecasting.load_run(path) for path in (runs[0], runs[0] / "early-stopping", runs[1]))
    assert refit.spec.refit == {"updates": early.trainer["step"], "early_stopping_run": "early-stopping"}
    assert early.spec.refit is None
    assert refit.trainer["step"] == early.trainer["step"] == forecasting.load_run(runs[0], "last").trainer["step"]
    # training months 0-40 hold 22 windows after look-back 6 + differencing 13, validation months 41-47 seven more
    assert early.trainer["task_state"]["num_batches"] == 22 and refit.trainer["task_state"]["num_batches"] == 22 + 7
    for name, value in refit.model.state_dict().items():  # ten times other test values: the very same model
        np.testing.assert_array_equal(value, other.model.state_dict()[name])
    with pytest.raises(ConfigError, match="is a refit run, which trains twice from the start and cannot resume"):
        forecasting.resume(runs[0], {"max_steps": 100}, progress=False)


# -- the user's own series -------------------------------------------------------------------


def test_a_csv_series_trains_evaluates_and_predicts_after_its_last_date(tmp_path):
    path, values = write_csv(tmp_path / "sales.csv")
    spec = tiny_spec(SeriesSource(file=str(path), column="units", date_column="month"))
    result = forecasting.train(spec, forecasting.train_config(max_steps=12, eval_every=4), tmp_path / "run",
                               progress=False, echo=quiet)
    assert (result.stop_reason, result.step) == ("max steps", 12) and np.isfinite(result.best_score)
    run = forecasting.load_run(tmp_path / "run")
    assert run.spec.data == SeriesSource(file=str(path), column="units", date_column="month",
                                         sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    assert run.spec.transform.seasonal_lag == 12                        # monthly dates: a yearly season
    scores = evaluate_run(tmp_path / "run")
    assert scores.title == "sales: 24 test points, 1-step-ahead forecasts"
    assert set(scores.table) == {"lstm", "persistence", "seasonal naive"}
    test = values[48:]
    persistence = np.sqrt(np.mean((test - values[47:71]) ** 2))
    assert scores.table["persistence"]["rmse"] == pytest.approx(persistence)
    assert scores.table["lstm"]["rmse"] < 5 * persistence                   # a forecast, not nonsense
    assert results(tmp_path / "run")["sales-1-step"] == scores.table
    times, future = forecasting.predict(run, steps=3)
    assert [str(t) for t in times] == ["2024-01", "2024-02", "2024-03"]   # after the file's last month, 2023-12
    assert np.all((values.min() < future) & (future < 1.5 * values.max()))


def test_a_quarterly_csv_predicts_the_next_quarters(tmp_path):
    quarters = 100 + np.arange(40) + 10 * np.tile([1, -1, 2, -2], 10) + np.random.default_rng(1).normal(0, 2, 40)
    rows = [f"{2000 + k // 4}-{3 * (k % 4) + 1:02d}-01,{v:.2f}" for k, v in enumerate(quarters)]
    path = tmp_path / "quarters.csv"
    path.write_text("date,sales\n" + "\n".join(rows) + "\n")                 # the last quarter starts 2009-10
    spec = tiny_spec(SeriesSource(file=str(path), column="sales", date_column="date"), val_fraction=0.3)
    forecasting.train(spec, forecasting.train_config(max_steps=4, eval_every=2), tmp_path / "run", progress=False,
                      echo=quiet)
    run = forecasting.load_run(tmp_path / "run")
    assert run.spec.transform.seasonal_lag == 4
    times, _ = forecasting.predict(run, steps=3)
    assert [str(t) for t in times] == ["2010-01", "2010-04", "2010-07"]


def test_a_csv_without_dates_counts_steps_and_takes_the_season_given(tmp_path):
    values = noisy_season(48)
    path = tmp_path / "plain.csv"
    path.write_text("units\n" + "\n".join(f"{v:.3f}" for v in values) + "\n")
    spec = tiny_spec(SeriesSource(file=str(path), column="units", season=12))
    forecasting.train(spec, forecasting.train_config(max_steps=2, eval_every=2), tmp_path / "run", progress=False,
                      echo=quiet)
    run = forecasting.load_run(tmp_path / "run")
    assert run.spec.transform.seasonal_lag == 12
    times, _ = forecasting.predict(run, steps=2)
    assert times.tolist() == [48, 49]


@pytest.mark.parametrize("row,expected", [
    ("2018-05,north,abc", r"line 6, column 'units': 'abc' is not a number"),
    ("2018-05,north,nan", r"line 6, column 'units': 'nan' is not a finite number"),
    ("2018-05,north,inf", r"line 6, column 'units': 'inf' is not a finite number"),
])
def test_a_bad_value_in_a_csv_is_a_data_error_naming_line_and_column(tmp_path, row, expected):
    path, _ = write_csv(tmp_path / "sales.csv")
    lines = path.read_text().splitlines()
    lines[5] = row                                                             # line 6 of the file
    path.write_text("\n".join(lines) + "\n")
    spec = tiny_spec(SeriesSource(file=str(path), column="units", date_column="month"))
    with pytest.raises(DataError, match=expected):
        forecasting.train(spec, tiny_config(), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_missing_column_or_too_short_a_csv_is_a_data_error(tmp_path):
    path, _ = write_csv(tmp_path / "sales.csv")
    with pytest.raises(DataError, match="has no column 'sold' \\(`column`\\): its header has the columns "
                                        "'month', 'region', 'units'"):
        forecasting.train(tiny_spec(SeriesSource(file=str(path), column="sold")), tiny_config(), tmp_path / "run")
    short, _ = write_csv(tmp_path / "short.csv", noisy_season(20))
    with pytest.raises(DataError, match="holds 20 values: a series with a season of 12 steps needs at least 36"):
        forecasting.train(tiny_spec(SeriesSource(file=str(short), column="units", date_column="month")),
                          tiny_config(), tmp_path / "run")


# -- resume ----------------------------------------------------------------------------------


def test_a_built_in_series_that_moved_resumes_exactly(tmp_path):
    data, _ = write_series(tmp_path / "data")
    spec, config = tiny_spec(SeriesSource.built_in("airline-passengers", data)), tiny_config(epochs=20)
    whole = forecasting.train(spec, replace(config, max_steps=14), tmp_path / "whole", progress=False, echo=quiet)
    forecasting.train(spec, replace(config, max_steps=5), tmp_path / "cut", progress=False, echo=quiet)
    data.rename(tmp_path / "moved")                                             # the old place is gone
    with pytest.raises(DataError, match="not found"):
        forecasting.resume(tmp_path / "cut", {"max_steps": 14}, progress=False)
    resumed = forecasting.resume(tmp_path / "cut", {"max_steps": 14}, data_dir=tmp_path / "moved", progress=False,
                                 echo=quiet)
    assert (resumed.step, resumed.stop_reason) == (whole.step, whole.stop_reason) == (14, "max steps")
    assert len(train_losses(tmp_path / "cut")) == 14
    assert train_losses(tmp_path / "cut") == train_losses(tmp_path / "whole")         # exactly
    assert resumed.best_score == whole.best_score
    run = forecasting.load_run(tmp_path / "cut", "last")
    assert run.spec.data.folder == str((tmp_path / "moved" / "time_series").resolve())   # recorded where it is now


def test_a_csv_that_moved_resumes_exactly(tmp_path):
    path, _ = write_csv(tmp_path / "here" / "sales.csv")
    spec = tiny_spec(SeriesSource(file=str(path), column="units", date_column="month"))
    config = tiny_config(epochs=20)
    forecasting.train(spec, replace(config, max_steps=14), tmp_path / "whole", progress=False, echo=quiet)
    forecasting.train(spec, replace(config, max_steps=6), tmp_path / "cut", progress=False, echo=quiet)
    moved = tmp_path / "there" / "sales.csv"
    moved.parent.mkdir()
    shutil.copy(path, moved)
    path.unlink()
    with pytest.raises(ConfigError, match="give `file` to say where it is now"):
        forecasting.resume(tmp_path / "cut", {"max_steps": 14}, data_dir=tmp_path, progress=False)
    forecasting.resume(tmp_path / "cut", {"max_steps": 14}, file=moved, progress=False, echo=quiet)
    assert train_losses(tmp_path / "cut") == train_losses(tmp_path / "whole")
    assert len(train_losses(tmp_path / "whole")) == 14
    assert forecasting.load_run(tmp_path / "cut", "last").spec.data.file == str(moved.resolve())
    members, spec = forecasting.load_members([tmp_path / "cut"])
    assert forecasting.evaluate(members, spec, tmp_path / "cut").title.startswith("sales: 24 test points")


def test_a_resumed_run_keeps_its_own_options(trained_run, tmp_path):
    run_dir, _ = trained_run
    with pytest.raises(ConfigError, match="`seed` cannot change; only `epochs`, `max_steps`"):
        forecasting.resume(run_dir, {"seed": 3}, progress=False)

