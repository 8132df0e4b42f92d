"""The page of ``rnnkit serve`` end to end in headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium): a person types, clicks and reads what streams in; a screenshot of each page.

Skipped with the reason when Chromium, its driver or Selenium is missing, except in CI (CI set),
where that fails. ``RNNKIT_SCREENSHOTS=DIR`` keeps the screenshots in DIR (default: the test's tmp_path).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from rnnkit.tasks import classification, language_model, runs
from rnnkit.tasks.poems import generate_poem
from serve_helpers import running, train_classifier_run, train_poem_run, train_text_run

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1100,820", "--force-device-scale-factor=1",
                  "--lang=en-US"]
WAIT = 30          # seconds for anything the page does


def find_browser() -> tuple[str, str]:
    """The Chromium binary and its driver, or a skip (a failure in CI) saying what is missing."""
    missing = []
    try:
        import selenium  # noqa: F401  (only whether it is there)
    except ImportError:
        missing.append("Selenium (pip install selenium)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium:
        missing.append("Chromium (apt-get install chromium)")
    if not driver:
        missing.append("ChromeDriver (apt-get install chromium-driver)")
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return chromium, driver


@contextlib.contextmanager
def chromium(binary: str, driver_path: str):
    """Headless Chromium under Selenium, with a new empty profile and nothing that calls out."""
    os.environ.setdefault("SE_AVOID_STATS", "true")      # Selenium Manager: no calls out
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="rnnkit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    with chromium(*find_browser()) as driver:
        yield driver


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("RNNKIT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_for(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(lambda d: condition(d), message)


def open_page(driver, server):
    from selenium.webdriver.common.by import By
    driver.get(server.url)
    wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true",
             "the page did not read /api/info")


def fill(driver, element_id: str, value) -> None:
    from selenium.webdriver.common.by import By
    element = driver.find_element(By.ID, element_id)
    element.clear()
    element.send_keys(str(value))


def set_range(driver, element_id: str, value: float) -> None:
    """A slider moved to ``value``, as a person's drag fires ``input``."""
    driver.execute_script("const e = document.getElementById(arguments[0]); e.value = arguments[1];"
                          "e.dispatchEvent(new Event('input'));", element_id, str(value))


def state_of(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, element_id).get_attribute("data-state")


def visible_text(driver, element_id: str) -> str:
    """The element's text as the DOM holds it (white space kept, not as rendered)."""
    return driver.execute_script("return document.getElementById(arguments[0]).textContent", element_id)


def test_a_person_primes_the_model_and_watches_the_text_stream_in(browser, tmp_path, screenshots):
    from selenium.webdriver.common.by import By
    run_dir = train_text_run(tmp_path / "text")
    run = runs.load_run(run_dir)
    expected = "".join(language_model.sample(run, 2000, "the lazy dog", 0.6, 8, rng=np.random.default_rng(7)))
    with running(run_dir) as server:
        open_page(browser, server)
        assert "run" in browser.find_element(By.ID, "about").text
        assert not browser.find_element(By.ID, "modes").is_displayed()         # no poems from this model
        fill(browser, "prime", "the lazy dog")
        set_range(browser, "temperature", 0.6)
        assert browser.find_element(By.ID, "temperature-value").text == "0.6"
        fill(browser, "top-k", 8)
        fill(browser, "length", 2000)
        fill(browser, "seed", 7)
        browser.find_element(By.ID, "generate").click()
        wait_for(browser, lambda d: state_of(d, "output") == "done", "the generation did not finish")
        assert visible_text(browser, "output-prime") == "the lazy dog"
        assert visible_text(browser, "output-text") == expected
        # it came in pieces as the server drew the characters, not as one answer at the end
        # (seen: 46 to 88 reads of the stream for these 2000 characters)
        assert int(browser.find_element(By.ID, "output").get_attribute("data-chunks")) > 1
        assert browser.find_element(By.ID, "status").text.startswith("2000 characters in ")
        assert not browser.find_element(By.ID, "error").is_displayed()
        browser.save_screenshot(str(screenshots / "serve-text.png"))

        # a bad request shows the server's one-line error, and the page stays usable
        fill(browser, "prime", "THE LAZY DOG")
        browser.find_element(By.ID, "generate").click()
        wait_for(browser, lambda d: state_of(d, "output") == "error", "the error was not shown")
        error = browser.find_element(By.ID, "error")
        assert error.is_displayed() and "`prime` has characters the model has never seen" in error.text
        fill(browser, "prime", "the")
        fill(browser, "length", 30)
        browser.find_element(By.ID, "generate").click()
        wait_for(browser, lambda d: state_of(d, "output") == "done", "the page did not recover")
        assert not error.is_displayed() and len(visible_text(browser, "output-text")) == 30


