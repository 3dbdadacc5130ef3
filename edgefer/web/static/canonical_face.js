// edgefer.preprocessing.to_face in the page: a crop's luminance as Pillow's convert("L") computes it,
// resized to the canonical face by sample_bilinear's integer arithmetic (OpenCV's warpAffine, which
// MediaPipe Tasks use on the CPU). The model takes the canonical face as it is, so the page and
// `edgefer predict` hand it the same pixels whatever the crop's size, and the browser's own
// resampling (canvas or WebGL) never touches them.

const SUBPIXEL_BITS = 5, POSITION_BITS = 10, ONE = 1 << SUBPIXEL_BITS;

// Pillow's ITU-R 601-2 luma in 16-bit fixed point (edgefer.preprocessing.LUMA_WEIGHTS).
const luma = (r, g, b) => Math.floor((r * 19595 + g * 38470 + b * 7471 + 0x8000) / 65536);

function samplePositions(source, size) {
  // preprocessing._sample_positions: output pixel i samples the source at i * source / size,
  // rounded to 1/1024, then to 1/32; edges replicated.
  const left = new Int32Array(size), right = new Int32Array(size), weight = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const fixed = Math.floor((2 * i * source * (1 << POSITION_BITS) + size) / (2 * size));
    const position = Math.floor((fixed + (1 << (POSITION_BITS - SUBPIXEL_BITS - 1))) / (1 << (POSITION_BITS - SUBPIXEL_BITS)));
    const l = Math.floor(position / ONE);
    left[i] = Math.min(l, source - 1);
    right[i] = Math.min(l + 1, source - 1);
    weight[i] = position % ONE;
  }
  return [left, right, weight];
}

// RGBA pixels (an ImageData's data) of a width x height crop -> the size x size grey face (Uint8Array).
export function toFace(rgba, width, height, size) {
  const gray = new Uint8Array(width * height);
  for (let i = 0; i < gray.length; i++) gray[i] = luma(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]);
  if (width === size && height === size) return gray;
  const [y0, y1, fy] = samplePositions(height, size), [x0, x1, fx] = samplePositions(width, size);
  const face = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    const top = y0[y] * width, bottom = y1[y] * width, wy = fy[y];
    for (let x = 0; x < size; x++) {
      const wx = fx[x];
      const upper = (ONE - wx) * gray[top + x0[x]] + wx * gray[top + x1[x]];
      const lower = (ONE - wx) * gray[bottom + x0[x]] + wx * gray[bottom + x1[x]];
      face[y * size + x] = ((ONE - wy) * upper + wy * lower + (1 << (2 * SUBPIXEL_BITS - 1))) >> (2 * SUBPIXEL_BITS);
    }
  }
  return face;
}
