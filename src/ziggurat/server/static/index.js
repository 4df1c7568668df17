// The image list: one card per served image, with its thumbnail, linking to the viewer; paged
// (?page=N, PAGE_SIZE cards a page) so a folder of any size lists every image. A cohort's images
// are grouped by subject, and a filter box sends a SQL condition (?cohort=ID&where=SQL).
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
    if (n >= 1 && n <= pages && n !== page) {
      const query = new URLSearchParams(location.search);
      query.set("page", n);
      link.href = `?${query}`;
    }
    nav.append(link);
  };
  go(page - 1, "‹ previous");
  const where = document.createElement("span");
  where.id = "page-of";
  where.textContent = `page ${page} of ${pages}`;
  nav.append(where);
  go(page + 1, "next ›");
}

// One section per subject (its id and columns, then its images' cards), in subject order.
function subjects(items) {
  const groups = new Map();
  for (const item of items) {
    const id = item.cohort.subject_id;
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id).push(item);
  }
  return [...groups.keys()].sort().map((id) => {
    const section = document.createElement("section");
    section.className = "subject";
    section.dataset.subject = id;
    const title = document.createElement("h2");
    const facts = document.createElement("span");
    facts.className = "facts";
    const columns = groups.get(id)[0].cohort.columns;
    facts.textContent = Object.entries(columns).map(([k, v]) => `${k} ${v}`).join(", ");
    title.append(id, facts);
    const grid = document.createElement("div");
    grid.className = "grid";
    grid.append(...groups.get(id).map(card));
    section.append(title, grid);
    return section;
  });
}

// The filter box, shown once cohort images are listed, sending the cohort's id and the condition.
function filterBox(query, items) {
  const cohort = query.get("cohort") || items.find((item) => item.cohort)?.cohort.id;
  if (!cohort) return;
  document.getElementById("filter").hidden = false;
  document.getElementById("cohort").value = cohort;
  document.getElementById("where").value = query.get("where") || "";
}

async function listImages() {
  const main = document.getElementById("images");
  const query = new URLSearchParams(location.search);
  const page = Math.max(1, parseInt(query.get("page") || "1", 10) || 1);
  const api = new URLSearchParams({ offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE });
  for (const key of ["cohort", "where"]) if (query.get(key)) api.set(key, query.get(key));
  const response = await fetch(`/api/images?${api}`);
  const listing = await response.json();
  if (!response.ok) {
    filterBox(query, []);
    document.getElementById("filter-error").textContent = listing.error;
    return;
  }
  filterBox(query, listing.items);
  const first = listing.total ? listing.offset + 1 : 0;
  const last = listing.offset + listing.items.length;
  document.getElementById("count").textContent =
    `${listing.total} image${listing.total === 1 ? "" : "s"}` + (listing.total > PAGE_SIZE ? ` (${first}–${last})` : "");
  main.append(...listing.items.filter((item) => !item.cohort).map(card));
  main.append(...subjects(listing.items.filter((item) => item.cohort)));
  pager(page, listing.total);
  if (!listing.items.length) main.textContent = "No images found under the served folders.";
}

listImages();
