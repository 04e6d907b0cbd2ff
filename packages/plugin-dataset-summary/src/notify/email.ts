/**
 * Email target over SMTP (nodemailer): a plain-text summary, the report attached
 * (`attach: true`, default) and/or linked (`reportBaseUrl`). The SMTP host is checked by
 * the address guard and nodemailer connects to the checked address (TLS still verifies
 * the certificate against the host name).
 */
import path from "node:path";
import nodemailer from "nodemailer";
import { SummaryErrorCode, summaryError } from "../errors.js";
import type { Manifest } from "../manifest.js";
import { checkHost, type Resolver } from "./address-guard.js";
import { reportLocation, summaryText } from "./message.js";
import type { NotifyLogger } from "./webhook.js";

export interface EmailTarget {
  host: string;
  port: number;
  secure?: boolean | undefined;
  requireTLS?: boolean | undefined;
  ignoreTLS?: boolean | undefined;
  user?: string | undefined;
  password?: string | undefined;
  from: string;
  to: string[];
  subject?: string | undefined;
  attach: boolean;
  timeoutMs: number;
  allowPrivateAddresses?: boolean | undefined;
}

export async function sendEmail(
  target: EmailTarget,
  manifest: Manifest,
  options: { reportBaseUrl?: string | undefined; logger?: NotifyLogger | undefined; resolver?: Resolver | undefined } = {},
): Promise<{ messageId: string; accepted: string[] }> {
  const what = `SMTP server ${target.host}:${target.port}`;
  const addresses = await checkHost(target.host, { allowPrivateAddresses: target.allowPrivateAddresses, resolver: options.resolver, what });
  const transport = nodemailer.createTransport({
    host: addresses[0]!.address,
    port: target.port,
    secure: target.secure ?? target.port === 465,
    ...(target.requireTLS !== undefined ? { requireTLS: target.requireTLS } : {}),
    ...(target.ignoreTLS !== undefined ? { ignoreTLS: target.ignoreTLS } : {}),
    ...(target.user ? { auth: { user: target.user, pass: target.password ?? "" } } : {}),
    tls: { servername: target.host },
    connectionTimeout: target.timeoutMs,
    greetingTimeout: target.timeoutMs,
    socketTimeout: target.timeoutMs,
    logger: false,
    debug: false,
  });
  const status = manifest.ok ? "ok" : `${manifest.errors} failed`;
  const subject = target.subject ?? `[ujr] ${manifest.job} summary ${manifest.runId} (${status})`;
  let text = summaryText(manifest, options.reportBaseUrl);
  if (target.attach) text += `\n\nThe report is attached (report.html: open it in a browser).`;
  try {
    const info = await transport.sendMail({
      from: target.from,
      to: target.to,
      subject,
      text,
      ...(target.attach
        ? {
            attachments: [
              { filename: `${manifest.job}-${manifest.runId}-report.html`, path: manifest.report, contentType: "text/html; charset=utf-8" },
              { filename: "summary.json", path: path.join(manifest.dir, "summary.json"), contentType: "application/json" },
            ],
          }
        : {}),
    });
    options.logger?.info({ target: what, accepted: info.accepted.length }, `email sent through ${what}`);
    return { messageId: info.messageId, accepted: info.accepted.map(String) };
  } catch (err) {
    const e = err as { code?: string; responseCode?: number; message?: string };
    const why = e.responseCode ? `SMTP ${e.responseCode}` : (e.code ?? "error");
    options.logger?.warn({ target: what, error: why }, `email through ${what} failed: ${why}`);
    throw summaryError(SummaryErrorCode.EMAIL_FAILED, `${what}: the email could not be sent (${why}); check the target's host, port, TLS settings and credentials.`);
  } finally {
    transport.close();
  }
}

export { reportLocation };
