// The page of `rnnkit serve`: asks /api/info what the run is, then shows the writer
// (a character model: text streamed as it is drawn, poems for a poem model) or the classifier.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;
let mode = "text";
let running = null;          // the AbortController of the generation in progress

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (_) { /* not JSON */ }
  return `the server answered ${response.status} ${response.statusText}`;
}

function optionalInteger(value) {
  return value.trim() === "" ? null : Number(value);
}

function describe(info) {
  const about = $("about");
  about.textContent = "";
  const name = document.createElement("b");
  name.textContent = info.run;
  about.append(name);
  const what = info.task === "char-lm"
    ? `character model, ${info.vocab_size} characters${info.poem ? ", poems" : ""}`
    : `classifier of ${info.labels.length} classes`;
  about.append(` · ${what} · ${info.model.cell.toUpperCase()} ${info.model.layers}`
               + (info.step != null ? ` · step ${info.step}` : ""));
  document.title = `rnnkit · ${info.run}`;
}

// -- the writer ---------------------------------------------------------------------------------

function setMode(next) {
  mode = next;
  for (const [name, button] of [["text", $("mode-text")], ["poem", $("mode-poem")]]) {
    button.classList.toggle("active", name === mode);
    button.setAttribute("aria-pressed", String(name === mode));
  }
  $("text-options").hidden = mode !== "text";
  $("length-label").hidden = mode !== "text";
  $("poem-options").hidden = mode !== "poem";
  $("stop").hidden = mode !== "text";          // a poem comes whole, in a moment
  $("generate").textContent = mode === "text" ? "Generate" : "Write a poem";
}

function samplingOptions() {
  return {
    temperature: Number($("temperature").value),
    top_k: optionalInteger($("top-k").value) ?? 0,
    seed: optionalInteger($("seed").value),
  };
}

function setRunning(on) {
  $("generate").disabled = on;
  $("stop").disabled = !on;
}

async function generateText() {
  const output = $("output");
  const prime = $("prime").value;
  const request = { prime, length: optionalInteger($("length").value), ...samplingOptions() };
  const text = document.createTextNode("");
  $("output-prime").textContent = prime;
  $("output-text").replaceChildren(text);
  output.classList.remove("poem");
  output.dataset.state = "running";
  output.dataset.chunks = "0";
  running = new AbortController();
  setRunning(true);
  const started = performance.now();
  let count = 0;
  try {
    const response = await fetch("api/generate", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request), signal: running.signal,
    });
    if (!response.ok) throw new Error(await errorOf(response));
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const piece = decoder.decode(value, { stream: true });
      text.appendData(piece);
      count += [...piece].length;
      output.dataset.chunks = String(Number(output.dataset.chunks) + 1);
      output.scrollTop = output.scrollHeight;
      const seconds = (performance.now() - started) / 1000;
      $("status").textContent = `${count} characters · ${Math.round(count / Math.max(seconds, 1e-3))} /s`;
    }
    text.appendData(decoder.decode());
    output.dataset.state = "done";
    $("status").textContent = `${count} characters in ${((performance.now() - started) / 1000).toFixed(2)} s`;
  } catch (error) {
    if (error.name === "AbortError") {
      output.dataset.state = "stopped";
      $("status").textContent = `stopped after ${count} characters`;
    } else {
      output.dataset.state = "error";
      $("status").textContent = "";
      showError(error.message === "network error" || error instanceof TypeError
        ? `the generation broke off: ${error.message}` : error.message);
    }
  } finally {
    running = null;
    setRunning(false);
  }
}

async function writePoem() {
  const output = $("output");
  const acrostic = $("acrostic").value.trim();
  const request = {
    chars_per_line: Number(document.querySelector("input[name=chars]:checked").value),
    lines: acrostic ? null : Number(document.querySelector("input[name=lines]:checked").value),
    acrostic, ...samplingOptions(),
  };
  output.dataset.state = "running";
  output.classList.add("poem");
  $("output-prime").textContent = "";
  $("output-text").textContent = "";
  setRunning(true);
  try {
    const response = await fetch("api/poem", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    if (!response.ok) throw new Error(await errorOf(response));
    const poem = await response.json();
    $("output-text").textContent = poem.lines.join("\n");
    output.dataset.state = "done";
    $("status").textContent = "";
  } catch (error) {
    output.dataset.state = "error";
    showError(error.message);
  } finally {
    setRunning(false);
  }
}

function setUpWriter() {
  $("writer").hidden = false;
  $("length").max = String(info.limits.max_length);
  $("length").value = String(info.defaults.length);
  $("temperature").value = String(info.defaults.temperature);
  $("temperature-value").textContent = String(info.defaults.temperature);
  $("top-k").max = String(info.vocab_size);
  $("prime").maxLength = info.limits.max_prime;
  $("modes").hidden = !info.poem;
  $("temperature").addEventListener("input", () => {
    $("temperature-value").textContent = $("temperature").value;
  });
  $("mode-text").addEventListener("click", () => setMode("text"));
  $("mode-poem").addEventListener("click", () => setMode("poem"));
  $("stop").addEventListener("click", () => running && running.abort());
  $("write-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showError("");
    (mode === "text" ? generateText : writePoem)();
  });
}

// -- the classifier -----------------------------------------------------------------------------

function resultRow(result, labels) {
  const row = document.createElement("tr");
  const text = document.createElement("td");
  text.className = "text";
  text.textContent = result.text;
  const label = document.createElement("td");
  label.className = "label";
  label.textContent = result.label;
  const bars = document.createElement("td");
  const order = labels.map((name, k) => k).sort((a, b) => result.probabilities[b] - result.probabilities[a]);
  for (const k of order) {
    const bar = document.createElement("div");
    bar.className = "bar" + (labels[k] === result.label ? " top" : "");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = labels[k];
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.display = "block";
    fill.style.width = `${(100 * result.probabilities[k]).toFixed(1)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = result.probabilities[k].toFixed(3);
    bar.append(name, track, value);
    bars.append(bar);
  }
  row.append(text, label, bars);
  return row;
}

async function classify() {
  const table = $("results");
  const texts = $("texts").value.split("\n").filter((line) => line.trim() !== "");
  table.dataset.state = "running";
  $("classify").disabled = true;
  try {
    if (!texts.length) throw new Error("type a text to classify, one per line");
    const response = await fetch("api/classify", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ texts }),
    });
    if (!response.ok) throw new Error(await errorOf(response));
    const answer = await response.json();
    table.tBodies[0].replaceChildren(...answer.results.map((r) => resultRow(r, answer.labels)));
    table.hidden = false;
    table.dataset.state = "done";
    $("classify-status").textContent = `${answer.results.length} text${answer.results.length > 1 ? "s" : ""}`;
  } catch (error) {
    table.dataset.state = "error";
    showError(error.message);
  } finally {
    $("classify").disabled = false;
  }
}

function setUpClassifier() {
  $("classifier").hidden = false;
  $("classify-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showError("");
    classify();
  });
}

// -- start --------------------------------------------------------------------------------------

async function start() {
  try {
    const response = await fetch("api/info");
    if (!response.ok) throw new Error(await errorOf(response));
    info = await response.json();
  } catch (error) {
    $("about").textContent = "";
    showError(`cannot read the run: ${error.message}`);
    return;
  }
  describe(info);
  if (info.task === "char-lm") setUpWriter(); else setUpClassifier();
  document.body.dataset.ready = "true";
}

start();
