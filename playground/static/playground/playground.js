// The playground page: builds a chat completion from the form, streams it, and shows the answer.
// Every call goes to the gateway's own API with the staff member's session: same origin, the session
// cookie, and the CSRF token from the page in X-CSRFToken (see playground/auth.py). No client key here.
"use strict";

const csrfToken = document.body.dataset.csrfToken;
const byId = (id) => document.getElementById(id);
const models = new Map();
let uploaded = null;  // the uploaded image as a data URL

function api(path, options = {}) {
  const headers = { "X-CSRFToken": csrfToken, ...(options.headers || {}) };
  return fetch(path, { ...options, headers, credentials: "same-origin" });
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body.error && body.error.message) return body.error.message;
  } catch (ignored) { /* not JSON */ }
  return `HTTP ${response.status}`;
}

function describe(model) {
  const caps = model.capabilities || {};
  const parts = [`by ${model.owned_by}`];
  if (caps.input_images === null || caps.input_images === undefined) parts.push("input images: unknown");
  else if (caps.input_images === 0) parts.push("no input images");
  else parts.push(`takes ${caps.input_images} input image${caps.input_images === 1 ? "" : "s"}`);
  if (caps.mask) parts.push("mask");
  if (caps.sizes && caps.sizes.length) parts.push(`sizes ${caps.sizes.join(", ")}`);
  else if (caps.ratios && caps.ratios.length) parts.push(`ratios ${caps.ratios.join(", ")}`);
  if (caps.default_size) parts.push(`default ${caps.default_size}`);
  return parts.join(" · ");
}

async function loadModels() {
  const select = byId("model");
  const response = await api("/v1/models");
  if (!response.ok) {
    showError(`Models: ${await errorText(response)}`);
    return;
  }
  for (const model of (await response.json()).data) {
    models.set(model.id, model);
    const input = (model.capabilities || {}).input_images;
    const option = new Option(input ? `${model.id} (image input)` : model.id, model.id);
    select.add(option);
  }
  showModelInfo();
}

// GET /v1/styles may not exist on this gateway (404): then "none" is the only style.
async function loadStyles() {
  let response;
  try { response = await api("/v1/styles"); } catch (ignored) { return; }
  if (!response.ok) return;
  const body = await response.json().catch(() => ({}));
  for (const style of body.data || []) {
    const name = style.id || style.name;
    if (!name) continue;
    const option = new Option(name, name);
    if (style.description) option.title = style.description;
    byId("style").add(option);
  }
}

function showModelInfo() {
  const model = models.get(byId("model").value);
  byId("model-info").textContent = model ? describe(model) : "";
}

function showError(message) {
  const box = byId("error");
  box.textContent = message;
  box.hidden = !message;
}

function addProgress(text, kind) {
  const item = document.createElement("li");
  item.textContent = text;
  item.className = kind;
  byId("progress").append(item);
  return item;
}

function requestBody(sketch) {
  const ratio = byId("ratio").value;
  const idea = byId("idea").value.trim();
  // A ratio in the text is the chat endpoint's documented way to ask for a shape.
  const parts = [{ type: "text", text: ratio ? `${idea} ${ratio}` : idea }];
  for (const url of [uploaded, sketch.dataUrl()]) {
    if (url) parts.push({ type: "image_url", image_url: { url } });
  }
  const content = parts.length === 1 ? parts[0].text : parts;
  const body = { model: byId("model").value, messages: [{ role: "user", content }], n: Number(byId("n").value), stream: true };
  if (byId("style").value) body.style = byId("style").value;
  if (byId("optimizer").value) body.prompt_optimizer = byId("optimizer").value;
  return body;
}

async function generate(event, sketch) {
  event.preventDefault();
  const button = byId("generate");
  const body = requestBody(sketch);
  // What the person asked, as they put it, for the gallery card.
  const asked = { idea: byId("idea").value.trim(), ratio: byId("ratio").value, style: byId("style").value };
  asked.inputs = [uploaded && "upload", !sketch.blank && "sketch"].filter(Boolean).join(" and ");
  button.disabled = true;
  showError("");
  byId("progress").replaceChildren();
  addProgress(`Sent to ${body.model}.`, "step");
  try {
    const response = await api("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      showError(await errorText(response));
      return;
    }
    await streamAnswer(response, asked);
  } catch (failure) {
    showError(`The request failed: ${failure.message}`);
  } finally {
    button.disabled = false;
  }
}

async function streamAnswer(response, asked) {
  let markdown = "";
  let cost = "";
  let failed = false;
  let heartbeat = null;
  let beats = 0;
  await readChatStream(response, {
    progress: (text) => { heartbeat = null; addProgress(text.trim(), "step"); },
    heartbeat: () => {
      beats += 1;
      heartbeat = heartbeat || addProgress("", "heartbeat");
      heartbeat.textContent = `still working (keep-alive ×${beats})`;
    },
    content: (text) => { markdown += text; },
    cost: (value) => { cost = value; },
    error: (error) => { failed = true; showError(error.message || "The generation failed."); },
  });
  if (!markdown) {
    if (!failed) showError("The stream ended without an answer.");
    return;
  }
  addProgress("Done.", "step");
  addToGallery(parseAnswer(markdown), asked, cost);
}

function addToGallery(answer, asked, cost) {
  byId("gallery-empty")?.remove();
  const card = document.createElement("article");
  card.className = "card";
  const images = document.createElement("div");
  images.className = "images";
  for (const url of answer.images) {
    const link = document.createElement("a");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    const image = document.createElement("img");
    image.src = url;
    image.alt = answer.prompt;
    link.append(image);
    images.append(link);
  }
  card.append(images);
  const lines = [
    ["Idea", asked.idea],
    ["Ratio", asked.ratio],
    ["Style", asked.style],
    ["Input image", asked.inputs],
    [answer.promptLabel || "Prompt", answer.prompt],
    ["Model", answer.model],
    ["Cost", cost],
    ["Note", answer.note],
  ];
  for (const [label, text] of lines) {
    if (!text) continue;
    const line = document.createElement("p");
    line.className = "line";
    line.append(Object.assign(document.createElement("strong"), { textContent: `${label}: ` }), text);
    card.append(line);
  }
  byId("gallery").prepend(card);
}

function readUpload() {
  const file = byId("upload").files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    uploaded = reader.result;
    Object.assign(byId("upload-preview"), { src: uploaded, hidden: false });
    byId("upload-clear").hidden = false;
  };
  reader.readAsDataURL(file);
}

function clearUpload() {
  uploaded = null;
  byId("upload").value = "";
  byId("upload-preview").hidden = true;
  byId("upload-clear").hidden = true;
}

function start() {
  const sketch = new SketchPad(byId("sketch"), byId("pen-colour"), byId("pen-width"));
  byId("sketch-clear").addEventListener("click", () => sketch.clear());
  byId("upload").addEventListener("change", readUpload);
  byId("upload-clear").addEventListener("click", clearUpload);
  byId("model").addEventListener("change", showModelInfo);
  byId("idea-form").addEventListener("submit", (event) => generate(event, sketch));
  window.playgroundReady = Promise.all([loadModels(), loadStyles()]);
}

start();
