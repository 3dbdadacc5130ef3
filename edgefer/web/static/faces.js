// BlazeFace in the page exactly as edgefer.runtime.blazeface runs it for `predict` and `video`:
// the same model file and the settings it serves in /config.json (input size, anchors,
// threshold, NMS overlap). MediaPipe's FaceDetector decodes only the short-range model, so
// the network runs in MediaPipe's ImageEmbedder, which returns its raw outputs unchanged,
// and the letterbox and the decoding are done here, as blazeface.py does them.
import { ImageEmbedder } from "/vendor/vision_bundle.mjs";

function anchorCentres(size, layout) {
  // blazeface.anchor_centres: per grid, row by row, then per anchor.
  const centres = [];
  for (const [stride, perCell] of layout) {
    const cells = Math.ceil(size / stride);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let k = 0; k < perCell; k++) centres.push([(x + 0.5) / cells, (y + 0.5) / cells]);
      }
    }
  }
  return centres;
}

function iou(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]), h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  const inter = Math.max(0, w) * Math.max(0, h);
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

function weightedNms(candidates, threshold) {
  // blazeface.weighted_nms: each cluster around the best remaining box becomes the
  // score-weighted mean of its members, keeping the best score.
  let order = [...candidates].sort((a, b) => b.score - a.score);
  const merged = [];
  while (order.length) {
    const best = order[0];
    const members = order.filter((c, i) => i === 0 || iou(best.box, c.box) > threshold);
    order = order.filter((c, i) => i !== 0 && iou(best.box, c.box) <= threshold);
    const total = members.reduce((sum, c) => sum + c.score, 0);
    const box = [0, 1, 2, 3].map((j) => members.reduce((sum, c) => sum + c.score * c.box[j], 0) / total);
    merged.push({ box, score: best.score });
  }
  return merged;
}

export async function createFaceDetector(vision, settings, modelAssetPath) {
  const embedder = await ImageEmbedder.createFromOptions(vision, {
    baseOptions: { modelAssetPath, delegate: "CPU" }, runningMode: "IMAGE", l2Normalize: false, quantize: false,
  });
  const size = settings.input_size, anchors = anchorCentres(size, settings.anchor_layout);
  const stride = 4 + 2 * settings.keypoints;
  const input = document.createElement("canvas"), inputCtx = input.getContext("2d");
  input.width = input.height = size;

  // Faces in `source` (a canvas) as { originX, originY, width, height } boxes in its pixels, with a score.
  return function detect(source) {
    const width = source.width, height = source.height;
    // blazeface.letterbox: aspect kept, centred, black bars (-1 after MediaPipe's normalisation).
    const scale = size / Math.max(width, height);
    const newW = Math.max(1, Math.round(width * scale)), newH = Math.max(1, Math.round(height * scale));
    const padX = Math.floor((size - newW) / 2), padY = Math.floor((size - newH) / 2);
    inputCtx.fillStyle = "#000";
    inputCtx.fillRect(0, 0, size, size);
    inputCtx.imageSmoothingQuality = "high";
    inputCtx.drawImage(source, padX, padY, newW, newH);

    const outputs = embedder.embed(input).embeddings.map((e) => e.floatEmbedding);
    const raw = outputs.find((o) => o.length === anchors.length * stride);
    const logits = outputs.find((o) => o.length === anchors.length);
    const candidates = [];
    anchors.forEach(([ax, ay], i) => {
      const logit = Math.min(settings.score_clip, Math.max(-settings.score_clip, logits[i]));
      const score = 1 / (1 + Math.exp(-logit));
      if (score < settings.min_score) return;
      const [dx, dy, w, h] = raw.slice(i * stride, i * stride + 4).map((v) => v / size);
      const cx = ax + dx, cy = ay + dy;
      candidates.push({ box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], score });
    });
    const faces = [];
    for (const { box, score } of weightedNms(candidates, settings.iou_threshold)) {
      // blazeface._to_pixels: undo the letterbox, clip to the image, drop boxes wholly in the bars.
      const [xmin, ymin, xmax, ymax] = box.map((v, j) => (v * size - (j % 2 ? padY : padX)) / scale);
      const left = Math.max(0, Math.round(xmin)), top = Math.max(0, Math.round(ymin));
      const right = Math.min(width, Math.round(xmax)), bottom = Math.min(height, Math.round(ymax));
      if (right > left && bottom > top) {
        faces.push({ boundingBox: { originX: left, originY: top, width: right - left, height: bottom - top }, score });
      }
    }
    return faces.sort((a, b) => a.boundingBox.originX - b.boundingBox.originX || a.boundingBox.originY - b.boundingBox.originY);
  };
}
