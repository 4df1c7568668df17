// The viewer: OpenSeadragon over the DeepZoom routes, a scale bar from the pixel size, a navigator,
// and style controls (window, presets, colormap, channels) that re-request styled tiles. Volumes are
// drawn as the server orients them (radiological by default, labelled R/L A/P S/I at the edges),
// with the slice index and its position in mm, and a time point for 4-D images.
"use strict";

const COLORMAPS = ["", "gray", "hot", "jet", "viridis", "magma", "inferno", "plasma", "cividis", "turbo"];
const PALETTE = ["#ff0000", "#00ff00", "#0000ff", "#00ffff", "#ff00ff", "#ffff00", "#ffffff"];
// CT windows in Hounsfield units, as render/style.py's presets
const CT_PRESETS = { "ct-soft-tissue": [-160, 240], "ct-bone": [-500, 1300], "ct-lung": [-1350, 150], "ct-brain": [0, 80] };
const imageId = decodeURIComponent(location.pathname.split("/").pop());
let viewer = null;
let info = null;
let autoWindow = [0, 255];
let channelWindows = [];

const $ = (id) => document.getElementById(id);

// Per-channel windows (like napari's contrast limits): each channel's min/max start at its automatic
// window; a style is sent only when something differs from what the server draws by default.
function channelStyles() {
  const rows = [...document.querySelectorAll("#channels .channel")];
  const on = rows.filter((r) => r.querySelector("input[type=checkbox]").checked);
  const changed = rows.some((r, i) => {
    const [lo, hi] = [r.querySelector(".ch-min").value, r.querySelector(".ch-max").value].map(Number);
    return lo !== channelWindows[i][0] || hi !== channelWindows[i][1];
  });
  if (!on.length || (on.length === rows.length && !changed && info.dtype === "uint8")) return null;
  return on.map((r) => {
    const index = Number(r.dataset.index);
    const lo = Number(r.querySelector(".ch-min").value);
    const hi = Number(r.querySelector(".ch-max").value);
    return { index, min: lo, max: Math.max(hi, lo + 1e-6), color: channelColor(index) };
  });
}

function currentStyle() {
  const style = {};
  const colormap = $("colormap").value;
  if (info.channels > 1) {
    const channels = channelStyles();
    if (channels) style.channels = channels;
    if (colormap) {
      const first = (channels || [{ index: 0 }])[0];
      style.channels = [{ index: first.index, min: first.min, max: first.max }];
    }
  } else {
    const lo = Number($("min").value);
    const hi = Number($("max").value);
    if (lo !== autoWindow[0] || hi !== autoWindow[1] || info.dtype !== "uint8") {
      Object.assign(style, { min: lo, max: Math.max(hi, lo + 1e-6) });
    }
  }
  if (colormap) style.colormap = colormap;
  return Object.keys(style).length ? style : null;
}

function channelColor(index) {
  const rgb = (info.channel_colors || [])[index];
  if (rgb) return "#" + rgb.map((v) => v.toString(16).padStart(2, "0")).join("");
  return PALETTE[index % PALETTE.length];
}

function tileSource() {
  const params = new URLSearchParams();
  const style = currentStyle();
  if (style) params.set("style", JSON.stringify(style));
  if (info.volume) {
    params.set("axis", $("axis").value);
    params.set("slice", $("slice").value);
    params.set("view", $("view").value);
    if (info.volume.times > 1) params.set("t", $("time").value);
  }
  const query = params.toString();
  return `/api/images/${imageId}.dzi${query ? "?" + query : ""}`;
}

function micronsPerPixel() {
  if (!info.volume) return info.mpp && info.mpp[0];
  const held = "zyx".indexOf($("axis").value);
  return Math.min(...info.volume.spacing_mm.filter((_, i) => i !== held)) * 1000;
}

// The plane's position: the world coordinate (mm) of its centre along the held axis's main direction.
function position() {
  const v = info.volume;
  const held = $("axis").value;
  const [nz, ny, nx] = v.shape.slice(-3);
  const voxel = { x: (nx - 1) / 2, y: (ny - 1) / 2, z: (nz - 1) / 2 };
  voxel[held] = Number($("slice").value);
  const world = v.affine.slice(0, 3).map((row) => row[0] * voxel.x + row[1] * voxel.y + row[2] * voxel.z + row[3]);
  const column = "xyz".indexOf(held);
  const direction = v.affine.slice(0, 3).map((row) => Math.abs(row[column]));
  const main = direction.indexOf(Math.max(...direction));
  return `${"xyz"[main]} = ${world[main].toFixed(1)} mm`;
}

