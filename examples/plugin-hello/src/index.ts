import { defineJobType, definePlugin, isDuration, parseDuration, registerSecret, z } from "@ujr/core";
import { GreetJob } from "./job.js";

export { GreetJob, type GreetConfig } from "./job.js";
export { helloErrors, HelloError, type HelloErrorCode } from "./errors.js";

const duration = z
  .union([z.number().int().positive(), z.string().refine(isDuration, { message: 'a duration such as "30s", "5m" or "2h"' })])
  .transform((value) => parseDuration(value));

export const greetConfig = z.strictObject({
  names: z.array(z.string().min(1)).min(1).describe("Who to greet: one task (and one file) per name."),
  greeting: z.string().min(1).default("Hello").describe("The word before each name."),
  mode: z.enum(["once", "continuous"]).default("once").describe("once: greet everyone, summarise, done. continuous: do it again every `every`."),
  every: duration.default(60_000).describe("Time between rounds in continuous mode (ms or a duration such as 30s)."),
  signingKey: z.string().min(8).optional().describe("Optional secret to sign each summary with (HMAC-SHA256). Never logged."),
});

export default definePlugin({
  name: "@ujr-examples/plugin-hello",
  version: "0.0.0",
  description: "Greets a list of names into files, one task per name, then writes a summary.",
  apiVersion: 1,
  jobs: {
    greet: defineJobType({
      description: "Writes a greeting file per name into the job's state folder, then summary.json; once or every `every`.",
      config: greetConfig,
      create(config, ctx) {
        // A secret from the config: from now on it is redacted from every log line.
        registerSecret(config.signingKey);
        return new GreetJob({ names: config.names, greeting: config.greeting, mode: config.mode, everyMs: config.every, signingKey: config.signingKey }, ctx);
      },
    }),
  },
});
