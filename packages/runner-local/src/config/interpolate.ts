import { formatPath, registerSecret, type ConfigIssue } from "@ujr/core";

const reference = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const secretVariable = /TOKEN|SECRET|PASSWORD|PASSWD|PASS|KEY|AUTH|CREDENTIAL|DSN|WEBHOOK|_URL$/i;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a config (`$${` stays a
 * literal `${`). Values of variables whose names look secret are registered so that no
 * logger prints them. Missing variables are collected as issues with their paths.
 */
export function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === "string") {
    return value.replace(reference, (whole, name: string | undefined, fallback: string | undefined) => {
      if (name === undefined) return "${";
      const found = env[name];
      if (found !== undefined && found !== "") {
        if (secretVariable.test(name)) registerSecret(found);
        return found;
      }
      if (fallback !== undefined) return fallback;
      const where = formatPath(path);
      issues.push({
        path: where,
        code: "UJR_CONFIG_ENV_MISSING",
        message: `environment variable ${name} is not set. Set it, or give a default with \${${name}:-default}`,
      });
      return whole;
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolateEnv(item, env, issues, [...path, index]));
  if (value && typeof value === "object") {
    const result: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) result[key] = interpolateEnv(inner, env, issues, [...path, key]);
    return result;
  }
  return value;
}
