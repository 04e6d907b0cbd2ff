/** The demo's jobs, in the order they run. */
export const DEMO_JOBS = { collect: "collect", tidy: "tidy", summary: "summary" } as const;

/** The plugins the demo's config names, by package name: dependencies of @ujr/demo. */
export const DEMO_PLUGINS = ["@ujr/plugin-twitter-collector", "@ujr/plugin-tweet-tidier", "@ujr/plugin-dataset-summary"] as const;

/**
 * The demo's config file: the seed's pipeline against a local X API emulator. It names
 * plugins by package name, as a user's config does; they resolve from the demo folder,
 * where the demo links its own copies (see `linkPlugins`).
 */
export function demoConfig(options: { apiUrl: string; token: string }): string {
  return `# Written by \`ujr demo\`: the seed's pipeline against a local X API emulator.
# The plugins are named by package name and resolve from this folder's node_modules,
# where the demo linked the ones it depends on (as \`npm install\` would put them).
# The same pipeline against the real API: examples/twitter-pipeline/ujr.config.yaml
# in ujr's repository.
runner:
  workers: 2
  isolation: process
  dataDir: ./data
  checkInterval: 5s
jobs:
  ${DEMO_JOBS.collect}:
    plugin: "@ujr/plugin-twitter-collector"
    type: search
    config:
      query: "#brexit OR from:ObservatoryTeam OR has:links"
      baseUrl: ${options.apiUrl}
      # The emulator's token, from the environment as a real one would be (a real config
      # says \${X_BEARER_TOKEN}, with no default); the default lets \`ujr run\` rerun this file.
      bearerToken: \${UJR_DEMO_TOKEN:-${options.token}}
      mode: once
      maxResults: 50
      pagesPerTask: 5
      urlResolution:
        allowPrivateAddresses: true   # the emulator's short links are on 127.0.0.1
        onlyHosts: [127.0.0.1]        # the sample's other links point at the internet: skip them
        timeout: 2s
      archive:
        everyFiles: 5
  ${DEMO_JOBS.tidy}:
    plugin: "@ujr/plugin-tweet-tidier"
    type: tidy
    config:
      inputs: [./data/${DEMO_JOBS.collect}/raw]
      database: ./tidy.sqlite
      mode: once
      # The collector writes each page file whole (a temporary file renamed into place), so
      # a file it just wrote need not settle first (2s by default, for writers that append).
      settleTime: 0s
  ${DEMO_JOBS.summary}:
    plugin: "@ujr/plugin-dataset-summary"
    type: summary
    config:
      database: ./tidy.sqlite
      outDir: ./reports
      title: ujr demo
      schedule:
        once: true
`;
}