function updateVolumeLabels() {
  const v = info.volume;
  const extent = v.shape[v.shape.length - 3 + "zyx".indexOf($("axis").value)];
  $("position").textContent = `${Number($("slice").value) + 1} / ${extent} · ${position()}`;
  const labels = v.labels[$("view").value][$("axis").value];
  for (const edge of ["top", "bottom", "left", "right"]) $(`edge-${edge}`).textContent = labels[edge];
}

function setUpVolume() {
  if (!info.volume) return;
  const axis = $("axis");
  const slice = $("slice");
  const extent = () => info.volume.shape[info.volume.shape.length - 3 + "zyx".indexOf(axis.value)];
  const reset = () => { slice.max = extent() - 1; slice.value = Math.floor(extent() / 2); };
  $("volume-controls").hidden = false;
  if (info.volume.times > 1) {
    $("time-control").hidden = false;
    $("time").max = info.volume.times - 1;
  }
  reset();
  axis.addEventListener("change", (event) => {
    event.stopPropagation();
    reset();
    updateVolumeLabels();
    viewer.open(tileSource());
  });
  for (const id of ["slice", "view", "time"]) $(id).addEventListener("change", updateVolumeLabels);
  updateVolumeLabels();
}

function niceLength(microns) {
  const power = 10 ** Math.floor(Math.log10(microns));
  return [5, 2, 1].map((m) => m * power).find((v) => v <= microns) || power;
}

function formatLength(microns) {
  if (microns >= 1000) return `${Number((microns / 1000).toPrecision(3))} mm`;
  if (microns < 1) return `${Number((microns * 1000).toPrecision(3))} nm`;
  return `${Number(microns.toPrecision(3))} µm`;
}

function updateScalebar() {
  const bar = $("scalebar");
  const mpp = micronsPerPixel();
  if (!mpp || !viewer.world.getItemCount()) { bar.style.display = "none"; return; }
  bar.style.display = "";
  const item = viewer.world.getItemAt(0);
  const screenPerImage = item.viewportToImageZoom(viewer.viewport.getZoom(true));
  const micronsPerScreenPixel = mpp / screenPerImage;
  const microns = niceLength(micronsPerScreenPixel * 150);
  $("scalebar-bar").style.width = `${microns / micronsPerScreenPixel}px`;
  $("scalebar-label").textContent = formatLength(microns);
}

function setWindow([lo, hi]) {
  $("min").value = lo;
  $("max").value = hi;
}

// Window presets: the automatic window, the file's (DICOM WindowCenter/Width), and the CT ones.
function setUpPresets() {
  const select = $("preset");
  const choices = { auto: autoWindow };
  const file = info.volume && info.volume.file_window;
  if (file) choices.file = [file[0] - file[1] / 2, file[0] + file[1] / 2];
  const ct = info.volume && (info.volume.modality === "CT" || info.dtype.startsWith("int"));
  if (ct) Object.assign(choices, CT_PRESETS);
  if (Object.keys(choices).length === 1) return;
  $("preset-control").hidden = false;
  for (const name of Object.keys(choices)) select.add(new Option(name === "file" ? "file (W/L)" : name, name));
  select.value = file ? "file" : info.volume.modality === "CT" ? "ct-soft-tissue" : "auto";
  setWindow(choices[select.value]);
  select.addEventListener("change", () => setWindow(choices[select.value]));
}

function setUpControls() {
  autoWindow = (info.auto_window && info.auto_window[0]) || [0, 255];
  setWindow(autoWindow.map((v) => Number(v.toPrecision(6))));
  autoWindow = [Number($("min").value), Number($("max").value)];
  setUpPresets();
  const select = $("colormap");
  for (const name of COLORMAPS) select.add(new Option(name || "(default)", name));
  const names = info.channel_names.length ? info.channel_names : [...Array(info.channels).keys()].map(String);
  if (info.channels > 1) {
    $("window-controls").hidden = true;
    channelWindows = names.map((_, i) => (info.auto_window[i] || [0, 255]).map((v) => Number(v.toPrecision(6))));
    names.forEach((name, index) => {
      const row = document.createElement("span");
      row.className = "channel";
      row.dataset.index = index;
      const [lo, hi] = channelWindows[index];
      row.innerHTML = `<input type="checkbox" checked value="${index}"> <b></b> ` +
        `<input class="ch-min" type="number" step="any" value="${lo}"><input class="ch-max" type="number" step="any" value="${hi}">`;
      row.querySelector("b").textContent = name;
      row.querySelector("b").style.color = channelColor(index);
      $("channels").append(row);
    });
  }
  $("controls").addEventListener("change", () => {
    const bounds = viewer.viewport.getBounds();
    viewer.addTiledImage({
      tileSource: tileSource(), index: 0, replace: true,
      success: () => viewer.viewport.fitBounds(bounds, true),
    });
  });
}

