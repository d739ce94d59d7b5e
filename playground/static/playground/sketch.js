// The sketch pad: a <canvas> drawn on with Pointer Events, which cover mouse, pen and touch alike
// (CSS touch-action: none keeps a finger drawing instead of scrolling the page). The background is
// painted white so the PNG sent as the input image has no transparent areas for a model to guess at.
"use strict";

class SketchPad {
  constructor(canvas, colourInput, widthInput) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.colourInput = colourInput;
    this.widthInput = widthInput;
    this.drawing = false;
    this.clear();
    canvas.addEventListener("pointerdown", (event) => this.start(event));
    canvas.addEventListener("pointermove", (event) => this.move(event));
    for (const name of ["pointerup", "pointercancel", "pointerleave"]) {
      canvas.addEventListener(name, () => { this.drawing = false; });
    }
  }

  clear() {
    this.context.fillStyle = "#ffffff";
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.blank = true;
  }

  // Where the pointer is, in the canvas's own pixels (it is drawn scaled by CSS).
  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) * this.canvas.width) / box.width,
      y: ((event.clientY - box.top) * this.canvas.height) / box.height,
    };
  }

  start(event) {
    event.preventDefault();
    if (this.canvas.setPointerCapture && event.pointerId !== undefined) {
      try { this.canvas.setPointerCapture(event.pointerId); } catch (ignored) { /* synthetic pointer */ }
    }
    this.drawing = true;
    this.last = this.point(event);
    this.line(this.last, { x: this.last.x + 0.1, y: this.last.y + 0.1 });  // a tap leaves a dot
  }

  move(event) {
    if (!this.drawing) return;
    event.preventDefault();
    const next = this.point(event);
    this.line(this.last, next);
    this.last = next;
  }

  line(from, to) {
    const context = this.context;
    context.strokeStyle = this.colourInput.value;
    context.lineWidth = Number(this.widthInput.value);
    context.lineCap = "round";
    context.lineJoin = "round";
    context.beginPath();
    context.moveTo(from.x, from.y);
    context.lineTo(to.x, to.y);
    context.stroke();
    this.blank = false;
  }

  // The sketch as a PNG data URL, or null when nothing was drawn since the last clear.
  dataUrl() {
    return this.blank ? null : this.canvas.toDataURL("image/png");
  }
}
