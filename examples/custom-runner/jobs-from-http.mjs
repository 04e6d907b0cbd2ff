// A runner that takes its jobs from an HTTP endpoint (a job registry, a database API...)
// instead of a config file, and updates them on the fly. It overrides the two hooks the
// runner loop calls: fetchJobs() once at start, getChangedJobs() at every check.
//
// The endpoint returns JSON: [{ "name": "...", "type": "<job type>", "config": { ... } }].
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { zodIssues } from "@ujr/core";
import { LocalJobsRunner } from "@ujr/runner-local";

export class HttpJobsRunner extends LocalJobsRunner {
  #url;
  #plugin;
  #dataDir;
  #etag;
  #current = new Map(); // name -> JSON of its definition

  /** @param {{ url: string, plugin: import("@ujr/core").Plugin, dataDir: string } & import("@ujr/runner-local").LocalJobsRunnerOptions} options */
  constructor({ url, plugin, dataDir, ...options }) {
    super({ exitWhenIdle: false, ...options });
    this.#url = url;
    this.#plugin = plugin;
    this.#dataDir = dataDir;
  }

  async fetchJobs() {
    const definitions = (await this.#poll()) ?? [];
    return Promise.all(definitions.map((definition) => this.#create(definition)));
  }

  async getChangedJobs() {
    const definitions = await this.#poll();
    if (!definitions) return undefined; // unchanged (304)
    const next = new Map(definitions.map((definition) => [definition.name, JSON.stringify(definition)]));
    const remove = [...this.#current.keys()].filter((name) => !next.has(name));
    for (const name of remove) this.#current.delete(name);
    const changed = definitions.filter((definition) => this.#current.get(definition.name) !== next.get(definition.name));
    return { remove, add: await Promise.all(changed.map((definition) => this.#create(definition))) };
  }

  async #poll() {
    const response = await fetch(this.#url, { headers: this.#etag ? { "if-none-match": this.#etag } : {} });
    if (response.status === 304) return undefined;
    if (!response.ok) throw new Error(`job registry answered ${response.status}`);
    this.#etag = response.headers.get("etag") ?? undefined;
    return response.json();
  }

  async #create(definition) {
    const jobType = this.#plugin.jobs[definition.type];
    if (!jobType) throw new Error(`job ${definition.name}: unknown job type "${definition.type}"`);
    const parsed = jobType.config.safeParse(definition.config ?? {});
    if (!parsed.success) throw new Error(`job ${definition.name}: ${zodIssues(parsed.error).map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`);
    const stateDir = join(this.#dataDir, definition.name);
    await mkdir(stateDir, { recursive: true });
    this.#current.set(definition.name, JSON.stringify(definition));
    const job = await jobType.create(parsed.data, { name: definition.name, stateDir, configDir: this.#dataDir, logger: this.logger.child({ job: definition.name }) });
    return job;
  }
}
