// Reading a streamed chat completion (server-sent events) with fetch + ReadableStream. EventSource
// cannot POST or send headers, so the events are split here: a blank line ends an event, a line
// starting with ":" is a comment (the gateway's keep-alive heartbeat), "data: " lines carry JSON.
"use strict";

async function readChatStream(response, on) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (handleEvent(block, on) === "done") return;
    }
  }
}

function handleEvent(block, on) {
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) on.heartbeat(line.slice(1).trim());
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (data.length === 0) return null;
  const text = data.join("\n");
  if (text === "[DONE]") return "done";
  const chunk = JSON.parse(text);
  if (chunk.error) {
    on.error(chunk.error);
    return null;
  }
  for (const choice of chunk.choices || []) {
    const delta = choice.delta || {};
    if (delta.reasoning_content) on.progress(delta.reasoning_content);
    if (delta.content) on.content(delta.content);
  }
  if (chunk.cost !== undefined) on.cost(chunk.cost);
  return null;
}

// What the answer's Markdown says (README, POST /v1/chat/completions): the image links, the prompt
// sent to the vendor ("Optimized prompt:" or "Prompt:"), the model and size, and an optional note.
function parseAnswer(markdown) {
  const answer = { images: [], prompt: "", promptLabel: "", model: "", note: "" };
  for (const found of markdown.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)) answer.images.push(found[1]);
  for (const line of markdown.split("\n")) {
    const prompt = line.match(/^(Optimized prompt|Prompt): (.*)$/);
    if (prompt) [answer.promptLabel, answer.prompt] = [prompt[1], prompt[2]];
    else if (line.startsWith("Model: ")) answer.model = line.slice(7);
    else if (line.startsWith("Note: ")) answer.note = line.slice(6);
  }
  return answer;
}
