// The runner's promises (DESIGN.md, "The runner's promises"), checked on a recorded history.
import type { History, HistoryEvent } from "./harness.js";

type Of<T extends HistoryEvent["type"]> = Extract<HistoryEvent, { type: T }>;

/** Every broken promise found in the history, each as a sentence; empty when all hold. */
export function brokenPromises(history: History): string[] {
  const broken: string[] = [];
  const { events } = history;
  const submits = new Map<string, Of<"submit">>();
  for (const event of events) if (event.type === "submit") submits.set(event.runId, event);
  const names = new Map<string, string>();
  for (const event of events) if (event.type === "submit" || event.type === "started" || event.type === "terminal") names.set(event.runId, `${event.name}/${event.key}`);
  const identity = (runId: string) => names.get(runId) ?? `?${runId}`;

  // (a) two runs of one identity never overlap: in the runner's view...
  const openRuns = new Map<string, string>();
  // (a') ...started-and-unsettled runs never exceed the workers.
  const started = new Map<string, Of<"started">>();
  // (c) per job instance: tries in flight or waiting to retry; in the executor: accepted tries.
  const slots = new Map<number, number>();
  const inExecutor = new Set<string>();
  // (d) instances that ended or were removed; (f) after stop() nothing starts.
  const over = new Map<number, string>();
  let stopped = false;
  const currentInstance = new Map<string, number>();
  // (e) each run settles once, and is reported once.
  const terminals = new Map<string, number>();
  const outcomes = new Map<string, number>();
  const hooks = new Map<string, number>();
  const reportable = new Map<string, number>();
  // (b) the last ask of each instance, and hooks by instance and key in order.
  const askSeq = new Map<string, number>();
  const hookSeqs = new Map<string, number[]>();

  // When each try's code began and ended, where the recorder saw it (in this process).
  const codeSpans = new Map<string, { begin: number; end?: number }>();
  for (const event of events) {
    if (event.type === "begin") codeSpans.set(event.runId, { begin: event.at });
    if (event.type === "end") {
      const span = codeSpans.get(event.runId);
      if (span) span.end = event.at;
    }
  }

  for (const event of events) {
    switch (event.type) {
      case "added":
        currentInstance.set(event.name, event.instance);
        break;
      case "removed":
        over.set(event.instance, "removed");
        break;
      case "ending": {
        const instance = currentInstance.get(event.name);
        if (instance !== undefined) over.set(instance, `ended (${event.outcome})`);
        break;
      }
      case "stop":
        stopped = true;
        break;
      case "ask":
        askSeq.set(`${event.instance}:${event.ask}`, event.seq);
        break;
      case "hook": {
        const key = `${event.instance}:${event.key}`;
        hookSeqs.set(key, [...(hookSeqs.get(key) ?? []), event.seq]);
        hooks.set(key, (hooks.get(key) ?? 0) + 1);
        break;
      }
      case "submit": {
        if (over.has(event.instance)) broken.push(`(d) ${identity(event.runId)} try ${event.attempt} was handed over after its job ${over.get(event.instance)}`);
        if (stopped) broken.push(`(f) ${identity(event.runId)} try ${event.attempt} was handed over after stop()`);
        inExecutor.add(event.runId);
        if (inExecutor.size > history.executorSize) broken.push(`(c) ${inExecutor.size} tries in an executor of size ${history.executorSize}`);
        if (event.attempt === 1) {
          const used = (slots.get(event.instance) ?? 0) + 1;
          slots.set(event.instance, used);
          const spec = history.instances.get(event.instance)?.spec;
          const limit = spec?.maxTasksPerJob ?? history.defaultMaxTasksPerJob;
          if (used > limit) broken.push(`(c) job ${event.name} (instance ${event.instance}) had ${used} tasks in flight, more than its limit ${limit}`);
          // (b) not started from an ask that began before a run of the same identity settled.
          const asked = askSeq.get(`${event.instance}:${event.ask}`);
          const settledSince = (hookSeqs.get(`${event.instance}:${event.key}`) ?? []).find((seq) => asked !== undefined && seq > asked);
          if (settledSince !== undefined) broken.push(`(b) ${identity(event.runId)} started from ask ${event.ask}, which began before a run of it settled (#${settledSince})`);
        }
        break;
      }
      case "outcome":
        outcomes.set(event.runId, (outcomes.get(event.runId) ?? 0) + 1);
        inExecutor.delete(event.runId);
        break;
      case "started": {
        const id = identity(event.runId);
        if (openRuns.has(id)) broken.push(`(a) two runs of ${id} overlap: ${openRuns.get(id)} and ${event.runId}`);
        openRuns.set(id, event.runId);
        started.set(event.runId, event);
        let runningNow = 0;
        for (const runId of started.keys()) if (!terminals.has(runId)) runningNow++;
        if (runningNow > history.workers) broken.push(`(a') ${runningNow} runs reported started at once on ${history.workers} workers`);
        break;
      }
      case "terminal": {
        const count = (terminals.get(event.runId) ?? 0) + 1;
        terminals.set(event.runId, count);
        if (count > 1) broken.push(`(e) ${identity(event.runId)} run ${event.runId} settled ${count} times`);
        const id = identity(event.runId);
        if (openRuns.get(id) === event.runId) openRuns.delete(id);
        const start = started.get(event.runId);
        if (start) {
          started.delete(event.runId);
          // (a') a run's duration is its running time: measured from the start it reported, up
          // to its outcome, and no shorter than its code ran, whatever the wall clock did
          // meanwhile (the history's times are on a clock that does not jump; the runner's
          // durations are whole ms of the monotonic clock, the history's reads whole ms too)
          if (event.startedAt !== start.startedAt) broken.push(`(a') ${id} run ${event.runId} settled with startedAt ${event.startedAt}, started at ${start.startedAt}`);
          if (event.durationMs < 0) broken.push(`(a') ${id} run ${event.runId} reported a negative duration, ${event.durationMs} ms`);
          const fromStart = event.at - (start.startedReal ?? 0);
          if (event.durationMs > fromStart + 2) broken.push(`(a') ${id} run ${event.runId} reported ${event.durationMs} ms, longer than from its start to its outcome (${fromStart} ms)`);
          const code = codeSpans.get(event.runId);
          if (code && code.end !== undefined && event.durationMs < code.end - code.begin - 2)
            broken.push(`(a') ${id} run ${event.runId} reported ${event.durationMs} ms, shorter than its code ran (${code.end - code.begin} ms)`);
        } else if (event.durationMs !== 0 && event.kind !== "retry") {
          broken.push(`(a') ${id} run ${event.runId} never started but reported ${event.durationMs} ms`);
        }
        if (event.kind !== "retry") {
          slots.set(event.instance, (slots.get(event.instance) ?? 0) - 1);
          if (event.kind !== "cancelled") {
            const key = `${event.instance}:${event.key}`;
            reportable.set(key, (reportable.get(key) ?? 0) + 1);
          }
        }
        break;
      }
    }
  }

  // (a) in the workers' own view: a try's code never begins while another try of it runs.
  const openTries = new Map<string, string>();
  const closed = new Set<string>();
  for (const line of history.taskLog) {
    const key = identity(line.runId);
    if (line.kind === "begin") {
      const other = openTries.get(key);
      if (other !== undefined) broken.push(`(a) the code of ${key} began in ${line.runId} while ${other} still ran`);
      openTries.set(key, line.runId);
    } else {
      closed.add(line.runId);
      if (openTries.get(key) === line.runId) openTries.delete(key);
    }
  }

  // (e) every handed-over try settled exactly once, and each outcome reached its job once.
  for (const [runId, submit] of submits) {
    if ((outcomes.get(runId) ?? 0) !== 1) broken.push(`(e) the executor settled ${submit.name}/${submit.key} run ${runId} ${outcomes.get(runId) ?? 0} times`);
    if ((terminals.get(runId) ?? 0) !== 1) broken.push(`(e) the runner reported ${submit.name}/${submit.key} run ${runId} ${terminals.get(runId) ?? 0} times`);
  }
  for (const key of new Set([...hooks.keys(), ...reportable.keys()])) {
    if ((hooks.get(key) ?? 0) !== (reportable.get(key) ?? 0))
      broken.push(`(e) instance:task ${key} had ${reportable.get(key) ?? 0} outcomes for its job but the job was told ${hooks.get(key) ?? 0} times`);
  }

  // (f) the run ends within the grace (with room for a pool to take its workers down).
  if (history.stopToEndMs !== undefined && history.stopGraceMs !== undefined && history.stopToEndMs > history.stopGraceMs + 3000) {
    broken.push(`(f) the run ended ${history.stopToEndMs} ms after stop() with a grace of ${history.stopGraceMs} ms`);
  }

  // (g) how each job ended, and failedJobs, as the model says.
  const model = expectedOutcomes(history);
  const failedJobs = Object.keys(model).filter((name) => model[name] === "failed").sort();
  const got = [...history.result.failedJobs].sort();
  if (JSON.stringify(got) !== JSON.stringify(failedJobs)) broken.push(`(g) failedJobs ${JSON.stringify(got)}, the model says ${JSON.stringify(failedJobs)}`);
  for (const [name, outcome] of Object.entries(model)) {
    const reported = history.result.jobs[name]?.outcome;
    if (reported !== outcome) broken.push(`(g) job ${name} ended ${reported}, the model says ${outcome}`);
  }
  const stopEvent = events.some((event) => event.type === "stop");
  const reason = history.result.reason;
  if (stopEvent ? reason === "done" : reason !== "done") broken.push(`(g) the run's reason is ${reason} ${stopEvent ? "after" : "without"} stop()`);
  return broken;
}

/**
 * The reference model of how each job name ended: its last instance's first decisive
 * event — it threw JobFailed (failed), threw JobDone (done), or was removed (removed) —
 * or, with none, the runner stopped first (stopped).
 */
export function expectedOutcomes(history: History): Record<string, "done" | "failed" | "removed" | "stopped"> {
  const decided = new Map<number, "done" | "failed" | "removed">();
  const last = new Map<string, number>();
  for (const event of history.events) {
    if (event.type === "added") last.set(event.name, event.instance);
    if (decided.has((event as { instance?: number }).instance ?? -1)) continue;
    if (event.type === "threw") decided.set(event.instance, event.kind);
    if (event.type === "removed") decided.set(event.instance, "removed");
  }
  const model: Record<string, "done" | "failed" | "removed" | "stopped"> = {};
  for (const [name, instance] of last) model[name] = decided.get(instance) ?? "stopped";
  return model;
}
