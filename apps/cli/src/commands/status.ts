import type { RunnerSnapshot } from "@ujr/core";
import { DEFAULT_STATUS_PORT } from "@ujr/runner-local";
import { checkPositionals, intFlag, parse } from "../args.js";
import type { Output } from "../output.js";
import { renderStatus } from "../status-view.js";

export const DEFAULT_STATUS_URL = `http://127.0.0.1:${DEFAULT_STATUS_PORT}`;

export const statusHelp = `ujr status [url] [options]
  Shows what a running \`ujr run --status-port <port>\` is doing: its jobs, their tasks
  and the progress of long tasks. url: default ${DEFAULT_STATUS_URL}; a bare port or
  host:port also works.
  --token <token>      bearer token of the status server (default: env UJR_STATUS_TOKEN)
  --json               print the runner's snapshot as JSON
  --timeout <ms>       how long to wait for an answer (default 5000)`;

/** An error of `ujr status`: the code says what went wrong, the message what to do. */
export class StatusCommandError extends Error {
  override readonly name = "UjrError";
  readonly exitCode = 1;
  constructor(
    readonly code: "UJR_CLI_STATUS_UNREACHABLE" | "UJR_CLI_STATUS_UNAUTHORIZED" | "UJR_CLI_STATUS_BAD_ANSWER",
    message: string,
  ) {
    super(message);
  }
}

/** `9464` → http://127.0.0.1:9464, `host:9464` → http://host:9464; a trailing /status is dropped. */
export function statusBaseUrl(input: string | undefined): string {
  let text = (input ?? DEFAULT_STATUS_URL).trim();
  if (/^\d+$/.test(text)) text = `http://127.0.0.1:${text}`;
  else if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `http://${text}`;
  return text.replace(/\/+$/, "").replace(/\/status$/, "");
}

export async function fetchStatus(baseUrl: string, options: { token?: string | undefined; timeoutMs?: number }): Promise<RunnerSnapshot> {
  const url = `${baseUrl}/status`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    const code = cause?.code ?? (error as { name?: string }).name;
    if (code === "ECONNREFUSED") {
      throw new StatusCommandError(
        "UJR_CLI_STATUS_UNREACHABLE",
        `Nothing answers at ${baseUrl}: no ujr runner is running there, or it was started without a status server. Start it with \`ujr run <config> --status-port <port>\` (or runner.status.port in the config) and pass that URL or port to \`ujr status\`.`,
      );
    }
    if (code === "TimeoutError" || code === "AbortError") {
      throw new StatusCommandError("UJR_CLI_STATUS_UNREACHABLE", `${baseUrl} did not answer within ${options.timeoutMs ?? 5000} ms. Is it a ujr status server? Try --timeout.`);
    }
    throw new StatusCommandError("UJR_CLI_STATUS_UNREACHABLE", `Could not reach ${baseUrl}: ${code ?? (error as Error).message}. Check the URL.`);
  }
  if (response.status === 401) {
    throw new StatusCommandError(
      "UJR_CLI_STATUS_UNAUTHORIZED",
      options.token
        ? `The status server at ${baseUrl} refused the token. Pass the one in runner.status.token of its config (--token or env UJR_STATUS_TOKEN).`
        : `The status server at ${baseUrl} needs a token. Pass the one in runner.status.token of its config with --token or env UJR_STATUS_TOKEN.`,
    );
  }
  if (!response.ok) {
    throw new StatusCommandError("UJR_CLI_STATUS_BAD_ANSWER", `${url} answered ${response.status} ${response.statusText}. Is it a ujr status server?`);
  }
  try {
    return (await response.json()) as RunnerSnapshot;
  } catch {
    throw new StatusCommandError("UJR_CLI_STATUS_BAD_ANSWER", `${url} did not answer with JSON. Is it a ujr status server?`);
  }
}

export async function statusCommand(argv: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(argv, {
    token: { type: "string" },
    json: { type: "boolean" },
    timeout: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    output.out(statusHelp);
    return 0;
  }
  checkPositionals(positionals, 1, "ujr status [url] [options]");
  const timeoutMs = intFlag("timeout", values.timeout as string | undefined, { min: 1, what: "a positive whole number of milliseconds" }) ?? 5000;
  const token = (values.token as string | undefined) ?? (process.env.UJR_STATUS_TOKEN || undefined);
  const snapshot = await fetchStatus(statusBaseUrl(positionals[0]), { token, timeoutMs });
  if (values.json) output.out(JSON.stringify(snapshot, null, 2));
  else output.out(renderStatus(snapshot, process.stdout.columns ?? 100, { panels: true }));
  return 0;
}
