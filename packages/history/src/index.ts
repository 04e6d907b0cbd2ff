export { HistoryStore, DEFAULT_RETENTION, type HistoryStoreOptions } from "./history-store.js";
export { PgHistoryStore, type PgHistoryStoreOptions } from "./pg-history-store.js";
export { recordRunnerHistory, type RecordHistoryOptions, type HistoryRecorder, type HistoryWriter } from "./record.js";
export { openRunnerHistory, historyFile, type RunnerHistory, type RunnerHistoryOptions } from "./runner-history.js";
export { historyError, historyErrorCatalogue, type HistoryErrorCode } from "./errors.js";
export { HISTORY_SCHEMA_VERSION } from "./schema.js";
export { beganAt, byNewestBegun } from "./batch-readers.js";
export * from "./types.js";
