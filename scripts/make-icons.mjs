// Renders the PWA icons from app/icon.svg (run once after changing the icon;
// the PNGs are committed): node scripts/make-icons.mjs
// - icon-192.png, icon-512.png: the icon as drawn (rounded square, transparent corners)
// - maskable-512.png, apple-touch-icon.png: full-bleed background with the glyph inside
//   the maskable safe zone (the inner 80 %), since launchers and iOS crop their own shape.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const svg = fs.readFileSync(path.join(root, "app/icon.svg"), "utf8");
const out = path.join(root, "public/icons");
fs.mkdirSync(out, { recursive: true });

// The glyph without its rounded background, scaled into the safe zone of a full square.
const glyph = svg.replace(/<rect width="32" height="32" rx="8" fill="#4f46e5"\/>/, "");
if (glyph === svg) throw new Error("app/icon.svg changed shape: update scripts/make-icons.mjs");
const fullBleed = glyph
  .replace('viewBox="0 0 32 32">', 'viewBox="0 0 32 32"><rect width="32" height="32" fill="#4f46e5"/><g transform="translate(3.2 3.2) scale(0.8)">')
  .replace(/<\/svg>\s*$/, "</g></svg>");

async function render(source, size, file) {
  await sharp(Buffer.from(source), { density: Math.ceil((72 * size) / 32) })
    .resize(size, size)
    .png()
    .toFile(path.join(out, file));
  console.log(`public/icons/${file}`);
}

await render(svg, 192, "icon-192.png");
await render(svg, 512, "icon-512.png");
await render(fullBleed, 512, "maskable-512.png");
await render(fullBleed, 180, "apple-touch-icon.png");
fs.copyFileSync(path.join(root, "app/icon.svg"), path.join(out, "icon.svg"));
// Next links app/apple-icon.png as the apple-touch-icon of every page.
fs.copyFileSync(path.join(out, "apple-touch-icon.png"), path.join(root, "app/apple-icon.png"));
console.log("public/icons/icon.svg");
