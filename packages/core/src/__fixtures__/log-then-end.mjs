// Logs `count` lines through createLogger (as the CLI does), then ends the way `how` says.
// The parent test counts the lines it receives.
//   node log-then-end.mjs <how> <count> [pretty]
//   how: return | exit | sigterm | sigint | uncaught | rejection
import { createLogger } from "@ujr/core";

const [how, count, pretty] = process.argv.slice(2);
const logger = createLogger({ level: "info", pretty: pretty === "pretty", colors: false });
const payload = "x".repeat(100);
for (let i = 0; i < Number(count); i++) logger.info({ i, payload }, "line");
switch (how) {
  case "exit":
    process.exit(0);
  case "sigterm":
  case "sigint":
    process.kill(process.pid, how === "sigterm" ? "SIGTERM" : "SIGINT");
    // The signal arrives while the loop turns: keep it turning a moment.
    setTimeout(() => {}, 5000);
    break;
  case "uncaught":
    setImmediate(() => {
      throw new Error("boom after logging");
    });
    break;
  case "rejection":
    void Promise.reject(new Error("rejected after logging"));
    break;
  default:
    break;
}
