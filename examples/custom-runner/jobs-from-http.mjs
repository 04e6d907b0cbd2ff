// A runner that takes its jobs from an HTTP endpoint (a job registry, a database API...)
// instead of a config file, and updates them on the fly. It overrides the two hooks the
// runner loop calls: fetchJobs() once at start, getChangedJobs() at every check.
//
// The endpoint returns JSON: [{ "name": "...", "type": "<job type>", "config": { ... } }].
// composeJobs() does what a config file gets: each config checked against its job type's
// schema (all problems at once, with paths), a state folder per job, the job's context,
// and task modules resolved from baseDir and from the plugin's own folder.
import { composeJobs, LocalJobsRunner } from "@ujr/runner-local";

export class HttpJobsRunner extends LocalJobsRunner {
  #url;
  #plugin;
  #dataDir;
  #baseDir;
  #etag;
  #current = new Map(); // name -> JSON of its definition

  /**
   * @param {{ url: string, plugin: import("@ujr/core").Plugin | string, dataDir: string, baseDir?: string } & import("@ujr/runner-local").LocalJobsRunnerOptions} options
   * `plugin`: a plugin object or its package name; `baseDir`: where it is installed (default: the working folder).
   */
  constructor({ url, plugin, dataDir, baseDir, ...options }) {
    super({ exitWhenIdle: false, ...options });
    this.#url = url;
    this.#plugin = plugin;
    this.#dataDir = dataDir;
    this.#baseDir = baseDir;
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
    const { entries } = await composeJobs(
      {
        baseDir: this.#baseDir,
        runner: { dataDir: this.#dataDir },
        jobs: { [definition.name]: { plugin: this.#plugin, type: definition.type, config: definition.config } },
        source: `job registry ${this.#url}`,
      },
      this.logger,
    );
    this.#current.set(definition.name, JSON.stringify(definition));
    return entries[0];
  }
}
