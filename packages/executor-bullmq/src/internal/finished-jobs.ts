import type { Redis } from "ioredis";

/**
 * Deletes finished BullMQ jobs whose outcome a coordinator has read, many in one call.
 * A job is only touched while it is in the completed or failed set: one that was queued
 * again meanwhile (waiting, active) is left alone. Unlike BullMQ's removeJob (per job:
 * lock, parent and dependency checks, a 'removed' event), this suits ujr's jobs, which
 * have no parents, children or repeat options; nobody waits for their 'removed' event,
 * since every coordinator waiting on a job sees its 'completed' or 'failed' event.
 *
 * KEYS: completed set, failed set, job key prefix (`<prefix>:<queue>:`). ARGV: job ids.
 */
const REMOVE_FINISHED_LUA = `
local removed = 0
for i = 1, #ARGV do
  local id = ARGV[i]
  if redis.call("ZREM", KEYS[1], id) > 0 or redis.call("ZREM", KEYS[2], id) > 0 then
    local jobKey = KEYS[3] .. id
    redis.call("DEL", jobKey, jobKey .. ":logs")
    removed = removed + 1
  end
end
return removed
`;

const COMMAND = "ujrRemoveFinished";

interface WithRemoveFinished {
  [COMMAND](completedKey: string, failedKey: string, jobKeyPrefix: string, ...jobIds: string[]): Promise<number>;
}

export interface FinishedJobKeys {
  completed: string;
  failed: string;
  /** `<prefix>:<queue>:` — a job's hash is this followed by its id. */
  jobPrefix: string;
}

/**
 * Teaches `connection` the removal command. Call it before the connection's first
 * command: with auto-pipelining, a pipeline started before the definition would lack it.
 */
export function defineRemoveFinished(connection: Redis): void {
  if (!(COMMAND in connection)) connection.defineCommand(COMMAND, { numberOfKeys: 3, lua: REMOVE_FINISHED_LUA });
}

/** Removes finished jobs by id (one call; the script is loaded once, then called by its hash). */
export function removeFinishedJobs(connection: Redis, keys: FinishedJobKeys, jobIds: string[]): Promise<number> {
  return (connection as unknown as WithRemoveFinished)[COMMAND](keys.completed, keys.failed, keys.jobPrefix, ...jobIds);
}
