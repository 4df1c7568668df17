// The image list: one card per served image, with its thumbnail, linking to the viewer; paged
// (?page=N, PAGE_SIZE cards a page) so a folder of any size lists every image.
"use strict";

const PAGE_SIZE = 200;

// A length given in micrometres, in the unit that reads best: "2 mm", "0.499 µm", "4 nm".
function formatLength(um) {
  const [value, unit] = um >= 1000 ? [um / 1000, "mm"] : um < 0.1 ? [um * 1000, "nm"] : [um, "µm"];
  return `${Number(value.toPrecision(3))} ${unit}`;
}

function describe(item) {
  const [w, h] = item.dimensions;
  const pixel = item.mpp ? `, pixel ${formatLength(item.mpp[0])}` : "";
  return `${item.format}, ${w} × ${h} px, ${item.levels} levels${pixel}`;
}

function card(item) {
  const link = document.createElement("a");
  link.className = "card";
  link.href = `/view/${item.id}`;
  const img = document.createElement("img");
  img.src = `/api/images/${item.id}/thumbnail?max=256`;
  img.alt = item.name;
  img.loading = "lazy";
  const name = document.createElement("div");
  name.className = "name";
  name.textContent = item.name;
  const facts = document.createElement("div");
  facts.className = "facts";
  facts.textContent = describe(item);
  link.append(img, name, facts);
  return link;
}

function pager(page, total) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const nav = document.getElementById("pages");
  nav.replaceChildren();
  if (pages === 1) return;
  const go = (n, text) => {
    const link = document.createElement("a");
    link.textContent = text;
    link.className = "page-link";
    if (n >= 1 && n <= pages && n !== page) link.href = `?page=${n}`;
    nav.append(link);
  };
  go(page - 1, "‹ previous");
  const where = document.createElement("span");
  where.id = "page-of";
  where.textContent = `page ${page} of ${pages}`;
  nav.append(where);
  go(page + 1, "next ›");
}

async function listImages() {
  const main = document.getElementById("images");
  const page = Math.max(1, parseInt(new URLSearchParams(location.search).get("page") || "1", 10) || 1);
  const response = await fetch(`/api/images?offset=${(page - 1) * PAGE_SIZE}&limit=${PAGE_SIZE}`);
  const listing = await response.json();
  const first = listing.total ? listing.offset + 1 : 0;
  const last = listing.offset + listing.items.length;
  document.getElementById("count").textContent =
    `${listing.total} image${listing.total === 1 ? "" : "s"}` + (listing.total > PAGE_SIZE ? ` (${first}–${last})` : "");
  main.append(...listing.items.map(card));
  pager(page, listing.total);
  if (!listing.items.length) main.textContent = "No images found under the served folders.";
}

listImages();
