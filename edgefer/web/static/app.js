// The page of `edgefer web`: source (webcam, image or video) -> BlazeFace, as `predict` runs it (faces.js)
// -> each face crop, grown by edgefer's margin (or the whole image, opened as a face crop) -> the canonical
// face, made as `predict` makes it (canonical_face.js) -> the emotion model (MediaPipe ImageClassifier).
import { FilesetResolver, ImageClassifier } from "/vendor/vision_bundle.mjs";
import { toFace } from "/canonical_face.js";
import { createFaceDetector } from "/faces.js";

const params = new URLSearchParams(location.search);
const reportAfter = Number(params.get("report") || 0);  // frames; the browser test reads the report
const $ = (id) => document.getElementById(id);
const canvas = $("out"), ctx = canvas.getContext("2d", { willReadFrequently: true }), video = $("video");

const config = await (await fetch("/config.json")).json();
const vision = await FilesetResolver.forVisionTasks("/vendor/wasm");
const detect = await createFaceDetector(vision, config.detector, "/models/face_detector.tflite");
const classifier = await ImageClassifier.createFromOptions(vision, {
  baseOptions: { modelAssetPath: "/models/emotion.tflite", delegate: "CPU" },
  runningMode: "IMAGE", maxResults: config.labels.length,
});
$("status").textContent = `ready: ${config.model} (${config.input_size} px), choose a source`;

let source = null, sourceName = "", looping = false, frames = 0, reported = false;
const times = [];

function grownBox(box, width, height) {
  // edgefer.runtime.faces.crop_face: the box grown by the margin on every side, clipped.
  const dx = Math.round(box.width * config.margin), dy = Math.round(box.height * config.margin);
  const left = Math.max(0, box.originX - dx), top = Math.max(0, box.originY - dy);
  const right = Math.min(width, box.originX + box.width + dx), bottom = Math.min(height, box.originY + box.height + dy);
  return { left, top, width: right - left, height: bottom - top };
}

function classify(box) {
  // The crop's pixels as drawn, reduced to the canonical face the model takes as it is.
  const size = config.input_size, { data } = ctx.getImageData(box.left, box.top, box.width, box.height);
  const face = toFace(data, box.width, box.height, size), image = new ImageData(size, size);
  face.forEach((v, i) => image.data.set([v, v, v, 255], 4 * i));
  const categories = classifier.classify(image).classifications[0].categories;
  const scores = Object.fromEntries(config.labels.map((label) => [label, 0]));
  for (const c of categories) scores[c.categoryName] = c.score;
  const label = config.labels.reduce((a, b) => (scores[b] > scores[a] ? b : a));
  return { label, score: scores[label], scores };
}

function drawBars(f, size) {
  // The face's seven probabilities as bars beside its box (left of it when the right has no room).
  const rowHeight = size + 4, width = 6 * size + 100;
  const x = f.box.left + f.box.width + 6 + width > canvas.width ? Math.max(0, f.box.left - width - 6)
    : f.box.left + f.box.width + 6;
  ctx.fillStyle = "rgba(0, 0, 0, 0.65)";
  ctx.fillRect(x, f.box.top, width, rowHeight * config.labels.length + 4);
  config.labels.forEach((label, i) => {
    const y = f.box.top + 2 + i * rowHeight;
    ctx.fillStyle = label === f.label ? "#fc3" : "#3c6";
    ctx.fillRect(x + 4.5 * size, y + 2, 100 * f.scores[label], size);
    ctx.fillStyle = "#eee";
    ctx.fillText(label, x + 4, y + size);
  });
}

function draw(faces, fps) {
  const size = Math.max(12, Math.round(canvas.width / 50));
  ctx.lineWidth = Math.max(2, canvas.width / 300);
  ctx.font = `${size}px sans-serif`;
  for (const f of faces) {
    ctx.strokeStyle = "#3c6";
    ctx.strokeRect(f.box.left, f.box.top, f.box.width, f.box.height);
    const text = `${f.label} ${(100 * f.score).toFixed(0)}%`;
    ctx.fillStyle = "#000";
    ctx.fillRect(f.box.left, f.box.top - size - 8, ctx.measureText(text).width + 8, size + 8);
    ctx.fillStyle = "#3c6";
    ctx.fillText(text, f.box.left + 4, f.box.top - 5);
    drawBars(f, size);
  }
  const rate = `${fps.toFixed(1)} frames/s`;
  ctx.fillStyle = "rgba(0, 0, 0, 0.65)";
  ctx.fillRect(0, 0, ctx.measureText(rate).width + 12, size + 10);
  ctx.fillStyle = "#eee";
  ctx.fillText(rate, 6, size + 4);
  $("faces").innerHTML = faces.map((f, i) => `<div class="face"><b>face ${i + 1}: ${f.label}</b>` +
    config.labels.map((l) => `<div class="bar${l === f.label ? " top" : ""}"><span>${l}</span>` +
      `<span><span class="fill" style="width:${(100 * f.scores[l]).toFixed(1)}%"></span></span>` +
      `<span>${(100 * f.scores[l]).toFixed(0)}%</span></div>`).join("") + "</div>").join("");
}

function step() {
  // A still image is drawn and classified once (or for as many frames as a report waits for).
  if (!source || (source instanceof HTMLImageElement && frames >= Math.max(1, reportAfter))) {
    looping = false;
    return;
  }
  const width = source.videoWidth || source.naturalWidth, height = source.videoHeight || source.naturalHeight;
  if (width && height) {
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    // On white, as edgefer.preprocessing flattens a transparent image: the face a cut-out shows.
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(source, 0, 0, width, height);
    const whole = { left: 0, top: 0, width, height };
    const faces = source instanceof HTMLImageElement && $("crops").checked
      ? [{ box: whole, detection: null, detectorScore: null, ...classify(whole) }]
      : detect(canvas).map((d) => {
        const box = grownBox(d.boundingBox, width, height);
        return { box, detection: d.boundingBox, detectorScore: d.score, ...classify(box) };
      });
    frames += 1;
    times.push(performance.now());
    while (times.length > 1 && times[times.length - 1] - times[0] > 2000) times.shift();
    const fps = times.length > 1 ? (1000 * (times.length - 1)) / (times[times.length - 1] - times[0]) : 0;
    draw(faces, fps);
    $("status").textContent = `${faces.length} face(s), ${fps.toFixed(1)} frames/s (detection + classification)`;
    if (reportAfter && frames >= reportAfter && !reported) {
      reported = true;
      fetch("/report", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ source: sourceName, frames, fps, width, height, faces,
          screenshot: canvas.toDataURL("image/png") }) });
    }
  }
  requestAnimationFrame(step);
}

function show(next, name) {
  // Each source counts its own frames (a report is per source); one drawing loop serves them all.
  source = next; sourceName = name; frames = 0; reported = false;
  if (!looping) { looping = true; requestAnimationFrame(step); }
}

async function useCamera() {
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  await video.play();
  show(video, "camera");
}

$("camera").onclick = () => useCamera().catch((e) => { $("status").textContent = `camera: ${e.message}`; });
$("file").onchange = async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const url = URL.createObjectURL(file);
  if (file.type.startsWith("video/")) {
    video.srcObject = null; video.src = url; await video.play(); show(video, file.name);
  } else {
    const image = new Image(); image.src = url; await image.decode(); URL.revokeObjectURL(url); show(image, file.name);
  }
};
$("crops").onchange = () => { if (source) show(source, sourceName); };  // the shown image, read the other way
if (params.get("crops")) $("crops").checked = true;
if (params.get("camera")) $("camera").click();
