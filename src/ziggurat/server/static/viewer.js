// The slide viewer: OpenSeadragon over the DeepZoom routes, a scale bar from the MPP, a
// navigator, and style controls (window, colormap, channels) that re-request styled tiles.
"use strict";

const COLORMAPS = ["", "gray", "hot", "jet", "viridis", "magma", "inferno", "plasma", "cividis", "turbo"];
const RANGES = { uint8: [0, 255], uint16: [0, 65535], int16: [-32768, 32767] };
const imageId = decodeURIComponent(location.pathname.split("/").pop());
let viewer = null;
let info = null;

function currentStyle() {
  const style = {};
  const range = RANGES[info.dtype];
  const lo = Number(document.getElementById("min").value);
  const hi = Number(document.getElementById("max").value);
  if (range && (lo !== range[0] || hi !== range[1])) Object.assign(style, { min: lo, max: Math.max(hi, lo + 1) });
  const colormap = document.getElementById("colormap").value;
  const boxes = [...document.querySelectorAll("#channels input")];
  const on = boxes.filter((b) => b.checked).map((b) => Number(b.value));
  if (boxes.length && on.length && on.length < boxes.length) style.channels = on.map((index) => ({ index }));
  if (colormap) {
    style.colormap = colormap;
    if (info.channels > 1) style.channels = [{ index: on.length ? on[0] : 0 }];
  }
  return Object.keys(style).length ? style : null;
}

function tileSource() {
  const params = new URLSearchParams();
  const style = currentStyle();
  if (style) params.set("style", JSON.stringify(style));
  if (info.volume) {
    params.set("axis", document.getElementById("axis").value);
    params.set("slice", document.getElementById("slice").value);
  }
  const query = params.toString();
  return `/api/images/${imageId}.dzi${query ? "?" + query : ""}`;
}

function micronsPerPixel() {
  if (!info.volume) return info.mpp && info.mpp[0];
  const axis = "zyx".indexOf(document.getElementById("axis").value);
  const inPlane = info.volume.spacing_mm.filter((_, i) => i !== axis);
  return inPlane[1] * 1000;
}

function setUpVolume() {
  if (!info.volume) return;
  const axis = document.getElementById("axis");
  const slice = document.getElementById("slice");
  const extent = () => info.volume.shape[info.volume.shape.length - 3 + "zyx".indexOf(axis.value)];
  const reset = () => { slice.max = extent() - 1; slice.value = Math.floor(extent() / 2); };
  document.getElementById("volume-controls").hidden = false;
  reset();
  axis.addEventListener("change", (event) => {
    event.stopPropagation();
    reset();
    viewer.open(tileSource());
  });
}

function niceLength(microns) {
  const power = 10 ** Math.floor(Math.log10(microns));
  return [5, 2, 1].map((m) => m * power).find((v) => v <= microns) || power;
}

function updateScalebar() {
  const bar = document.getElementById("scalebar");
  const mpp = micronsPerPixel();
  if (!mpp || !viewer.world.getItemCount()) { bar.style.display = "none"; return; }
  const item = viewer.world.getItemAt(0);
  const screenPerImage = item.viewportToImageZoom(viewer.viewport.getZoom(true));
  const micronsPerScreenPixel = mpp / screenPerImage;
  const microns = niceLength(micronsPerScreenPixel * 150);
  document.getElementById("scalebar-bar").style.width = `${microns / micronsPerScreenPixel}px`;
  document.getElementById("scalebar-label").textContent = microns >= 1000 ? `${microns / 1000} mm` : `${microns} µm`;
}

function setUpControls() {
  const range = RANGES[info.dtype] || [0, 1];
  for (const id of ["min", "max"]) {
    const input = document.getElementById(id);
    [input.min, input.max] = range;
    input.value = id === "min" ? range[0] : range[1];
    input.disabled = !RANGES[info.dtype];
  }
  const select = document.getElementById("colormap");
  for (const name of COLORMAPS) select.add(new Option(name || "(default)", name));
  const names = info.channel_names.length ? info.channel_names : [...Array(info.channels).keys()].map(String);
  if (info.channels > 1) {
    names.forEach((name, index) => {
      const label = document.createElement("label");
      label.innerHTML = `<input type="checkbox" checked value="${index}"> `;
      label.append(name);
      document.getElementById("channels").append(label);
    });
  }
  document.getElementById("controls").addEventListener("change", () => {
    const bounds = viewer.viewport.getBounds();
    viewer.addTiledImage({
      tileSource: tileSource(), index: 0, replace: true,
      success: () => viewer.viewport.fitBounds(bounds, true),
    });
  });
}

async function main() {
  info = await (await fetch(`/api/images/${imageId}`)).json();
  document.getElementById("title").textContent = `${info.name} — ${info.dimensions[0]} × ${info.dimensions[1]} px`;
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
}

main();