// The metadata panel: the file's properties and its associated images (label, macro, ...).
function setUpMetadata() {
  const table = $("properties");
  for (const [key, value] of Object.entries(info.properties || {})) {
    const row = table.insertRow();
    row.insertCell().textContent = key;
    row.insertCell().textContent = String(value);
  }
  for (const name of Object.keys(info.associated_images || {})) {
    const img = document.createElement("img");
    img.src = `/api/images/${imageId}/associated/${encodeURIComponent(name)}?format=jpeg`;
    img.alt = img.title = name;
    $("associated").append(img);
  }
  if (!table.rows.length && !$("associated").children.length) $("metadata").hidden = true;
}

// A .npy answer (one pixel, any dtype) as numbers.
function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const headerLength = bytes[8] | (bytes[9] << 8);
  const header = new TextDecoder().decode(bytes.slice(10, 10 + headerLength));
  const descr = /'descr':\s*'([<>|])(\w)(\d+)'/.exec(header);
  const types = { u1: Uint8Array, u2: Uint16Array, u4: Uint32Array, i1: Int8Array, i2: Int16Array, i4: Int32Array,
                  f4: Float32Array, f8: Float64Array };
  const Type = types[descr[2] + descr[3]];
  const body = buffer.slice(10 + headerLength);
  if (!Type) return [];
  if (descr[1] === ">" && Type.BYTES_PER_ELEMENT > 1) {  // big-endian: read through a DataView
    const view = new DataView(body);
    const get = { u2: "getUint16", i2: "getInt16", u4: "getUint32", i4: "getInt32", f4: "getFloat32", f8: "getFloat64" };
    return [...Array(body.byteLength / Type.BYTES_PER_ELEMENT).keys()].map(
      (i) => view[get[descr[2] + descr[3]]](i * Type.BYTES_PER_ELEMENT, false));
  }
  return [...new Type(body)];
}

// The cursor's image coordinates and the raw pixel value under it (asked once the mouse rests).
function setUpCursor() {
  let timer = null;
  new OpenSeadragon.MouseTracker({
    element: viewer.element,
    moveHandler: (event) => {
      if (!viewer.world.getItemCount()) return;
      const point = viewer.world.getItemAt(0).viewerElementToImageCoordinates(event.position);
      const [x, y] = [Math.floor(point.x), Math.floor(point.y)];
      const { x: w, y: h } = viewer.world.getItemAt(0).source.dimensions;
      if (x < 0 || y < 0 || x >= w || y >= h) { $("cursor").textContent = ""; return; }
      $("cursor").textContent = `x ${x}, y ${y}`;
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const params = new URLSearchParams(tileSource().split("?")[1] || "");
        params.delete("style");
        Object.entries({ x, y, width: 1, height: 1, format: "npy" }).forEach(([k, v]) => params.set(k, v));
        const response = await fetch(`/api/images/${imageId}/region?${params}`);
        if (!response.ok) return;
        const values = parseNpy(await response.arrayBuffer()).map((v) => Number(v.toPrecision(6)));
        $("cursor").textContent = `x ${x}, y ${y}: ${values.join(", ")}`;
      }, 120);
    },
  });
}

function updateTitle() {
  if (!viewer.world.getItemCount()) return;
  const { x, y } = viewer.world.getItemAt(0).source.dimensions;
  $("title").textContent = `${info.name} — ${x} × ${y} px`;
}

async function main() {
  info = await (await fetch(`/api/images/${imageId}`)).json();
  $("title").textContent = `${info.name} — ${info.dimensions[0]} × ${info.dimensions[1]} px`;
  setUpControls();
  setUpVolume();
  viewer = OpenSeadragon({
    id: "viewer",
    prefixUrl: "/vendor/openseadragon/images/",
    tileSources: tileSource(),
    showNavigator: true,
    crossOriginPolicy: "Anonymous",
  });
  window.zigguratViewer = viewer;
  for (const event of ["open", "animation", "resize"]) viewer.addHandler(event, updateScalebar);
  viewer.world.addHandler("add-item", updateTitle);
  setUpMetadata();
  setUpCursor();
}

main();
