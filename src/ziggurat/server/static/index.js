// The image list: one card per served image, with its thumbnail, linking to the viewer.
"use strict";

function describe(item) {
  const [w, h] = item.dimensions;
  const mpp = item.mpp ? `, ${item.mpp[0].toPrecision(3)} µm/px` : "";
  return `${item.format}, ${w} × ${h} px, ${item.levels} levels${mpp}`;
}

async function listImages() {
  const main = document.getElementById("images");
  const response = await fetch("/api/images?limit=1000");
  const page = await response.json();
  document.getElementById("count").textContent = `${page.total} image${page.total === 1 ? "" : "s"}`;
  for (const item of page.items) {
    const card = document.createElement("a");
    card.className = "card";
    card.href = `/view/${item.id}`;
    const img = document.createElement("img");
    img.src = `/api/images/${item.id}/thumbnail?max=256`;
    img.alt = item.name;
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = item.name;
    const facts = document.createElement("div");
    facts.className = "facts";
    facts.textContent = describe(item);
    card.append(img, name, facts);
    main.append(card);
  }
  if (!page.items.length) main.textContent = "No images found under the served folders.";
}

listImages();
