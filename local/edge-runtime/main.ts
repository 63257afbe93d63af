/** Entry point: `deno run ... main.ts <runtime.json>`; stops cleanly on SIGTERM or SIGINT. */
import { loadConfig } from "./config.ts";
import { startRuntime } from "./server.ts";

const [configPath] = Deno.args;
if (!configPath) {
  console.error("usage: main.ts <runtime.json>");
  Deno.exit(2);
}
const config = await loadConfig(configPath);
const runtime = await startRuntime(config);
console.log(JSON.stringify({ event: "listening", port: config.port }));

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    if (stopping) return;
    stopping = true;
    await runtime.close();
    Deno.exit(0);
  });
}
