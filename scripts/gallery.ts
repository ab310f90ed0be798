/**
 * `deno task gallery`: writes `figures/index.html`, the page that renders every committed figure
 * live (see `lib/figures/gallery.ts`), and vendors the vega libraries it loads.
 *
 *     deno task gallery [--serve] [--port N] [--host H]
 *
 * `--serve` then serves the repository's `figures/` and `notebooks/` on localhost (default port
 * 8000) until interrupted; the page works opened from disk too.
 *
 * @module
 */
import { extname, join, normalize } from "node:path";
import { parseArgs } from "node:util";
import { defaultGalleryPaths, writeGallery } from "../lib/figures/gallery_files.ts";
import { REPO_ROOT } from "../lib/paths.ts";

const USAGE = `Write figures/index.html, the interactive figure gallery.

Usage: deno task gallery [--serve] [--port N] [--host H]

Options:
  --serve      serve figures/ and notebooks/ on http://H:N/ after writing the page
  --port N     port for --serve (default 8000; 0 picks a free one)
  --host H     address for --serve (default 127.0.0.1)
  --help       show this help`;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".ipynb": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** Serves `figures/` and `notebooks/` of the repository; everything else is 404. */
export function serveGallery(hostname: string, port: number): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname,
    port,
    onListen: ({ hostname, port }) =>
      console.log(`gallery: http://${hostname}:${port}/figures/index.html (Ctrl-C stops)`),
  }, async (request) => {
    const path = normalize(decodeURIComponent(new URL(request.url).pathname));
    if (path === "/" || path === "/figures" || path === "/figures/") {
      return Response.redirect(new URL("/figures/index.html", request.url), 302);
    }
    const top = path.split("/")[1];
    if ((top !== "figures" && top !== "notebooks") || path.includes("..")) {
      return new Response("not found\n", { status: 404 });
    }
    try {
      const body = await Deno.readFile(join(REPO_ROOT, path));
      return new Response(body, {
        headers: { "content-type": TYPES[extname(path)] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found\n", { status: 404 });
    }
  });
}

async function main(args: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        serve: { type: "boolean", default: false },
        port: { type: "string", default: "8000" },
        host: { type: "string", default: "127.0.0.1" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`Cannot write the gallery: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(
      `Cannot serve the gallery: --port must be an integer 0-65535, got "${values.port}"`,
    );
    return 2;
  }
  const { path, changed, vendored } = await writeGallery(defaultGalleryPaths());
  for (const file of vendored) console.log(`gallery: vendored ${file}`);
  console.log(`gallery: ${changed ? "wrote" : "unchanged"} ${path}`);
  if (values.serve) await serveGallery(values.host, port).finished;
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
