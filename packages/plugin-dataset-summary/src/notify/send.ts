import type { TargetConfig } from "../config.js";
import { SummaryErrorCode, summaryError } from "../errors.js";
import type { Manifest } from "../manifest.js";
import { readStoredManifest } from "../run.js";
import type { Resolver } from "./address-guard.js";
import { sendEmail } from "./email.js";
import { copyToFolder } from "./folder.js";
import { webhookPayload } from "./message.js";
import { redactUrl, sendWebhook, type NotifyLogger } from "./webhook.js";

export interface NotifyArgs {
  job: string;
  /** The stored run to report (its folder, holding summary.json). */
  runDir: string;
  targetName: string;
  target: TargetConfig;
  reportBaseUrl?: string | undefined;
}

export interface NotifyResult {
  target: string;
  type: TargetConfig["type"];
  runId: string;
  detail: string;
}

/** Sends one stored run's results to one target. Reads summary.json: only stored results go out. */
export async function notify(
  args: NotifyArgs,
  options: { logger?: NotifyLogger | undefined; signal?: AbortSignal | undefined; resolver?: Resolver | undefined; sleep?: (ms: number, signal?: AbortSignal) => Promise<void> } = {},
): Promise<NotifyResult> {
  const manifest: Manifest = await readStoredManifest(args.runDir);
  const t = args.target;
  const base = { target: args.targetName, type: t.type, runId: manifest.runId };
  switch (t.type) {
    case "webhook": {
      const r = await sendWebhook(
        { url: t.url, headers: t.headers, timeoutMs: t.timeout, retry: { attempts: t.retry.attempts, baseMs: t.retry.base, maxMs: t.retry.max }, allowPrivateAddresses: t.allowPrivateAddresses },
        webhookPayload(manifest, args.reportBaseUrl),
        { logger: options.logger, signal: options.signal, resolver: options.resolver, sleep: options.sleep },
      );
      return { ...base, detail: `${redactUrl(t.url)} HTTP ${r.status} after ${r.attempts} attempt(s)` };
    }
    case "email": {
      const r = await sendEmail(
        { host: t.host, port: t.port, secure: t.secure, requireTLS: t.requireTLS, ignoreTLS: t.ignoreTLS, user: t.user, password: t.password, from: t.from, to: t.to, subject: t.subject, attach: t.attach, timeoutMs: t.timeout, allowPrivateAddresses: t.allowPrivateAddresses },
        manifest,
        { reportBaseUrl: args.reportBaseUrl, logger: options.logger, resolver: options.resolver },
      );
      return { ...base, detail: `accepted by ${r.accepted.length} recipient(s)` };
    }
    case "folder": {
      const r = await copyToFolder({ path: t.path, includeData: t.includeData }, manifest, { logger: options.logger });
      return { ...base, detail: r.dir };
    }
    default:
      throw summaryError(SummaryErrorCode.CONFIG, `unknown notify target type "${(t as { type: string }).type}".`);
  }
}
