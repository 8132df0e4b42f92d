import os

import numpy as np
import pytest

from rnnkit.data.timeseries import (
    MIN_SEASONS,
    MIN_VALUES,
    SERIES,
    MinMaxScaler,
    StandardScaler,
    difference,
    frequency_of,
    load_series,
    read_series_csv,
    seasonal_naive_forecast,
    train_test_split_series,
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
    with pytest.raises(DataError, match=r"shampoo.csv line 3: expected a time"):
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


def test_difference_at_lag_two_by_hand(airline):
    assert difference(np.array([1.0, 4.0, 9.0, 16.0]), lag=2).tolist() == [8.0, 12.0]
    assert len(difference(airline, 12)) == len(airline) - 12
    with pytest.raises(DataError, match="lag must be in"):
        difference(np.arange(3.0), lag=3)


def test_baselines_by_hand():
    series = np.arange(30.0) ** 2
    targets = np.array([12, 20, 29])
    assert seasonal_naive_forecast(series, targets, lag=1).tolist() == [121.0, 361.0, 784.0]  # persistence
    assert seasonal_naive_forecast(series, targets, lag=12).tolist() == [0.0, 64.0, 289.0]
    with pytest.raises(DataError, match="no value 12 steps earlier"):
        seasonal_naive_forecast(series, [11, 12])


def test_airline_baselines_reproduce_the_lstm_tutorial_reference(airline):
    # The tutorial windows the test part (from index 96) with look_back 1, and its
    # create_dataset drops the last window: its targets are the points 97 ... 142.
    targets = np.arange(97, 143)
    assert rmse(airline[targets], seasonal_naive_forecast(airline, targets, lag=1)) == pytest.approx(48.7, abs=0.05)
    assert rmse(airline[targets], seasonal_naive_forecast(airline, targets, lag=12)) == pytest.approx(42.3, abs=0.05)


# -- a user's own series: read_series_csv ----------------------------------------------------


def write_series(tmp_path, lines, name="sales.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def monthly_rows(count, start_year=2001, value=lambda i: 100.0 + i):
    return [f"{start_year + i // 12}-{i % 12 + 1:02d},{value(i)}" for i in range(count)]


def test_monthly_dates_give_months_a_season_of_12_and_the_file_stem_as_name(tmp_path):
    path = write_series(tmp_path, ["month,units"] + monthly_rows(40))
    series = read_series_csv(path, "units", date_column="month")
    assert series.name == "sales" and series.period == 12 and len(series.values) == 40
    assert series.values.dtype == np.float64 and series.values[:2].tolist() == [100.0, 101.0]
    assert series.times.dtype == np.dtype("datetime64[M]") and series.times[0] == np.datetime64("2001-01")
    assert series.times[-1] + 2 * series.step == np.datetime64("2004-06")


def test_without_dates_the_times_are_steps_and_the_season_is_given_or_one(tmp_path):
    path = write_series(tmp_path, ["units", *map(str, range(30))])
    series = read_series_csv(path, "units")
    assert series.times.tolist() == list(range(30)) and series.period == 1
    assert read_series_csv(path, "units", season=7).period == 7


@pytest.mark.parametrize("dates, season, unit", [
    ([f"{np.datetime64('2020-02-20') + i}" for i in range(30)], 7, "D"),                     # daily
    ([f"{np.datetime64('2020-01-06') + 7 * i}" for i in range(160)], 52, "D"),               # weekly
    ([f"{2000 + i // 12}-{i % 12 + 1:02d}-01" for i in range(40)], 12, "M"),                # monthly, as days
    ([f"{2000 + i // 4}-{3 * (i % 4) + 1:02d}" for i in range(16)], 4, "M"),                # quarterly
    ([f"{1900 + i}" for i in range(15)], 1, "Y"),                                             # yearly
])
def test_the_season_is_inferred_from_the_spacing_of_the_dates(tmp_path, dates, season, unit):
    path = write_series(tmp_path, ["date,value"] + [f"{date},{i}" for i, date in enumerate(dates)])
    series = read_series_csv(path, "value", "date")
    assert series.period == season and series.times.dtype == np.dtype(f"datetime64[{unit}]")
    assert np.all(np.diff(series.times) == series.step)


def test_a_given_season_overrides_the_inferred_one(tmp_path):
    path = write_series(tmp_path, ["day,value"] + [f"{np.datetime64('2020-01-01') + i},{i}" for i in range(400)])
    assert read_series_csv(path, "value", "day", season=91).period == 91


def test_frequency_of_irregular_dates_has_no_season():
    frequency = frequency_of(np.array(["2020-01-01", "2020-01-11", "2020-01-21"], dtype="datetime64[D]"))
    assert (frequency.name, frequency.season, frequency.step) == ("irregular", 1, np.timedelta64(10, "D"))


def test_tsv_and_quoted_headers_and_other_columns(tmp_path):
    rows = ['"when"\t"units"\t"note"'] + [f"{r.split(',')[0]}\t{r.split(',')[1]}\tx" for r in monthly_rows(36)]
    series = read_series_csv(write_series(tmp_path, rows, "s.tsv"), "units", "when")
    assert len(series.values) == 36 and series.period == 12


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_nan_or_inf_names_file_line_and_column(tmp_path, value):
    rows = monthly_rows(40)
    rows[4] = rows[4].split(",")[0] + "," + value  # line 6 of the file (the header is line 1)
    path = write_series(tmp_path, ["month,units"] + rows)
    expected = rf"sales.csv line 6, column 'units': '{value}' is not a finite number"
    with pytest.raises(DataError, match=expected) as error:
        read_series_csv(path, "units", "month")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("value, expected", [("12a", "'12a' is not a number"), ("", "the value is missing")])
def test_a_non_number_names_file_line_and_column(tmp_path, value, expected):
    path = write_series(tmp_path, ["units,other", *(f"{i},x" for i in range(20)), f"{value},x"])
    with pytest.raises(DataError, match=rf"sales.csv line 22, column 'units': {expected}"):
        read_series_csv(path, "units")


def test_too_few_values_says_how_many_are_needed(tmp_path):
    path = write_series(tmp_path, ["month,units"] + monthly_rows(30))
    with pytest.raises(DataError, match=r"holds 30 values: a series with a season of 12 steps needs at least 36"):
        read_series_csv(path, "units", "month")
    assert len(read_series_csv(path, "units", "month", season=4).values) == 30
    short = write_series(tmp_path, ["units", "1", "2", "3"], "short.csv")
    with pytest.raises(DataError, match=rf"holds 3 values.*at least {MIN_VALUES}"):
        read_series_csv(short, "units")
    assert MIN_SEASONS * 12 == 36


def test_missing_columns_list_the_header(tmp_path):
    path = write_series(tmp_path, ["month,units"] + monthly_rows(40))
    with pytest.raises(DataError, match=r"no column 'sales' \(`column`\): its header has the columns 'month', 'units'"):
        read_series_csv(path, "sales")
    with pytest.raises(DataError, match=r"no column 'date' \(`date_column`\)"):
        read_series_csv(path, "units", "date")


def test_a_missing_column_shows_a_huge_or_wide_header_cut_short(tmp_path):
    path = write_series(tmp_path, ["x" * 100_000 + ",units"] + monthly_rows(40))
    with pytest.raises(DataError, match=r"its header has the columns 'xxx.*\.\.\.', 'units'$") as error:
        read_series_csv(path, "sales")
    assert len(str(error.value)) < 500
    wide = write_series(tmp_path, [",".join(f"c{k}" for k in range(5000))] + [",".join("1" * 5000)], "wide.csv")
    with pytest.raises(DataError, match=r"\.\.\. \(5000 columns\)$") as error:
        read_series_csv(wide, "sales")
    assert len(str(error.value)) < 500


def test_a_fifo_or_a_device_is_refused_as_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"pipe.csv is a FIFO \(named pipe\): rnnkit reads its data more than once"):
        read_series_csv(fifo, "units")


def test_missing_file_and_wrong_extension(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_series_csv(tmp_path / "nope.csv", "units")
    with pytest.raises(DataError, match=r"is a \.txt file: time series are read from a \.csv"):
        read_series_csv(write_series(tmp_path, ["units", "1"], "s.txt"), "units")


@pytest.mark.parametrize("row, bad, expected", [
    (0, "01/2001", r"line 2, column 'month': '01/2001' is not a date of the form YYYY-MM-DD, YYYY-MM or YYYY"),
    (4, "2001/05", r"line 6, column 'month': '2001/05' is not a date of the form YYYY-MM, as the first row's"),
    (4, "2001-13", r"line 6, column 'month': '2001-13' is not a date of the form YYYY-MM, as the first row's"),
    (4, "2001-05-01", r"line 6, column 'month': '2001-05-01' is not a date of the form YYYY-MM"),
    (4, "2001-03", r"line 6: date 2001-03 \(column 'month'\) is not after the date before it, 2001-04"),
    (4, "2001-04", r"line 6: date 2001-04 \(column 'month'\) is not after the date before it, 2001-04"),
])
def test_bad_or_unordered_dates_name_the_line(tmp_path, row, bad, expected):
    rows = monthly_rows(40)
    rows[row] = bad + ",1.0"
    with pytest.raises(DataError, match=expected):
        read_series_csv(write_series(tmp_path, ["month,units"] + rows), "units", "month")


def test_a_season_below_one_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="`season` is 0"):
        read_series_csv(write_series(tmp_path, ["units", "1"]), "units", season=0)


def test_a_missing_step_of_a_regular_series_names_the_gap(tmp_path):
    rows = monthly_rows(40)
    del rows[5:7]                                        # two months missing after line 6
    with pytest.raises(DataError, match=r"line 7, column 'month': 2001-08 follows 2001-05, so 2 step\(s\) of the "
                                        r"series are missing \(and 1 gap\(s\) in all\): add a row for every step"):
        read_series_csv(write_series(tmp_path, ["month,units"] + rows), "units", "month")


def test_irregular_dates_have_no_steps_to_miss(tmp_path):
    days = np.cumsum([0, 3, 10, 4, 17, 1, 9, 25, 2, 6, 11, 5, 8, 3])
    rows = [f"{np.datetime64('2020-01-01') + int(day)},{i}" for i, day in enumerate(days)]
    assert len(read_series_csv(write_series(tmp_path, ["day,value"] + rows), "value", "day").values) == 14


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_a_built_in_series_file_with_nan_or_inf_names_file_line_and_column(tmp_path, value):
    (tmp_path / "shampoo.csv").write_text(f'"Month","Sales"\n"1-01",266.0\n"1-02",{value}\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"shampoo.csv line 3, column 'Sales': '{value}' is not a finite number"):
        load_series("shampoo", tmp_path)


def test_a_built_in_series_file_out_of_order_names_the_line(tmp_path):
    (tmp_path / "shampoo.csv").write_text('"Month","Sales"\n"1-01",1\n"1-03",2\n"1-02",3\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"shampoo.csv line 4: time 0001-02 is not after the time before it, 0001-03"):
        load_series("shampoo", tmp_path)
