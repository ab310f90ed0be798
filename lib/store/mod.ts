/**
 * The result store: run folders named by the job's hash, append-only metrics, atomic status
 * and checkpoint files, and a lock per store.
 *
 * @module
 */
export * from "./checkpoint.ts";
export * from "./ndjson.ts";
export * from "./store_files.ts";