def test_a_person_writes_an_acrostic_poem(browser, tmp_path, screenshots):
    from selenium.webdriver.common.by import By
    run_dir = train_poem_run(tmp_path / "poems")
    run = runs.load_run(run_dir)
    expected = generate_poem(run.model, run.spec.vocab, 7, 4, "春花明月", 0.8, 0, np.random.default_rng(3))
    with running(run_dir) as server:
        open_page(browser, server)
        browser.find_element(By.ID, "mode-poem").click()
        assert browser.find_element(By.ID, "poem-options").is_displayed()
        assert not browser.find_element(By.ID, "prime").is_displayed()
        browser.find_element(By.CSS_SELECTOR, "input[name=chars][value='7']").click()
        fill(browser, "acrostic", "春花明月")
        fill(browser, "seed", 3)
        browser.find_element(By.ID, "generate").click()
        wait_for(browser, lambda d: state_of(d, "output") == "done", "the poem did not come")
        assert visible_text(browser, "output-text").split("\n") == expected
        browser.save_screenshot(str(screenshots / "serve-poem.png"))


def test_a_person_classifies_texts_and_reads_labels_and_probabilities(browser, tmp_path, screenshots):
    from selenium.webdriver.common.by import By
    run_dir = train_classifier_run(tmp_path / "classifier")
    run = runs.load_run(run_dir)
    texts = ["the film is great", "an awful plot with actors", "the music is okay"]
    expected = classification.predict([run], texts)
    with running(run_dir) as server:
        open_page(browser, server)
        assert not browser.find_element(By.ID, "writer").is_displayed()
        fill(browser, "texts", "\n".join(texts) + "\n\n")
        browser.find_element(By.ID, "classify").click()
        wait_for(browser, lambda d: state_of(d, "results") == "done", "no labels came")
        rows = browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
        assert [row.find_element(By.CSS_SELECTOR, "td.text").text for row in rows] == texts
        labels = [row.find_element(By.CSS_SELECTOR, "td.label").text for row in rows]
        assert labels == [run.spec.labels[k] for k in expected.argmax(axis=1)] == ["pos", "neg", "mid"]
        for row, probabilities in zip(rows, expected):
            shown = {bar.find_element(By.CSS_SELECTOR, ".name").text: bar.find_element(By.CSS_SELECTOR, ".value").text
                     for bar in row.find_elements(By.CSS_SELECTOR, ".bar")}
            assert shown == {label: f"{p:.3f}" for label, p in zip(run.spec.labels, probabilities)}
        browser.save_screenshot(str(screenshots / "serve-classify.png"))


def screenshot(run_dir: str, out: str, prime: str, length: int, temperature: float, seed: int) -> None:
    """The page of a run, after one generation, as a PNG (how docs/serve.png is made):

        python tests/test_serve_browser.py RUN_DIR docs/serve.png --prime "ROMEO:" --seed 1
    """
    from selenium.webdriver.common.by import By
    with chromium(*find_browser()) as driver, running(run_dir) as server:
        driver.set_window_size(1100, 940)
        open_page(driver, server)
        fill(driver, "prime", prime)
        set_range(driver, "temperature", temperature)
        fill(driver, "length", length)
        fill(driver, "seed", seed)
        driver.find_element(By.ID, "generate").click()
        wait_for(driver, lambda d: state_of(d, "output") == "done", "the generation did not finish")
        driver.save_screenshot(out)


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=screenshot.__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("out")
    parser.add_argument("--prime", default="")
    parser.add_argument("--length", type=int, default=500)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    screenshot(options.run_dir, options.out, options.prime, options.length, options.temperature, options.seed)
