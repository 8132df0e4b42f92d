import numpy as np
import pytest

from rnnkit.data.timeseries import (
    SERIES,
    MinMaxScaler,
    StandardScaler,
    difference,
    load_series,
    persistence_forecast,
    seasonal_naive_forecast,
    sliding_windows,
    train_test_split_series,
    undifference,
)
from rnnkit.errors import ConfigError, DataError
from rnnkit.metrics import rmse


@pytest.fixture(scope="module")
def series_folder(data_dir):
    return data_dir / "time_series"


@pytest.fixture(scope="module")
def airline(series_folder):
    return load_series("airline-passengers", series_folder).values


def test_every_series_loads_with_its_length_and_period(series_folder):
    lengths = {name: len(load_series(name, series_folder).values) for name in SERIES}
    assert lengths == {
        "airline-passengers": 144, "shampoo": 36, "monthly-car-sales": 108, "daily-min-temperatures": 3650,
    }


def test_shampoo_years_one_to_three_become_months_of_years_0001_to_0003(series_folder):
    shampoo = load_series("shampoo", series_folder)
    assert shampoo.times[0] == np.datetime64("0001-01") and shampoo.times[-1] == np.datetime64("0003-12")
    assert shampoo.values[:2].tolist() == [266.0, 145.9]
    assert np.all(np.diff(shampoo.times) == np.timedelta64(1, "M"))


def test_daily_temperatures_are_dated_days_with_a_365_day_season(series_folder):
    temperatures = load_series("daily-min-temperatures", series_folder)
    assert temperatures.times[0] == np.datetime64("1981-01-01")
    assert temperatures.times[-1] == np.datetime64("1990-12-31")
    assert temperatures.period == 365 and temperatures.values[0] == 20.7


def test_malformed_row_names_file_and_line(tmp_path):
    (tmp_path / "shampoo.csv").write_text('"Month","Sales"\n"1-01",266.0\n"1-02",n/a\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"shampoo.csv:3: expected a time"):
        load_series("shampoo", tmp_path)


def test_split_keeps_order_and_puts_first_67_percent_in_train(airline):
    train, test = train_test_split_series(airline)
    assert (len(train), len(test)) == (96, 48)
    np.testing.assert_array_equal(np.concatenate([train, test]), airline)


def test_split_refuses_an_empty_part():
    with pytest.raises(ConfigError, match="empty part"):
        train_test_split_series(np.arange(10.0), train_fraction=1.0)


@pytest.mark.parametrize("scaler_class", [MinMaxScaler, StandardScaler])
def test_scaler_round_trip_and_json_state(scaler_class):
    train, test = np.array([3.0, 7.5, 1.25, 9.0]), np.array([12.0, -4.0])
    scaler = scaler_class().fit(train)
    restored = scaler_class.from_json(scaler.to_json())
    np.testing.assert_allclose(restored.inverse_transform(scaler.transform(test)), test, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(restored.transform(test), scaler.transform(test))


def test_min_max_scaler_maps_training_data_onto_unit_interval_only():
    scaler = MinMaxScaler().fit(np.array([2.0, 4.0, 6.0]))
    np.testing.assert_allclose(scaler.transform([2.0, 4.0, 6.0, 10.0]), [0.0, 0.5, 1.0, 2.0])


def test_standard_scaler_gives_training_data_zero_mean_unit_std():
    scaled = StandardScaler().fit(np.array([1.0, 2.0, 3.0, 10.0])).transform([1.0, 2.0, 3.0, 10.0])
    assert scaled.mean() == pytest.approx(0.0, abs=1e-12) and scaled.std() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("lag", [1, 12])
def test_undifference_inverts_difference_exactly(airline, lag):
    differences = difference(airline, lag)
    assert len(differences) == len(airline) - lag
    np.testing.assert_array_equal(undifference(differences, airline[:lag], lag), airline)


def test_difference_at_lag_two_by_hand():
    assert difference(np.array([1.0, 4.0, 9.0, 16.0]), lag=2).tolist() == [8.0, 12.0]
    assert undifference(np.array([8.0, 12.0]), np.array([1.0, 4.0]), lag=2).tolist() == [1.0, 4.0, 9.0, 16.0]


def test_sliding_windows_shapes_and_content():
    X, Y = sliding_windows(np.arange(10.0), look_back=3, horizon=2)
    assert X.shape == (6, 3) and Y.shape == (6, 2)
    assert X[0].tolist() == [0, 1, 2] and Y[0].tolist() == [3, 4]
    assert X[-1].tolist() == [5, 6, 7] and Y[-1].tolist() == [8, 9]


def test_sliding_windows_too_long_is_a_data_error():
    with pytest.raises(DataError, match="no window"):
        sliding_windows(np.arange(3.0), look_back=3)


def test_baselines_by_hand():
    series = np.arange(30.0) ** 2
    targets = np.array([12, 20, 29])
    assert persistence_forecast(series, targets).tolist() == [121.0, 361.0, 784.0]
    assert seasonal_naive_forecast(series, targets, lag=12).tolist() == [0.0, 64.0, 289.0]
    with pytest.raises(DataError, match="no value 12 steps earlier"):
        seasonal_naive_forecast(series, [11, 12])


def test_airline_baselines_reproduce_the_lstm_tutorial_reference(airline):
    # The tutorial windows the test part (from index 96) with look_back 1, and its
    # create_dataset drops the last window: its targets are the points 97 ... 142.
    targets = np.arange(97, 143)
    assert rmse(airline[targets], persistence_forecast(airline, targets)) == pytest.approx(48.7, abs=0.05)
    assert rmse(airline[targets], seasonal_naive_forecast(airline, targets, lag=12)) == pytest.approx(42.3, abs=0.05)


def test_airline_baselines_on_our_windows_of_the_test_part_are_within_half_a_unit(airline):
    train, test = train_test_split_series(airline)
    look_back = 1
    _, Y = sliding_windows(test, look_back)
    targets = len(train) + look_back + np.arange(len(Y))
    np.testing.assert_array_equal(airline[targets], Y[:, 0])
    assert rmse(Y[:, 0], persistence_forecast(airline, targets)) == pytest.approx(48.7, abs=0.5)
    assert rmse(Y[:, 0], seasonal_naive_forecast(airline, targets, lag=12)) == pytest.approx(42.3, abs=0.5)
