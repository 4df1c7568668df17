// The slide viewer: OpenSeadragon over the DeepZoom routes, a scale bar from the MPP, a
// navigator, and style controls (window, colormap, channels) that re-request styled tiles.
"use strict";

const COLORMAPS = ["", "gray", "hot", "jet", "viridis", "magma", "inferno", "plasma", "cividis", "turbo"];
const RANGES = { uint8: 255, uint16: 65535, int16: 32767, uint32: 4294967295 };
const imageId = decodeURIComponent(location.pathname.split("/").pop());
let viewer = null;
let info = null;

function currentStyle() {
  const style = {};
  const full = RANGES[info.dtype];
  const lo = Number(document.getElementById("min").value);
  const hi = Number(document.getElementById("max").value);
  if (full !== undefined && (lo !== 0 || hi !== full)) Object.assign(style, { min: lo, max: Math.max(hi, lo + 1) });
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
  const style = currentStyle();
  const query = style ? `?style=${encodeURIComponent(JSON.stringify(style))}` : "";
  return `/api/images/${imageId}.dzi${query}`;
}

function niceLength(microns) {
  const power = 10 ** Math.floor(Math.log10(microns));
  return [5, 2, 1].map((m) => m * power).find((v) => v <= microns) || power;
}

function updateScalebar() {
  const bar = document.getElementById("scalebar");
  if (!info.mpp || !viewer.world.getItemCount()) { bar.style.display = "none"; return; }
  const item = viewer.world.getItemAt(0);
  const screenPerImage = item.viewportToImageZoom(viewer.viewport.getZoom(true));
  const micronsPerScreenPixel = info.mpp[0] / screenPerImage;
  const microns = niceLength(micronsPerScreenPixel * 150);
  document.getElementById("scalebar-bar").style.width = `${microns / micronsPerScreenPixel}px`;
  document.getElementById("scalebar-label").textContent = microns >= 1000 ? `${microns / 1000} mm` : `${microns} µm`;
}

function setUpControls() {
  const full = RANGES[info.dtype];
  for (const id of ["min", "max"]) {
    const input = document.getElementById(id);
    input.min = 0;
    input.max = full === undefined ? 1 : full;
    input.value = id === "min" ? 0 : input.max;
    input.disabled = full === undefined;
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
