// Writes docs/schema.md from the schema definitions (src/schema.ts, via dist/).
import { writeFileSync } from "node:fs";
import { renderSchemaDoc } from "../dist/schema-doc.js";
const target = new URL("../docs/schema.md", import.meta.url);
writeFileSync(target, renderSchemaDoc());
console.log(`wrote ${target.pathname.split("/").slice(-2).join("/")}`);
